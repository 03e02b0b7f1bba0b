import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { readJournal } from '../../../src/engine/journal.js';
import type { RunResult } from '../../../src/engine/types.js';
import { CLI, edge, REPO } from '../edge-cli.js';
import { hostState } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * The command line on the shared lab: exit codes for failed and unreachable hosts, -u and
 * --private-key against the inventory's own connection variables, -v to -vvvv, a run piped into
 * `head` (an interruption, never a crash: the router is left unchanged or restored), and a
 * 40-host --check on a real terminal of 80×24 (tmux) showing the summary view listr2 drives.
 */

const PLAYBOOK = 'playbooks/failover.yaml';
type Inv = { all: { children: { lab: { vars: Record<string, unknown>; hosts: Record<string, Record<string, unknown>> } } } };

describe.skipIf(!isRoot)('the command line on lab routers', () => {
  let lab: Lab;
  let dir: string;
  let inv: Inv;
  /** Writes a variant of the lab inventory and returns its path. */
  const variant = (name: string, edit: (i: Inv) => void): string => {
    const copy = structuredClone(inv);
    edit(copy);
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify(copy));
    return file;
  };
  const labVars = () => inv.all.children.lab.vars;

  /**
   * `cmd` on a real terminal of 80×24 (tmux, CI unset: the views are for people): every screen
   * captured while it runs and the one it leaves (`history`: with what scrolled off above it), and
   * its exit code. `interact.keys`, when the screen first matches `interact.when`, are typed (tmux
   * send-keys).
   */
  async function onTerminal(cmd: string, opts: { history?: boolean; interact?: { when: RegExp; keys: string[] } } = {}): Promise<{ screens: string[]; rc: number | undefined }> {
    const { interact } = opts;
    const session = `edge-cli-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const rcFile = join(dir, `${session}.rc`);
    const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8' });
    const capture = () => tmux('capture-pane', '-pJ', ...(opts.history ? ['-S', '-200'] : []), '-t', session).stdout;
    const env = { ...process.env };
    delete env.CI;
    spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '80', '-y', '24', `cd ${REPO} && ${cmd}; echo "$?" > ${rcFile}; sleep 10`], { env });
    const screens: string[] = [];
    let typed = false;
    try {
      for (let t = 0; t < 600; t++) {
        // -J joins a line the terminal wrapped: a line over 80 columns shows as one
        const shot = capture();
        if (shot) screens.push(shot);
        if (interact && !typed && interact.when.test(shot)) {
          tmux('send-keys', '-t', session, ...interact.keys);
          typed = true;
        }
        if (spawnSync('test', ['-e', rcFile]).status === 0) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      // the screen once the command has exited (the shot above may predate its last redraw)
      screens.push(capture());
    } finally {
      tmux('kill-session', '-t', session);
    }
    const rc = spawnSync('cat', [rcFile], { encoding: 'utf8' }).stdout.trim();
    return { screens, rc: rc === '' ? undefined : Number(rc) };
  }

  /** No line of any screen is wider than the terminal. */
  const expectFits = (screens: string[]) => {
    for (const sc of screens) for (const l of sc.split('\n')) expect(l.trimEnd().length, l).toBeLessThanOrEqual(80);
  };
  /** The lab inventory with a health setting no other test uses: a run always has a change to make. */
  const changing = () =>
    variant('changing', (i) => {
      i.all.children.lab.vars.edge_health_rise = 9;
    });

  beforeAll(async () => {
    lab = await ensureLab();
    dir = mkdtempSync(join(tmpdir(), 'edge-cli-'));
    inv = parse(readFileSync(lab.inventory, 'utf8')) as Inv;
  });

  afterAll(() => {
    // Nothing to undo: every run below is a check, or was interrupted and restored.
  });

  it('exit 2 when a host fails, 4 when one is unreachable (even with a failed one), nothing changed', async () => {
    const before = await hostState(lab, 'r1');
    const broken = variant('broken', (i) => {
      i.all.children.lab.hosts.r1!.edge_lan_interface = 'nope0';
    });
    const failed = await edge(['run', PLAYBOOK, '-i', broken, '--limit', 'r1', '--check', '--tags', 'inventory-check', '--json']);
    expect(failed.code, failed.stderr).toBe(2);
    const run = JSON.parse(failed.stdout) as RunResult & { schemaVersion: number };
    expect(run.schemaVersion).toBe(1);
    expect(run.hosts[0]!.error).toContain("edge_lan_interface is nope0, which this host does not have; this host's interfaces:");
    const gone = variant('gone', (i) => {
      i.all.children.lab.hosts.r1!.edge_lan_interface = 'nope0';
      // an address on the lab's management bridge that no router has
      i.all.children.lab.hosts.r9 = { ansible_host: lab.router('r1').mgmt.address.replace(/\d+$/, '250') };
    });
    const unreachable = await edge(['run', PLAYBOOK, '-i', gone, '--check', '--limit', 'r1,r9', '--connect-timeout', '2', '--tags', 'inventory-check']);
    expect(unreachable.code, unreachable.stdout).toBe(4);
    expect(unreachable.stdout).toMatch(/^r9 +ok=0 .* unreachable {2}/m);
    expect(await hostState(lab, 'r1')).toBe(before);
  }, 60_000);

  it("-u and --private-key apply where the inventory sets no ansible_user / key; the inventory's win", async () => {
    const check = (file: string, ...extra: string[]) =>
      edge(['run', PLAYBOOK, '-i', file, '--limit', 'r1', '--check', '--tags', 'inventory-check', '--connect-timeout', '5', ...extra]);
    const key = labVars().ansible_ssh_private_key_file as string;
    const bare = variant('bare', (i) => {
      delete i.all.children.lab.vars.ansible_user;
      delete i.all.children.lab.vars.ansible_ssh_private_key_file;
    });
    const env = { HOME: dir, SSH_AUTH_SOCK: '' }; // no default keys, no agent: only what edge is given
    expect((await edge(['run', PLAYBOOK, '-i', bare, '--limit', 'r1', '--check', '--tags', 'inventory-check', '-u', 'root'], { env })).code).toBe(4);
    const ok = await edge(['run', PLAYBOOK, '-i', bare, '--limit', 'r1', '--check', '--tags', 'inventory-check', '-u', 'root', '--private-key', key], { env });
    expect(ok.code, ok.stdout).toBe(0);
    const wrongUser = await edge(['run', PLAYBOOK, '-i', bare, '--limit', 'r1', '--check', '--tags', 'inventory-check', '-u', 'nobody', '-b', '--private-key', key], { env });
    expect(wrongUser.code).toBe(4); // with become: a non-root login without it is refused before connecting (exit 5)
    expect(wrongUser.stdout).toContain('authentication failed for r1 (nobody@');
    // The lab inventory sets ansible_user root and its key: -u and --private-key give way, as in Ansible.
    expect((await check(lab.inventory, '-u', 'nobody', '--private-key', join(dir, 'no-such-key'))).code).toBe(0);
  }, 90_000);

  it('-v per exec, -vvv the scripts (secrets redacted), -vvvv SSH debug, all on stderr', async () => {
    const r = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', 'r1', '--check', '--tags', 'sysctl', '-vvvv']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^r1: exec \d+ ms, exit 0, [\d.]+ (B|KiB) sent, [\d.]+ (B|KiB) received( \([\d.]+ (B|KiB) decompressed\))?$/m);
    expect(r.stderr).toMatch(/^r1: {3}command: bash -s$/m);
    expect(r.stderr).toMatch(/^r1: {3}\| /m);
    expect(r.stderr).toMatch(/^r1: ssh: /m);
    expect(r.stdout).not.toMatch(/ssh: |exec \d+ ms/);
    const quiet = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', 'r1', '--check', '--tags', 'sysctl', '-v']);
    expect(quiet.stderr).toMatch(/^r1: exec \d+ ms/m);
    expect(quiet.stderr).not.toMatch(/\| |ssh: /);
  }, 60_000);

  /** edge's test hook on a router (host-layout.ts edge_hold): arm a pause point, wait until a script is there, release. */
  const pausePoint = (router: string, point: string) => {
    const sh = async (script: string) => (await lab.run(router, ['bash', '-c', script], { allowFail: true })).stdout.trim();
    return {
      arm: () => sh(`mkdir -p /run/edge-test && rm -f /run/edge-test/held && echo ${point} > /run/edge-test/hold`),
      reached: async () => {
        for (let t = 0; t < 1200 && (await sh('cat /run/edge-test/held 2>/dev/null')) !== point; t++) await new Promise((r) => setTimeout(r, 100));
      },
      release: () => sh('rm -f /run/edge-test/hold'),
    };
  };

  it('edge run … | head: an interruption, not a crash; exit 99, journal interrupted, router unchanged or restored', async () => {
    // From its baseline every task changes r1, so edge writes a line as each one's changes start,
    // inside the one apply exec. The reader (a `head` of our own) takes the lines up to the pause
    // point of edge's test hook and closes the pipe there: edge's next line meets the closed output
    // while r1 is being changed.
    const base = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', 'r1']);
    expect(base.code, base.stdout + base.stderr).toBe(0);
    const before = await hostState(lab, 'r1');
    const pause = pausePoint('r1', 'nftables:change-1');
    await pause.arm();
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'run', PLAYBOOK, '-i', changing(), '--limit', 'r1'], {
      cwd: REPO,
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await pause.reached();
      expect(out).toMatch(/^r1: apply — nftables$/m);
      child.stdout.destroy(); // what head does after its lines
    } finally {
      await pause.release();
    }
    expect(await exited, err).toBe(99);
    expect(err).not.toMatch(/EPIPE|internal error|Unhandled/);
    expect(err).toContain('edge: interrupted (output closed)');
    const runId = /edge run (\S+):/.exec(out)![1]!;
    const journal = (await readJournal(runId, join(REPO, '.edge', 'runs'))) as RunResult;
    expect(journal.status).toBe('interrupted');
    expect(journal.rollout?.[0]?.stop?.reason).toBe('interrupted');
    expect(['unchanged', 'rolled-back']).toContain(journal.hosts[0]?.state);
    expect(await hostState(lab, 'r1')).toBe(before);
  }, 300_000);

  it('SIGHUP mid-run is the same interruption: exit 99, journal interrupted, router unchanged or restored', async () => {
    const before = await hostState(lab, 'r2');
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'run', PLAYBOOK, '-i', changing(), '--limit', 'r2'], {
      cwd: REPO,
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Paused inside the one apply exec (edge's test hook, host-layout.ts edge_hold), the signal
    // arrives while r2 is being changed; the exec then ends and edge restores r2.
    const pause = pausePoint('r2', 'failover:change-1');
    await pause.arm();
    try {
      await pause.reached();
      child.kill('SIGHUP');
    } finally {
      await pause.release();
    }
    expect(await exited, out).toBe(99);
    expect(out).toContain('edge: interrupted (SIGHUP)');
    const runId = /edge run (\S+):/.exec(out)![1]!;
    const journal = (await readJournal(runId, join(REPO, '.edge', 'runs'))) as RunResult;
    expect(journal.status).toBe('interrupted');
    expect(journal.rollout?.[0]?.stop?.reason).toBe('interrupted');
    expect(await hostState(lab, 'r2')).toBe(before);
  }, 150_000);

  it('a 40-host --check on a terminal shows the summary bar and only active or failed hosts', async () => {
    // 40 inventory names for the 3 lab routers' addresses: a read-only --check is the same work per name.
    const many = variant('many', (i) => {
      const hosts: Record<string, Record<string, unknown>> = {};
      for (let n = 1; n <= 40; n++) hosts[`site${String(n).padStart(2, '0')}`] = { ansible_host: lab.router(`r${((n - 1) % 3) + 1}`).mgmt.address };
      i.all.children.lab.hosts = hosts;
    });
    const { screens, rc } = await onTerminal(`${process.execPath} --import tsx ${CLI} run ${PLAYBOOK} -i ${many} --check --forks 6`);
    expect(rc).toBe(0);
    const live = screens.filter((s) => /^\[[#.]+\] \d+\/40 done {2}\d+ changed {2}\d+ failed {2}\d+ left {2}ETA /m.test(s));
    expect(live.length, screens.slice(-3).join('\n----\n')).toBeGreaterThan(0);
    for (const s of live) {
      const rows = s.split('\n').filter((l) => /^[…✔✖!·-] site\d\d /.test(l));
      // only hosts in flight (at most --forks) or failed: never a row per host
      expect(rows.length).toBeLessThanOrEqual(6 + 1);
    }
    expectFits(screens);
    // when it is over the view is gone: the recap has the one line per host
    const last = screens[screens.length - 1]!;
    expect(last).not.toMatch(/^\[[#.]+\] /m);
  }, 180_000);

  it('edge status and edge pick on a terminal of 80×24: no line wider than it', async () => {
    const status = await onTerminal(`${process.execPath} --import tsx ${CLI} status -i ${lab.inventory}`, { history: true });
    expect(status.rc).toBe(0);
    const shown = status.screens[status.screens.length - 1]!;
    for (const r of ['r1', 'r2', 'r3']) expect(shown, shown).toMatch(new RegExp(`^ *${r} `, 'm'));
    expectFits(status.screens);

    // r1 without its interface variables: pick gathers it, shows its interfaces and asks for WAN1;
    // the question is answered by Ctrl-C (nothing is written).
    const bare = variant('bare', (i) => {
      for (const k of Object.keys(i.all.children.lab.vars)) if (/^edge_(wan1|wan2|lan|mgmt)_interface$/.test(k)) delete i.all.children.lab.vars[k];
    });
    const text = readFileSync(bare, 'utf8');
    const pick = await onTerminal(`${process.execPath} --import tsx ${CLI} pick -i ${bare} --limit r1`, { history: true, interact: { when: /r1: WAN1 interface/, keys: ['C-c'] } });
    for (const shown of [/^r1:$/m, /^ *INTERFACE +STATE +ADDRESSES/m, /^\s*wan1 +UP +198\.51\.100\./m, /r1: WAN1 interface/])
      expect(pick.screens.some((sc) => shown.test(sc)), `${shown}:\n${pick.screens.slice(-2).join('\n----\n')}`).toBe(true);
    expectFits(pick.screens);
    expect(readFileSync(bare, 'utf8'), 'an interrupted pick wrote the inventory').toBe(text);
  }, 180_000);
});

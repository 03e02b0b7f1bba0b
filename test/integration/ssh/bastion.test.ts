import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { HostResult, RunResult } from '../../../src/engine/types.js';
import { edge, REPO } from '../edge-cli.js';
import { managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';
import { SSHD, startSshd, stopChild, type TestSshd } from './test-sshd.js';

/**
 * Issue 21: a bastion written in the inventory, through `edge` as a team runs it. r1 names it in
 * `ansible_ssh_common_args: '-o ProxyJump=root@BASTION'`, r2 in `ansible_ssh_extra_args: '-J
 * root@BASTION'`; r3 has neither and is reached directly. r1 and r2 refuse SSH from the controller
 * (a drop rule in a table of the test's own, `inet edge_test_bastion`, never edge's `inet edge`), so
 * a run that reaches them at all went through the bastion, and each router's sshd log must name the
 * bastion's address, never the controller's.
 *
 * The bastion is a namespace of its own on the lab's management bridge (PREFIX-bastion, address .250,
 * out of the routers' .11-.40), running the host's OpenSSH sshd (the same binary the ssh connection
 * test starts) with a bastion's configuration: keys only, no shell, no TTY, forwarding only to the
 * routers' SSH ports. Not a lab router as bastion: its address would be a router's, so the sshd
 * log could not tell "through the bastion" from "a router talking to a router", and a router edge
 * manages would double as the thing that reaches the others. It costs one namespace, one veth and
 * one process, all removed at the end (the namespace and link carry the lab prefix, so `lab down`
 * sweeps them too); it is the test's, not the lab topology's, because no other test needs it.
 *
 * As with ssh -J, options on the host's line apply to the host, not to the jump host (its user is
 * the `root@` of the jump spec; its key is in ssh-agent, as a team with a bastion keeps it); edge
 * checks both hops' host keys against the same known_hosts (here a copy of the lab's plus the
 * bastion's key).
 */
const PLAYBOOK = join(REPO, 'playbooks', 'failover.yaml');
const BEHIND = ['r1', 'r2'];
const DIRECT = 'r3';
const TABLE = 'edge_test_bastion';
const TIMEOUT = 15;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });

describe.skipIf(!isRoot || !existsSync(SSHD))('hosts behind a bastion named in the inventory (issue 21)', () => {
  let lab: Lab;
  let dir: string;
  let ns: string;
  let veth: string;
  let bastion: string;
  let controller: string;
  let sshd: TestSshd | undefined;
  let agent: ChildProcess | undefined;
  let agentSock: string;
  let knownHosts: string;
  const pristine = new Map<string, string>();
  /** r1/r2 changed by a run and not yet rolled back: afterAll restores them directly. */
  let dirty = false;

  const env = () => ({ SSH_AUTH_SOCK: agentSock });
  const sh = async (router: string, script: string) => (await lab.run(router, ['bash', '-c', script], { allowFail: true })).stdout;
  /** Each router's journal position: what its sshd logs after this is the test's. */
  const cursors = async () =>
    Object.fromEntries(await Promise.all(lab.plan.routers.map(async (r) => [r.name, (/^-- cursor: (\S+)$/m.exec(await sh(r.name, 'journalctl -n 0 --show-cursor --no-pager')) ?? [])[1] ?? ''] as const)));
  /** The client address of every login sshd accepted on `router` since `cursor`. */
  const loginsFrom = async (router: string, cursor: string) =>
    [...(await sh(router, `journalctl -q --no-pager -o cat -u ssh --after-cursor='${cursor}' --grep 'Accepted publickey'`)).matchAll(/ from (\S+) port /g)].map((m) => m[1]!);

  /**
   * The lab inventory with the bastion's known_hosts, plus per-host variables (`undefined` deletes).
   * Returns the file and the text written.
   */
  const inventory = (name: string, hosts: Record<string, Record<string, unknown>>) => {
    const doc = parseDocument(readFileSync(lab.inventory, 'utf8'));
    doc.setIn(['all', 'children', 'lab', 'vars', 'edge_known_hosts_file'], knownHosts);
    for (const [h, vars] of Object.entries(hosts)) {
      for (const [k, v] of Object.entries(vars)) {
        if (v === undefined) doc.deleteIn(['all', 'children', 'lab', 'hosts', h, k]);
        else doc.setIn(['all', 'children', 'lab', 'hosts', h, k], v);
      }
    }
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, doc.toString());
    return file;
  };
  const viaBastion = (more: Record<string, Record<string, unknown>> = {}) =>
    inventory('via-bastion', {
      r1: { ansible_ssh_common_args: `-o ProxyJump=root@${bastion}`, ...more.r1 },
      r2: { ansible_ssh_extra_args: `-J root@${bastion}`, ...more.r2 },
    });
  /** line:col of `key`'s value in `file` (1-based, as edge reports it). */
  const placeOf = (file: string, key: string) => {
    const lines = readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.trimStart().startsWith(`${key}:`));
    return `${file}:${i + 1}:${lines[i]!.indexOf(`${key}:`) + key.length + 3}`;
  };
  const hostOf = (stdout: string, host: string) => (JSON.parse(stdout) as RunResult).hosts.find((h) => h.host === host) as HostResult;
  const nft = (router: string, script: string) => lab.run(router, ['nft', '-f', '-'], { input: script });
  const dropSsh = (router: string, from: string) => lab.run(router, ['nft', 'add', 'rule', 'inet', TABLE, 'input', 'ip', 'saddr', from, 'tcp', 'dport', '22', 'drop']);

  beforeAll(async () => {
    lab = await ensureLab(3);
    const prefix = lab.plan.prefix;
    ns = `${prefix}-bastion`;
    veth = `${prefix}-bastion`;
    controller = lab.plan.hostMgmt;
    bastion = lab.plan.mgmtSubnet.replace(/\.0\/24$/, '.250');
    dir = mkdtempSync(join(tmpdir(), 'edge-bastion-'));

    // Start from the state before edge (an earlier test file may have left them applied), directly.
    const base = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', [...BEHIND, DIRECT].join(',')]);
    expect(base.code, base.stdout + base.stderr).toBe(0);

    // The bastion: a namespace on the management bridge with a forwarding-only sshd.
    for (const del of [() => ip('link', 'del', veth), () => ip('netns', 'del', ns)]) {
      try {
        del(); // a leftover of an interrupted run
      } catch {}
    }
    ip('netns', 'add', ns);
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('link', 'set', veth, 'master', lab.plan.bridge, 'up');
    ip('-n', ns, 'addr', 'add', `${bastion}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    // `ip netns exec` execs sshd: the child's PID is sshd's.
    sshd = await startSshd({
      dir,
      host: bastion,
      port: 22,
      authorizedKeys: readFileSync(`${lab.paths.key}.pub`, 'utf8'),
      keyComment: 'edge-test-bastion',
      wrap: ['ip', 'netns', 'exec', ns],
      config: [
        `ListenAddress ${bastion}`,
        'Port 22',
        'PidFile none',
        // A jump host: forwarding to the routers' SSH and nothing else, no shell.
        'AllowTcpForwarding local',
        `PermitOpen ${lab.plan.routers.map((r) => `${r.mgmt.address}:22`).join(' ')}`,
        'PermitTTY no',
        'X11Forwarding no',
        'ForceCommand /bin/false',
        'LogLevel VERBOSE',
      ],
    });

    // The bastion's key, in ssh-agent (ssh -J gives the jump host no -i).
    agentSock = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(agentSock); i++) await sleep(100);
    execFileSync('ssh-add', ['-q', lab.paths.key], { env: { ...process.env, SSH_AUTH_SOCK: agentSock }, stdio: 'pipe' });

    knownHosts = join(dir, 'known_hosts');
    const bastionKey = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
    writeFileSync(knownHosts, `${readFileSync(lab.paths.knownHosts, 'utf8')}${bastion} ${bastionKey}\n`, { mode: 0o600 });

    // r1 and r2: SSH from the controller dropped; from the bastion (or anywhere else) accepted.
    for (const r of BEHIND) {
      await nft(r, `table inet ${TABLE}\ndelete table inet ${TABLE}\ntable inet ${TABLE} {\n  chain input {\n    type filter hook input priority filter - 10; policy accept;\n    ip saddr ${controller} tcp dport 22 drop\n  }\n}\n`);
    }
    // Taken with the test's table in place: what a rollback must come back to.
    for (const r of [...BEHIND, DIRECT]) pristine.set(r, await managedFingerprint(lab, r));
  }, 900_000);

  afterAll(async () => {
    try {
      if (lab) for (const r of BEHIND) await lab.run(r, ['nft', 'delete', 'table', 'inet', TABLE], { allowFail: true });
      if (lab && dirty) await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', BEHIND.join(',')]);
    } finally {
      await stopChild(sshd?.child);
      await stopChild(agent);
      for (const del of [() => ip('link', 'del', veth), () => ip('netns', 'del', ns)]) {
        try {
          del();
        } catch {}
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);

  it('common_args ProxyJump and extra_args -J: check, apply, status and rollback all go through the bastion', async () => {
    const inv = viaBastion();
    const from = await cursors();
    const bastionLog = sshd!.log().length;

    // One run over a mixed fleet: r1 and r2 through the bastion, r3 directly.
    const check = await edge(['run', PLAYBOOK, '-i', inv, '--check', '--json'], { env: env() });
    expect(check.code, check.stderr).toBe(0);
    for (const r of [...BEHIND, DIRECT]) expect(hostOf(check.stdout, r).status, r).toBe('changed');

    dirty = true;
    const apply = await edge(['run', PLAYBOOK, '-i', inv, '--limit', BEHIND.join(','), '--confirm-timeout', String(TIMEOUT), '--json'], { env: env() });
    expect(apply.code, apply.stderr).toBe(0);
    // Confirmed: the dead-man timer was disarmed over a new connection, which also went through the bastion.
    for (const r of BEHIND) expect(hostOf(apply.stdout, r).state, r).toBe('confirmed');

    const status = await edge(['status', '-i', inv, '--limit', BEHIND.join(','), '--json'], { env: env() });
    expect(status.code, status.stdout + status.stderr).not.toBe(4);
    // Reached, and what it read there is what the run applied.
    expect((JSON.parse(status.stdout) as { summary: { routers: number; unreachable: number; drifted: number } }).summary).toMatchObject({ routers: 2, unreachable: 0, drifted: 0 });

    const runId = (JSON.parse(apply.stdout) as RunResult).runId;
    const rb = await edge(['rollback', runId, '-i', inv, '--limit', BEHIND.join(',')], { env: env() });
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    for (const r of BEHIND) {
      expect(rb.stdout).toContain(`${r}: rolled-back`);
      expect(await managedFingerprint(lab, r), r).toBe(pristine.get(r));
    }
    dirty = false;

    // Every login on r1 and r2 came from the bastion; r3's from the controller (it has no bastion).
    for (const r of BEHIND) {
      const logins = await loginsFrom(r, from[r]!);
      // check, apply (connection and confirm), status, rollback: at least 5 logins, every one the bastion's
      expect(logins.length, r).toBeGreaterThanOrEqual(5);
      expect(new Set(logins), r).toEqual(new Set([bastion]));
    }
    expect(new Set(await loginsFrom(DIRECT, from[DIRECT]!))).toEqual(new Set([controller]));
    // And the bastion saw the controller log in (as root, with the agent's key).
    expect(sshd!.log().slice(bastionLog)).toMatch(new RegExp(`Accepted publickey for root from ${controller.replaceAll('.', '\\.')} port`));
  }, 900_000);

  it('without the bastion, a router behind it is unreachable; a bastion that cannot reach it fails within the connect timeout', async () => {
    const from = await cursors();
    const direct = inventory('direct', {});
    const r = await edge(['run', PLAYBOOK, '-i', direct, '--limit', 'r1', '--check', '--connect-timeout', '3', '--json'], { env: env() });
    expect(r.code, r.stderr).toBe(4);
    expect(hostOf(r.stdout, 'r1')).toMatchObject({ status: 'unreachable', execs: 0 });
    expect(hostOf(r.stdout, 'r1').error).toContain('connection to r1 (root@');
    expect(hostOf(r.stdout, 'r1').error).toContain('timed out after 3000 ms');

    // r2 drops the bastion too: the bastion's connect hangs (its kernel would retry for two
    // minutes); edge gives up after the connect timeout, as ssh's ConnectTimeout covers the jump.
    await dropSsh('r2', bastion);
    try {
      const t = await edge(['run', PLAYBOOK, '-i', viaBastion(), '--limit', 'r2', '--check', '--connect-timeout', '3', '--json'], { env: env() });
      expect(t.code, t.stderr).toBe(4);
      const h = hostOf(t.stdout, 'r2');
      expect(h.status).toBe('unreachable');
      expect(h.error).toBe(`cannot reach ${lab.router('r2').mgmt.address}:22 through jump host ${bastion}: timed out after 3000 ms (the jump host opened no connection to it)`);
      // Far from the two minutes the bastion's kernel would take (the margin is for a loaded machine).
      expect(h.durationMs).toBeLessThan(30_000);
    } finally {
      await nft('r2', `flush chain inet ${TABLE} input\nadd rule inet ${TABLE} input ip saddr ${controller} tcp dport 22 drop\n`);
    }

    // A bastion whose host key is not known is refused, named as r1's jump host; r1 is never reached.
    const unknownKey = join(dir, 'known_hosts-without-bastion');
    writeFileSync(unknownKey, readFileSync(lab.paths.knownHosts), { mode: 0o600 });
    const doc = parseDocument(readFileSync(viaBastion(), 'utf8'));
    doc.setIn(['all', 'children', 'lab', 'vars', 'edge_known_hosts_file'], unknownKey);
    const noKeyInv = join(dir, 'bastion-key-unknown.yaml');
    writeFileSync(noKeyInv, doc.toString());
    const k = await edge(['run', PLAYBOOK, '-i', noKeyInv, '--limit', 'r1', '--check', '--json'], { env: env() });
    expect(k.code, k.stderr).toBe(4);
    expect(hostOf(k.stdout, 'r1').error).toMatch(new RegExp(`^cannot reach ${lab.router('r1').mgmt.address.replaceAll('.', '\\.')}:22 through jump host ${bastion.replaceAll('.', '\\.')}: host key of ${bastion.replaceAll('.', '\\.')} \\(${bastion.replaceAll('.', '\\.')}:22\\) is not known`));

    expect(await loginsFrom('r1', from.r1!)).toEqual([]);
    expect(await loginsFrom('r2', from.r2!)).toEqual([]);
  }, 300_000);

  it('an option edge cannot honour is refused at load, at file:line:col, and no host is touched', async () => {
    const from = await cursors();
    const bastionLog = sshd!.log().length;
    const inv = viaBastion({
      r1: { ansible_ssh_common_args: `-o ProxyCommand="ssh -W %h:%p root@${bastion}"` },
      r2: { ansible_ssh_extra_args: `-J root@${bastion} -o LocalForward="8080 127.0.0.1:80"` },
    });
    for (const args of [['run', PLAYBOOK, '-i', inv], ['status', '-i', inv]]) {
      const r = await edge(args, { env: env() });
      expect(r.code, r.stdout + r.stderr).toBe(5);
      expect(r.stderr).toContain(`${placeOf(inv, 'ansible_ssh_common_args')}: all.children.lab.hosts.r1.ansible_ssh_common_args: ProxyCommand is not supported: use ProxyJump`);
      expect(r.stderr).toContain(`${placeOf(inv, 'ansible_ssh_extra_args')}: all.children.lab.hosts.r2.ansible_ssh_extra_args: LocalForward is an ssh option edge cannot honour`);
    }
    // Nothing connected anywhere: no login on any router, none on the bastion; nothing changed.
    for (const r of [...BEHIND, DIRECT]) {
      expect(await loginsFrom(r, from[r]!), r).toEqual([]);
      expect(await managedFingerprint(lab, r), r).toBe(pristine.get(r));
    }
    expect(sshd!.log().slice(bastionLog)).not.toContain('Accepted');
  }, 300_000);
});

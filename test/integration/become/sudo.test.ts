import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument, type YAMLMap } from 'yaml';
import type { HostResult, RunResult } from '../../../src/engine/types.js';
import { edge, edgeLive, REPO } from '../edge-cli.js';
import { managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * Issue 21: a fleet that logs in as a named user and becomes root with sudo, on a real lab router
 * (r3 of the shared lab): the password from the inventory, from -K, and a NOPASSWD rule; apply,
 * check, rollback, a reboot in the middle of an apply, and the lockout preflight, which must see the
 * operator's session through sudo (env_reset drops SSH_CONNECTION). The password must never show in
 * edge's output, -vvv or the journal.
 *
 * The lab image has no sudo (a router installer's minimal system): the Debian package the host's apt
 * fetches (`apt-get download sudo`, the lab's own release) is installed on r3 for the test, with a
 * user `ops` that has the lab's key, and both are removed at the end.
 */
const ROUTER = 'r3';
const USER = 'ops';
const PASSWORD = 'Edge-21 sudo pw';
const TIMEOUT = 15;
const PLAYBOOK = join(REPO, 'playbooks', 'failover.yaml');
const DEB_CACHE = '/var/cache/edge-lab/debs';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sudo .deb of the host's release (the lab routers' release), fetched once. */
function sudoDeb(): string {
  mkdirSync(DEB_CACHE, { recursive: true });
  const have = () => readdirSync(DEB_CACHE).find((f) => /^sudo_.*\.deb$/.test(f));
  if (!have()) execFileSync('apt-get', ['download', 'sudo'], { cwd: DEB_CACHE, stdio: 'ignore' });
  return join(DEB_CACHE, have()!);
}

describe.skipIf(!isRoot)('become with sudo through a non-root login (issue 21)', () => {
  let lab: Lab;
  let dir: string;
  let pristine: string;
  const sh = async (script: string) => (await lab.run(ROUTER, ['bash', '-c', script], { allowFail: true })).stdout.trim();
  const sudoers = (rule: string) => sh(`printf '%s\\n' ${JSON.stringify(rule)} > /etc/sudoers.d/edge-test && chmod 0440 /etc/sudoers.d/edge-test`);

  /** The lab inventory with r3 reached as `ops`, plus r3 variables `vars` (and nothing else changed). */
  const inventory = (name: string, vars: Record<string, unknown>, labVars: Record<string, unknown> = {}) => {
    const doc = parseDocument(readFileSync(lab.inventory, 'utf8'));
    doc.setIn(['all', 'children', 'lab', 'hosts', ROUTER], { ...(doc.getIn(['all', 'children', 'lab', 'hosts', ROUTER]) as YAMLMap).toJSON(), ansible_user: USER, ...vars });
    for (const [k, v] of Object.entries(labVars)) {
      if (v === undefined) doc.deleteIn(['all', 'children', 'lab', 'vars', k]);
      else doc.setIn(['all', 'children', 'lab', 'vars', k], v);
    }
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, doc.toString());
    return file;
  };
  const runArgs = (inv: string, ...more: string[]) => ['run', PLAYBOOK, '-i', inv, '--limit', ROUTER, '--confirm-timeout', String(TIMEOUT), ...more];
  const hostOf = (stdout: string) => (JSON.parse(stdout) as RunResult).hosts.find((h) => h.host === ROUTER) as HostResult;
  const journalOf = (runId: string) => readFileSync(join(REPO, '.edge', 'runs', `${runId}.jsonl`), 'utf8');
  /** Back to where the test began, by edge's own rollback (as root: the lab inventory). */
  const reset = async () => {
    const r = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', ROUTER]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await managedFingerprint(lab, ROUTER)).toBe(pristine);
  };

  beforeAll(async () => {
    lab = await ensureLab(3);
    dir = mkdtempSync(join(tmpdir(), 'edge-sudo-'));
    // Start from the state before edge (an earlier test file may have left r3 applied).
    await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', ROUTER]);
    const deb = readFileSync(sudoDeb()).toString('base64');
    await lab.run(ROUTER, ['bash', '-c', 'base64 -d > /tmp/sudo.deb && dpkg -i /tmp/sudo.deb >/dev/null && rm /tmp/sudo.deb'], { input: deb, timeoutMs: 120_000 });
    const pub = readFileSync(`${lab.paths.key}.pub`, 'utf8').trim();
    await lab.run(ROUTER, ['bash', '-c', [
      `id ${USER} >/dev/null 2>&1 || useradd -m -s /bin/bash ${USER}`,
      `printf '%s:%s\\n' ${USER} ${JSON.stringify(PASSWORD)} | chpasswd`,
      `install -d -m 0700 -o ${USER} -g ${USER} /home/${USER}/.ssh`,
      `printf '%s\\n' ${JSON.stringify(pub)} > /home/${USER}/.ssh/authorized_keys`,
      `chown ${USER}: /home/${USER}/.ssh/authorized_keys`,
    ].join(' && ')]);
    await sudoers(`${USER} ALL=(ALL:ALL) ALL`);
    pristine = await managedFingerprint(lab, ROUTER);
  }, 600_000);

  afterAll(async () => {
    await lab.run(ROUTER, ['bash', '-c', `rm -f /run/edge-test/hold; userdel -r ${USER} 2>/dev/null; dpkg --purge sudo >/dev/null 2>&1; rm -f /etc/sudoers.d/edge-test; true`], { allowFail: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('password from the inventory: check, apply, -vvv and the journal never show it, rollback restores', async () => {
    const inv = inventory('pw-in-inventory', { ansible_become: true, ansible_become_password: PASSWORD });
    const check = await edge([...runArgs(inv, '--check', '--json')]);
    expect(check.code, check.stderr).toBe(0);
    expect(hostOf(check.stdout).status).toBe('changed');
    expect(await managedFingerprint(lab, ROUTER)).toBe(pristine);

    const apply = await edge([...runArgs(inv, '--json', '-vvv')]);
    expect(apply.code, apply.stderr).toBe(0);
    const h = hostOf(apply.stdout);
    expect(h.state).toBe('confirmed');
    // Every exec went through sudo as ops (sudo logs each to the router's journal).
    expect(Number(await sh(`journalctl -q --no-pager -t sudo | grep -c '${USER} : .*USER=root'`))).toBeGreaterThanOrEqual(h.execs);
    const runId = (JSON.parse(apply.stdout) as RunResult).runId;
    for (const text of [apply.stdout, apply.stderr, journalOf(runId)]) expect(text).not.toContain(PASSWORD);

    const rb = await edge(['rollback', runId, '-i', inv, '--limit', ROUTER]);
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    expect(rb.stdout).toContain(`${ROUTER}: rolled-back`);
    expect(await managedFingerprint(lab, ROUTER)).toBe(pristine);
  }, 300_000);

  it('password from -K (the inventory has none), and a wrong one is refused without showing it', async () => {
    const inv = inventory('pw-from-K', { ansible_become: true });
    const bad = await edge([...runArgs(inv, '--check', '-K')], { input: 'not-the-password\n' });
    expect(bad.code).toBe(2); // the host failed; nothing was changed (a check run)
    expect(bad.stdout + bad.stderr).toContain(`sudo on ${ROUTER} rejected the become password for user ${USER}`);
    try {
      const r = await edge([...runArgs(inv, '--json', '-K')], { input: `${PASSWORD}\n` });
      expect(r.code, r.stderr).toBe(0);
      expect(hostOf(r.stdout).state).toBe('confirmed');
      expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    } finally {
      await reset();
    }
  }, 300_000);

  it('NOPASSWD: no password anywhere; a login without become is refused before anything is touched', async () => {
    await sudoers(`${USER} ALL=(ALL:ALL) NOPASSWD: ALL`);
    try {
      const before = await managedFingerprint(lab, ROUTER);
      const off = await edge(runArgs(inventory('no-become', {}), '--json'));
      expect(off.code).toBe(5);
      expect(off.stderr).toContain('logs in as ops, not root, and become is off: every edge task needs root');
      expect(await managedFingerprint(lab, ROUTER)).toBe(before);
      const r = await edge([...runArgs(inventory('no-become', {}), '--json', '-b')]);
      expect(r.code, r.stderr).toBe(0);
      expect(hostOf(r.stdout).state).toBe('confirmed');
    } finally {
      await sudoers(`${USER} ALL=(ALL:ALL) ALL`);
      await reset();
    }
  }, 300_000);

  it('the lockout preflight sees the operator\'s session through sudo and refuses a ruleset that cuts it', async () => {
    // No management interface and no management subnets: the firewall would refuse new SSH from the controller.
    const inv = inventory('cut-off', { ansible_become: true, ansible_become_password: PASSWORD }, { edge_mgmt_interface: undefined, edge_mgmt_subnets: [] });
    const r = await edge(runArgs(inv, '--json'));
    expect(r.code, r.stderr).toBe(2);
    const h = hostOf(r.stdout);
    // The session edge named is the controller's, as sshd saw it: proof that it was read through sudo.
    expect(h.error).toMatch(new RegExp(`lockout preflight: table inet edge, chain input, rule "[^"]+" would refuse new SSH connections like edge's own \\(198\\.18\\.${lab.instance}\\.1 to `));
    expect(await managedFingerprint(lab, ROUTER)).toBe(pristine);
  }, 300_000);

  it('a reboot in the middle of an apply through sudo: the router restores itself, edge reports it', async () => {
    const inv = inventory('reboot', { ansible_become: true, ansible_become_password: PASSWORD });
    const point = 'tables:change-2';
    await sh(`mkdir -p /run/edge-test && rm -f /run/edge-test/held && echo ${point} > /run/edge-test/hold`);
    const live = edgeLive([...runArgs(inv, '--json')]);
    await live.waitFor(/edge run (\S+):/);
    let held = false;
    for (let i = 0; i < 600 && !held; i++) {
      held = (await sh('cat /run/edge-test/held 2>/dev/null')) === point;
      if (!held) await sleep(200);
    }
    expect(held).toBe(true);
    await lab.reboot(ROUTER);
    const res = await Promise.race([live.done, sleep((TIMEOUT + 210) * 1000).then(() => live.child.kill('SIGKILL')).then(() => live.done)]);
    expect(res.code, res.all).toBe(2);
    const h = hostOf(res.stdout);
    expect(h.state, res.all).toBe('rolled-back');
    expect(h.rollback).toContain('rebooted before the run was confirmed and restored the pre-run snapshot at boot');
    expect(await managedFingerprint(lab, ROUTER)).toBe(pristine);
  }, 400_000);
});

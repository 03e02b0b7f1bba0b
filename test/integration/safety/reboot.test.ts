import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deadlineUnderLease, execLeaseSeconds } from '../../../src/engine/deadman.js';
import type { HostResult, RunResult } from '../../../src/engine/types.js';
import { labPaths, readState } from '../../../src/lab/state.js';
import { edge, edgeLive, REPO } from '../edge-cli.js';
import { managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, labDown, type Lab } from '../lab-fixture.js';

/**
 * Issue 9 on real routers (isolated lab instance 3): a reboot — graceful on r1, a power cut on r2
 * (the container killed, nothing shut down) — at 5 points of a first apply (one per kind of state:
 * nothing changed, files half written, files all written but units not started, applied but not
 * confirmed) and 2 points of a restore. The points are chosen with edge's test hook: a script
 * reaching `edge_hold NAME` waits while /run/edge-test/hold names NAME (host-layout.ts); the test
 * reboots the router while it waits. /run is a tmpfs, so the hold is gone after the reboot and cannot leak into the next run.
 * After each: the router's fingerprint (files and dirs with owner/mode/content, nftables, ip rules,
 * routes of all tables, sysctls, unit states) equals the pre-run one, `edge runs` says what the
 * host did, a following run converges and the one after changes nothing; the baseline restore puts
 * the router back for the next point. Then: two runs at once, a --resume of a live run, and the
 * rollback history (chain, no-op, pruned run, baseline).
 */
const INSTANCE = 3;
const TIMEOUT = 20; // --confirm-timeout
const PLAYBOOK = join(REPO, 'playbooks', 'failover.yaml');
const ROUTERS = [
  { name: 'r1', hard: false },
  { name: 'r2', hard: true },
] as const;

/** Pause points of a first apply, all inside its one apply exec (task:point of task-script.ts), and confirm (deadman.ts). */
const APPLY_POINTS = [
  'sysctl:snapshot', // snapshot saved, nothing changed yet
  'sysctl:change-1', // the run is pending, the boot hook in place
  'persistence:done', // edge's unit files written, not started (units start once, after every task's files)
  'failover:done', // every task's files and runtime state applied; units, verify and "applied" still to come
  'confirm', // applied and verified; the confirm not yet committed
];/** Pause points of a restore (restore.sh's steps): files put back but units not; all but dirs and the hook. */
const RESTORE_POINTS = ['restore-3', 'restore-5'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => Math.round(ms / 100) / 10;
const measured: string[] = [];

describe.skipIf(!isRoot)('a change survives a reboot, a power cut or a second operator (issue 9)', () => {
  let lab: Lab;
  let dir: string;
  const pristine: Record<string, string> = {};
  const sh = async (router: string, script: string) => (await lab.run(router, ['bash', '-c', script], { allowFail: true })).stdout.trim();
  const host = (r: RunResult, name: string) => r.hosts.find((h) => h.host === name) as HostResult;
  const runArgs = (router: string, ...more: string[]) => ['run', PLAYBOOK, '-i', lab.inventory, '--limit', router, '--confirm-timeout', String(TIMEOUT), ...more];
  const runsOf = async (router: string) => {
    const r = await edge(['runs', '-i', lab.inventory, '--limit', router, '--json']);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { runs: { runId: string; status?: string; hosts: Record<string, string>; details: Record<string, string> }[] }).runs;
  };
  const hostRunState = async (router: string, runId: string) => (await runsOf(router)).find((r) => r.runId === runId)?.hosts[router];

  /** Arms the pause point, then waits until a script of edge's has reached it. */
  const hold = (router: string, point: string) => sh(router, `mkdir -p /run/edge-test && rm -f /run/edge-test/held && echo ${point} > /run/edge-test/hold`);
  const held = async (router: string, point: string, exited: Promise<unknown>) => {
    let gone = false;
    void exited.then(() => (gone = true));
    for (let i = 0; i < 300; i++) {
      if ((await sh(router, 'cat /run/edge-test/held 2>/dev/null')) === point) return;
      if (gone) throw new Error(`edge exited before ${router} reached ${point}`);
      await sleep(200);
    }
    throw new Error(`${router} never reached ${point}`);
  };
  const release = (router: string) => sh(router, 'rm -f /run/edge-test/hold');

  /** Converges, then proves the next run changes nothing, then returns the router to its baseline. */
  const convergeAndReset = async (router: string) => {
    const a = await edge([...runArgs(router), '--json']);
    expect(a.code, a.stderr).toBe(0);
    expect(host(JSON.parse(a.stdout) as RunResult, router).state).toBe('confirmed');
    const b = await edge([...runArgs(router), '--json', '--detailed-exitcode']);
    expect(b.code, b.stderr).toBe(0);
    expect(host(JSON.parse(b.stdout) as RunResult, router).status).toBe('ok');
    const c = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', router]);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    expect(c.stdout).toContain(`${router}: rolled-back — restored the state from before edge first changed this host`);
    expect(await managedFingerprint(lab, router)).toBe(pristine[router]);
  };

  /** One router: hold a first apply at `point`, reboot it there, check what it and edge say. */
  const rebootDuringApply = async (router: string, hard: boolean, point: string) => {
    await hold(router, point);
    const live = edgeLive([...runArgs(router), '--json']);
    const [, runId] = await live.waitFor(/edge run (\S+):/);
    await held(router, point, live.done);
    const t0 = Date.now();
    await lab.reboot(router, { hard });
    const tUp = Date.now();
    // The documented bound after a lost exec: its lease (default command timeout) + margin + confirm timeout, + 60 s.
    const bound = (deadlineUnderLease(TIMEOUT, execLeaseSeconds(600_000)) + 60 + 30) * 1000;
    const res = await Promise.race([live.done, sleep(bound).then(() => live.child.kill('SIGKILL')).then(() => live.done)]);
    const tExit = Date.now();
    expect(res.code, res.all).toBe(2); // the host failed
    const h = host(JSON.parse(res.stdout) as RunResult, router);
    const before = point === 'sysctl:snapshot';
    expect(h.state, res.all).toBe(before ? 'unchanged' : 'rolled-back');
    expect(h.rollback).toContain(before ? 'rebooted before the run changed anything' : 'rebooted before the run was confirmed and restored the pre-run snapshot at boot');
    expect(await managedFingerprint(lab, router)).toBe(pristine[router]);
    expect(await hostRunState(router, runId!)).toBe(before ? 'not-started' : 'restored-at-boot');
    measured.push(`${hard ? 'power cut' : 'reboot  '} ${router} at ${point.padEnd(20)} router back ${secs(tUp - t0)} s, edge reported "${h.state}" ${secs(tExit - tUp)} s later`);
    await convergeAndReset(router);
  };

  beforeAll(async () => {
    if (readState(labPaths(INSTANCE))) await labDown({ instance: INSTANCE });
    lab = await ensureLab(2, { instance: INSTANCE });
    dir = mkdtempSync(join(tmpdir(), 'edge-reboot-'));
    for (const r of ROUTERS) pristine[r.name] = await managedFingerprint(lab, r.name);
  });

  /**
   * Every case starts where the one before should have left it: both routers up (a case that failed
   * mid-reboot may have left one down), no pause point armed, each at its baseline. One failure
   * then stays one failure.
   */
  beforeEach(async () => {
    lab = await ensureLab(2, { instance: INSTANCE });
    for (const r of ROUTERS) {
      await release(r.name);
      if ((await managedFingerprint(lab, r.name)) === pristine[r.name]) continue;
      const c = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', r.name]);
      expect(c.code, c.stdout + c.stderr).toBe(0);
    }
  }, 300_000);

  afterAll(async () => {
    if (measured.length) console.info(`issue 9 measurements:\n  ${measured.join('\n  ')}`);
    await labDown({ instance: INSTANCE });
  });

  for (const point of APPLY_POINTS) {
    it(`reboot (r1) and power cut (r2) at ${point} of a first apply: back exactly as before`, async () => {
      await Promise.all(ROUTERS.map((r) => rebootDuringApply(r.name, r.hard, point)));
    }, 300_000);
  }

  for (const point of RESTORE_POINTS) {
    it(`reboot (r1) and power cut (r2) at ${point} of a rollback: the restore finishes at boot`, async () => {
      await Promise.all(
        ROUTERS.map(async ({ name, hard }) => {
          const a = await edge([...runArgs(name), '--json']);
          expect(a.code, a.stderr).toBe(0);
          const runId = (JSON.parse(a.stdout) as RunResult).runId;
          await hold(name, point);
          const live = edgeLive(['rollback', runId, '-i', lab.inventory, '--limit', name]);
          await held(name, point, live.done);
          const t0 = Date.now();
          await lab.reboot(name, { hard });
          const res = await live.done;
          // The rollback's session died with the router: edge waited for it and reports what the router did (issue 20).
          expect(res.code, res.all).toBe(0);
          expect(res.stdout).toContain(`${name}: restored-at-boot — the host rebooted during the rollback and finished restoring the state from before run ${runId} at boot`);
          expect(await managedFingerprint(lab, name)).toBe(pristine[name]);
          expect(await hostRunState(name, runId)).toBe('restored-at-boot');
          measured.push(`${hard ? 'power cut' : 'reboot  '} ${name} at ${point} of a rollback: restored at boot, router back ${secs(Date.now() - t0)} s`);
          const again = await edge(['rollback', runId, '-i', lab.inventory, '--limit', name]);
          expect(again.code, again.stdout).toBe(0);
          expect(again.stdout).toContain(`${name}: already-rolled-back — run ${runId} is already rolled back (by boot`);
          expect(await managedFingerprint(lab, name)).toBe(pristine[name]);
        }),
      );
    }, 300_000);
  }

  it('two runs at once: one is refused at once, naming the holder; the router ends with the other', async () => {
    const pb = join(dir, 'interval.yaml');
    writeFileSync(pb, readFileSync(PLAYBOOK, 'utf8').replace(/^(\s+)hosts: all$/m, '$1hosts: all\n$1vars:\n$1  edge_health_interval: 0.3'));
    const first = edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', 'r1', '--json', '--confirm-timeout', String(TIMEOUT)]);
    await sleep(300);
    const second = edge(['run', pb, '-i', lab.inventory, '--limit', 'r1', '--json', '--confirm-timeout', String(TIMEOUT)]);
    const results = await Promise.all([first, second]);
    const runs = results.map((r) => JSON.parse(r.stdout) as RunResult);
    const ok = runs.filter((r) => host(r, 'r1').state === 'confirmed');
    const refused = runs.filter((r) => host(r, 'r1').status === 'failed');
    expect(ok.length, results.map((r) => r.stderr).join('\n')).toBe(1);
    expect(refused.length).toBe(1);
    const h = host(refused[0]!, 'r1');
    expect(h.state).toBe('unchanged');
    expect(h.execs).toBe(1);
    expect(h.error).toMatch(new RegExp(`the host is locked by run ${ok[0]!.runId} \\(run\\) of \\S+ on \\S+, since \\d{4}-\\d\\d-\\d\\dT`));
    const interval = await sh('r1', 'grep ^PROBE_INTERVAL= /etc/edge/failover.conf');
    if (ok[0] === runs[1]) expect(interval).toBe('PROBE_INTERVAL=0.3');
    else expect(interval).not.toBe('PROBE_INTERVAL=0.3');
    // Deterministic too: while a run holds the host, a second run and a rollback are refused.
    const pb4 = join(dir, 'interval4.yaml');
    writeFileSync(pb4, readFileSync(pb, 'utf8').replace('edge_health_interval: 0.3', 'edge_health_interval: 0.35'));
    await hold('r1', 'lock:run'); // just after the run took the host's lock
    const live = edgeLive(['run', pb4, '-i', lab.inventory, '--limit', 'r1', '--json', '--confirm-timeout', String(TIMEOUT)]);
    const [, runId] = await live.waitFor(/edge run (\S+):/);
    await held('r1', 'lock:run', live.done);
    const other = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', 'r1', '--json']);
    expect(other.code).toBe(2);
    expect(host(JSON.parse(other.stdout) as RunResult, 'r1').error).toContain(`the host is locked by run ${runId} (run)`);
    const rb = await edge(['rollback', ok[0]!.runId, '-i', lab.inventory, '--limit', 'r1']);
    expect(rb.code).toBe(2);
    expect(rb.stdout).toContain(`r1: locked — the host is locked by run ${runId} (run)`);
    // A --resume of the run that is still going: refused before any host is touched.
    const resume = await edge(['run', pb4, '-i', lab.inventory, '--resume', runId!]);
    expect(resume.code).toBe(1);
    expect(resume.stderr).toContain(`run ${runId} is still going (pid ${live.child.pid}`);
    await release('r1');
    const done = await live.done;
    expect(done.code, done.all).toBe(0);
    expect(host(JSON.parse(done.stdout) as RunResult, 'r1').state).toBe('confirmed');
    expect(await hostRunState('r1', runId!)).toBe('confirmed');
    expect(await hostRunState('r1', ok[0]!.runId)).toBe('superseded');
  }, 180_000);

  it('a lock left by a dead controller or by a reboot is stale: the next run takes the host over', async () => {
    const lockOf = (router: string) => sh(router, "sed -n 's/^run=//p' /var/lib/edge/lock");
    const takeOver = async (router: string, leave: (live: ReturnType<typeof edgeLive>) => Promise<void>) => {
      await hold(router, 'lock:run');
      const live = edgeLive(['run', PLAYBOOK, '-i', lab.inventory, '--limit', router, '--json', '--confirm-timeout', String(TIMEOUT)]);
      const [, dead] = await live.waitFor(/edge run (\S+):/);
      await held(router, 'lock:run', live.done);
      await leave(live);
      await live.done;
      await release(router);
      expect(await lockOf(router)).toBe(dead); // still on the router: it is its staleness that frees it
      const next = await edge([...runArgs(router), '--json']);
      expect(next.code, next.stderr).toBe(0);
      expect(host(JSON.parse(next.stdout) as RunResult, router).state).toBe('confirmed');
    };
    await Promise.all([
      takeOver('r1', async (live) => {
        live.child.kill('SIGKILL'); // its SSH connection closes with it
      }),
      takeOver('r2', () => lab.reboot('r2', { hard: true })),
    ]);
    for (const r of ROUTERS) {
      const c = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', r.name]);
      expect(c.code, c.stdout).toBe(0);
      expect(await managedFingerprint(lab, r.name)).toBe(pristine[r.name]);
    }
  }, 180_000);

  it('rollback is a history: A, B, rollback B, rollback A, rollback B again; pruned runs; the baseline', async () => {
    const r = 'r2';
    const withVars = (name: string, vars: string) => {
      const f = join(dir, `${name}.yaml`);
      writeFileSync(f, readFileSync(PLAYBOOK, 'utf8').replace(/^(\s+)hosts: all$/m, `$1hosts: all\n$1vars:\n${vars.split('\n').map((l) => `$1  ${l}`).join('\n')}`));
      return f;
    };
    const apply = async (pb: string) => {
      const x = await edge(['run', pb, '-i', lab.inventory, '--limit', r, '--json', '--confirm-timeout', String(TIMEOUT)]);
      expect(x.code, x.stderr).toBe(0);
      return (JSON.parse(x.stdout) as RunResult).runId;
    };
    const rollback = (id: string) => edge(['rollback', id, '-i', lab.inventory, '--limit', r]);
    const A = await apply(PLAYBOOK);
    const afterA = await managedFingerprint(lab, r);
    const B = await apply(withVars('b', 'edge_health_interval: 0.3'));
    expect((await rollback(B)).code).toBe(0);
    expect(await managedFingerprint(lab, r)).toBe(afterA);
    expect((await rollback(A)).code).toBe(0);
    expect(await managedFingerprint(lab, r)).toBe(pristine[r]);
    const again = await rollback(B);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${r}: already-rolled-back — run ${B} is already rolled back (by rollback at `);
    expect(await managedFingerprint(lab, r)).toBe(pristine[r]);
    // Retention: with one snapshot kept, the first two of three runs are pruned; the baseline is not.
    const keep1 = (interval: number) => withVars(`keep${interval}`, `edge_snapshots_keep: 1\nedge_health_interval: ${interval}`);
    const C1 = await apply(keep1(0.2));
    await apply(keep1(0.25));
    const C3 = await apply(keep1(0.3));
    const pruned = await rollback(C1);
    expect(pruned.code).toBe(2);
    expect(pruned.stdout).toContain(`${r}: pruned — the snapshot of run ${C1} was pruned (edge_snapshots_keep)`);
    expect(pruned.stdout).toContain('edge rollback --baseline');
    expect(await hostRunState(r, C1)).toBe('pruned');
    const base = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', r]);
    expect(base.code, base.stdout).toBe(0);
    expect(await managedFingerprint(lab, r)).toBe(pristine[r]);
    expect(await hostRunState(r, C3)).toBe('rolled-back');
    const noop = await rollback(C3);
    expect(noop.stdout).toContain('already-rolled-back');
    expect(await managedFingerprint(lab, r)).toBe(pristine[r]);
  }, 240_000);
});

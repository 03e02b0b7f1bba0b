import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResult, RunResult } from '../../../src/engine/types.js';
import { edge, edgeLive, REPO } from '../edge-cli.js';
import { managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * Issue 20, item 1 on a real router: no restore starts while an exec of the same run is live.
 * An exec is held (edge's test pause point) past the old deadline, confirm timeout + 120 s: the
 * timer does not fire under it, and the run ends applied and confirmed. An exec held past its own
 * command timeout is stopped on the router by timeout(1), and only then is the router restored,
 * to exactly what it was. All along, a watcher ON the router samples every 50 ms whether a restore
 * has begun (its first line in restore.log, or the state restoring) while the held exec's shell still runs, and records it if so.
 */
const ROUTER = 'r1';
// --confirm-timeout: short, but long enough for a new SSH connection to a loaded router to confirm in
// time (the old code's deadline under an exec was CONFIRM + 120 s).
const CONFIRM = 20;
const PLAYBOOK = join(REPO, 'playbooks', 'failover.yaml');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!isRoot)('no restore while an exec of the run is live (issue 20)', () => {
  let lab: Lab;
  let pristine: string;
  const sh = async (script: string) => (await lab.run(ROUTER, ['bash', '-c', script], { allowFail: true })).stdout.trim();
  const host = (r: { stdout: string }) => (JSON.parse(r.stdout) as RunResult).hosts.find((h) => h.host === ROUTER) as HostResult;
  const hold = (point: string) => sh(`mkdir -p /run/edge-test && rm -f /run/edge-test/held && echo ${point} > /run/edge-test/hold`);
  const release = () => sh('rm -f /run/edge-test/hold');
  const waitHeld = async (point: string, done: Promise<unknown>) => {
    let gone = false;
    void done.then(() => (gone = true));
    while ((await sh('cat /run/edge-test/held 2>/dev/null')) !== point) {
      if (gone) throw new Error(`edge exited before ${ROUTER} reached ${point}`);
      await sleep(200);
    }
  };
  /** Starts the watcher for run `runId` whose held exec holds the lease; returns how to stop it and read it. */
  const watch = async (runId: string) => {
    const d = `/var/lib/edge/snapshots/${runId}`;
    const pid = await sh(`cut -d: -f1 ${d}/lease`);
    expect(pid).toMatch(/^\d+$/);
    await sh(
      `rm -f /run/edge-test/overlap; (while kill -0 ${pid} 2>/dev/null && [ "$(cut -c1 < <(sed 's/.*) //' /proc/${pid}/stat 2>/dev/null))" != Z ]; do ` +
        `if grep -q ' - restore by ' ${d}/restore.log 2>/dev/null || [ "$(cat ${d}/state)" = restoring ]; then echo "restore begun while exec ${pid} lives: $(cat ${d}/restore.log)" >> /run/edge-test/overlap; fi; sleep 0.05; done) >/dev/null 2>&1 & echo $! > /run/edge-test/watcher`,
    );
    return { overlaps: () => sh('cat /run/edge-test/overlap 2>/dev/null'), stop: () => sh('kill "$(cat /run/edge-test/watcher)" 2>/dev/null; true') };
  };

  beforeAll(async () => {
    lab = await ensureLab();
    await release();
    // The shared router may be applied by an earlier file: start from before edge.
    const base = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', ROUTER]);
    expect([0, 2], base.stdout + base.stderr).toContain(base.code);
    pristine = await managedFingerprint(lab, ROUTER);
  }, 300_000);

  afterAll(async () => {
    await release();
    await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', ROUTER]);
  }, 300_000);

  it('an exec held past confirm timeout + 120 s: the timer waits, the run ends applied and confirmed', async () => {
    await hold('sysctl:change-1');
    const live = edgeLive(['run', PLAYBOOK, '-i', lab.inventory, '--limit', ROUTER, '--json', '--confirm-timeout', String(CONFIRM), '--command-timeout', '200']);
    const [, runId] = await live.waitFor(/edge run (\S+):/);
    await waitHeld('sysctl:change-1', live.done);
    const watcher = await watch(runId!);
    await sleep((CONFIRM + 120 + 5) * 1000);
    const d = `/var/lib/edge/snapshots/${runId}`;
    expect(await sh(`cat ${d}/state`)).toBe('applying');
    expect(await sh(`systemctl is-active edge-confirm-${runId}.service`)).not.toBe('active');
    await release();
    const res = await live.done;
    await watcher.stop();
    expect(await watcher.overlaps()).toBe('');
    expect(res.code, res.all).toBe(0);
    expect(host(res).state).toBe('confirmed');
    expect(await sh(`[ -e ${d}/restore.log ] && echo restored || echo never-restored`)).toBe('never-restored');
    // Applied in full: the next run has nothing to change.
    const again = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', ROUTER, '--json', '--detailed-exitcode']);
    expect(again.code, again.stderr).toBe(0);
  }, 400_000);

  it('an exec held past its command timeout stops itself on the router before the restore; the router is as before', async () => {
    const base = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', ROUTER]);
    expect(base.code, base.stdout).toBe(0);
    expect(await managedFingerprint(lab, ROUTER)).toBe(pristine);
    // A later task: earlier ones are applied when it hangs, so a restore racing it would leave a mix.
    await hold('nftables:change-1');
    const live = edgeLive(['run', PLAYBOOK, '-i', lab.inventory, '--limit', ROUTER, '--json', '--confirm-timeout', String(CONFIRM), '--command-timeout', '20']);
    const [, runId] = await live.waitFor(/edge run (\S+):/);
    await waitHeld('nftables:change-1', live.done);
    const watcher = await watch(runId!);
    const res = await live.done;
    await watcher.stop();
    await release();
    expect(await watcher.overlaps()).toBe('');
    expect(res.code, res.all).toBe(2);
    const h = host(res);
    expect(h.error, res.all).toMatch(/nftables: .*timed out/);
    expect(h.state, res.all).toBe('rolled-back');
    expect(await sh(`cat /var/lib/edge/snapshots/${runId}/state`)).toBe('rolled-back');
    expect(await managedFingerprint(lab, ROUTER)).toBe(pristine);
  }, 300_000);
});

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../../src/engine/types.js';
import { edge, edgeLive, REPO } from '../edge-cli.js';
import { managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * Issue 20, item 5 on real routers: an `edge rollback` whose session a reboot cuts waits for the
 * router like `edge run` does and reports what the router did. Pause points (the test hold of
 * reboot.test.ts) place each reboot exactly: r1 rebooted in the middle of the restore (step 3 of
 * restore.sh: files put back, runtime state not yet) finishes it at boot → restored-at-boot, exit
 * 0, the router byte-identical to before the run; r2 power-cut just after the rollback took the
 * lock, before it changed anything → the run is still applied, the rollback says so, exit 2.
 */
const PLAYBOOK = join(REPO, 'playbooks', 'failover.yaml');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!isRoot)('a rollback cut by a reboot reports how the router ended it (issue 20)', () => {
  let lab: Lab;
  const pristine: Record<string, string> = {};
  const sh = async (router: string, script: string) => (await lab.run(router, ['bash', '-c', script], { allowFail: true })).stdout.trim();
  const hold = (router: string, point: string) => sh(router, `mkdir -p /run/edge-test && rm -f /run/edge-test/held && echo ${point} > /run/edge-test/hold`);
  const release = (router: string) => sh(router, 'rm -f /run/edge-test/hold');
  const held = async (router: string, point: string, exited: Promise<unknown>) => {
    let gone = false;
    void exited.then(() => (gone = true));
    while ((await sh(router, 'cat /run/edge-test/held 2>/dev/null')) !== point) {
      if (gone) throw new Error(`edge exited before ${router} reached ${point}`);
      await sleep(200);
    }
  };
  const baseline = (routers: string) => edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', routers]);
  const runsOf = async (router: string, local = false) => {
    const r = await edge(['runs', '-i', lab.inventory, '--limit', router, '--json', ...(local ? ['--local'] : [])]);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { runs: { runId: string; hosts: Record<string, string> }[] }).runs;
  };

  /** Applies the playbook, holds its rollback at `point`, reboots the router there; what edge said, and the run id. */
  const cutRollback = async (router: string, point: string, hard: boolean) => {
    const a = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', router, '--json']);
    expect(a.code, a.stderr).toBe(0);
    const runId = (JSON.parse(a.stdout) as RunResult).runId;
    await hold(router, point);
    const live = edgeLive(['rollback', runId, '-i', lab.inventory, '--limit', router]);
    await held(router, point, live.done);
    await lab.reboot(router, { hard });
    return { runId, res: await live.done };
  };

  beforeAll(async () => {
    lab = await ensureLab();
    for (const r of ['r1', 'r2']) await release(r);
    const base = await baseline('r1,r2');
    expect([0, 2], base.stdout + base.stderr).toContain(base.code);
    for (const r of ['r1', 'r2']) pristine[r] = await managedFingerprint(lab, r);
  }, 300_000);

  afterAll(async () => {
    for (const r of ['r1', 'r2']) await release(r);
    await baseline('r1,r2');
  }, 300_000);

  it('rebooted mid-restore: restored at boot, reported with the run id, exit 0; cut before it began: still applied, exit 2', async () => {
    const [mid, early] = await Promise.all([cutRollback('r1', 'restore-3', false), cutRollback('r2', 'lock:rollback', true)]);

    // r1: the router finished the restore at boot; edge waited for it and says so.
    expect(mid.res.code, mid.res.all).toBe(0);
    expect(mid.res.all).toContain('r1: the session was lost during the rollback');
    expect(mid.res.stdout).toContain(
      `r1: restored-at-boot — the host rebooted during the rollback and finished restoring the state from before run ${mid.runId} at boot; it is reachable again`,
    );
    expect(mid.res.stdout).not.toContain('connection lost [');
    expect(await managedFingerprint(lab, 'r1')).toBe(pristine.r1);
    expect((await runsOf('r1')).find((r) => r.runId === mid.runId)?.hosts).toEqual({ r1: 'restored-at-boot' });
    expect((await runsOf('r1', true)).find((r) => r.runId === mid.runId)?.hosts).toEqual({ r1: 'rolled-back (journal)' });

    // r2: the reboot came before the restore: the run is still applied, and the rollback says how to finish.
    expect(early.res.code, early.res.all).toBe(2);
    expect(early.res.stdout).toContain(`r2: failed — the host rebooted before the rollback changed anything: run ${early.runId} is still confirmed on it; roll it back with: edge rollback ${early.runId}`);
    expect((await runsOf('r2')).find((r) => r.runId === early.runId)?.hosts).toEqual({ r2: 'confirmed' });
    const again = await edge(['rollback', early.runId, '-i', lab.inventory, '--limit', 'r2']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain(`r2: rolled-back — restored the state from before run ${early.runId}`);
    expect(await managedFingerprint(lab, 'r2')).toBe(pristine.r2);
  }, 300_000);
});

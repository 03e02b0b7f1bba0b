import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../../src/engine/types.js';
import { ALL_KINDS } from '../../../src/lab/plan.js';
import { edge, REPO } from '../edge-cli.js';
import { ifaceSysctlState, managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * Issue 20, item 3 on a router of each kind (Debian 12 and 13, networkd and ifupdown): a confirmed run, a reboot (the router comes back
 * with the run's settings, every interface re-made from its `default` values), then a rollback of
 * that run. The router's full fingerprint — with every interface's own IPv4/IPv6 conf values —
 * equals the one from before the run (edge restores per-interface values, playbooks/failover.md).
 */
const PLAYBOOK = join(REPO, 'playbooks', 'failover.yaml');
// r1-r4 take ALL_KINDS in order: Debian 12 and 13, networkd and ifupdown.
const ROUTERS = ALL_KINDS.map((_, i) => `r${i + 1}`);

describe.skipIf(!isRoot)('rollback after a reboot is exact, per-interface sysctls included (issue 20)', () => {
  let lab: Lab;
  const state = async (r: string) => `${await managedFingerprint(lab, r)}\n---\n${await ifaceSysctlState(lab, r)}`;

  beforeAll(async () => {
    lab = await ensureLab(ROUTERS.length, { kinds: ALL_KINDS });
    const base = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', ROUTERS.join(',')]);
    expect([0, 2], base.stdout + base.stderr).toContain(base.code);
    // A fresh boot of the pristine configuration: every interface as Debian makes it (rp_filter 0).
    for (const r of ROUTERS) await lab.reboot(r);
  }, 600_000);

  it('apply → reboot → rollback leaves every router as before the run, on each router kind', async () => {
    const before = Object.fromEntries(await Promise.all(ROUTERS.map(async (r) => [r, await state(r)] as const)));
    for (const r of ROUTERS) expect(before[r]).toMatch(/^net\.ipv4\.conf\.wan1\.rp_filter = 0$/m);
    const run = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', ROUTERS.join(','), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const runId = (JSON.parse(run.stdout) as RunResult).runId;
    for (const r of ROUTERS) await lab.reboot(r);
    // The reboot re-made the interfaces from the run's default: the case the rollback must undo.
    for (const r of ROUTERS) expect(await ifaceSysctlState(lab, r), r).toMatch(/^net\.ipv4\.conf\.wan1\.rp_filter = 2$/m);
    const rb = await edge(['rollback', runId, '-i', lab.inventory, '--limit', ROUTERS.join(',')]);
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    for (const r of ROUTERS) expect(await state(r), r).toBe(before[r]);
  }, 900_000);
});

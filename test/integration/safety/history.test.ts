import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResult, RunResult } from '../../../src/engine/types.js';
import { edge, REPO } from '../edge-cli.js';
import { managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * Issue 20, item 2 on a real router: the router orders its own history. Two controllers, one with
 * its clock a day behind (libfaketime on that edge process only; the host's clock is never touched),
 * apply A then B: B's id sorts before A's, yet `edge runs` and rollback follow the order the router
 * applied them in, and the behind controller is warned about its clock.
 */
const ROUTER = 'r2';
const PLAYBOOK = join(REPO, 'playbooks', 'failover.yaml');
const DAY_BEHIND = ['faketime', '-f', '-1d'];

describe.skipIf(!isRoot)('the router orders its own history (issue 20)', () => {
  let lab: Lab;
  let dir: string;
  let pristine: string;
  const withVars = (name: string, vars: string) => {
    const f = join(dir, `${name}.yaml`);
    writeFileSync(f, readFileSync(PLAYBOOK, 'utf8').replace(/^(\s+)hosts: all$/m, `$1hosts: all\n$1vars:\n$1  ${vars}`));
    return f;
  };
  const apply = async (pb: string, wrap: string[] = []) => {
    const r = await edge(['run', pb, '-i', lab.inventory, '--limit', ROUTER, '--json', '--confirm-timeout', '60'], { wrap });
    expect(r.code, r.stderr).toBe(0);
    const run = JSON.parse(r.stdout) as RunResult;
    return { runId: run.runId, host: run.hosts.find((h) => h.host === ROUTER) as HostResult };
  };
  const rollback = (id: string) => edge(['rollback', id, '-i', lab.inventory, '--limit', ROUTER]);

  beforeAll(async () => {
    lab = await ensureLab();
    dir = mkdtempSync(join(tmpdir(), 'edge-history-'));
    const base = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', ROUTER]);
    expect([0, 2], base.stdout + base.stderr).toContain(base.code);
    pristine = await managedFingerprint(lab, ROUTER);
  }, 300_000);

  afterAll(async () => {
    await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', ROUTER]);
  }, 300_000);

  it('two controllers a day apart: edge runs and rollback follow the order the router applied them in', async () => {
    const A = await apply(withVars('a', 'edge_health_interval: 0.3'));
    const afterA = await managedFingerprint(lab, ROUTER);
    const B = await apply(withVars('b', 'edge_health_interval: 0.35'), DAY_BEHIND);
    // B's id carries the behind clock: it sorts before A's, which is what used to decide.
    expect(B.runId < A.runId).toBe(true);
    expect(B.host.notes?.join('\n')).toMatch(/this controller's clock is 8\d{4} s behind the host's/);
    expect(A.host.notes?.join('\n') ?? '').not.toMatch(/clock/);

    const runs = await edge(['runs', '-i', lab.inventory, '--limit', ROUTER, '--json']);
    expect(runs.code, runs.stderr).toBe(0);
    const rows = (JSON.parse(runs.stdout) as { runs: { runId: string; hosts: Record<string, string> }[] }).runs.filter((r) => r.runId === A.runId || r.runId === B.runId);
    expect(rows.map((r) => [r.runId, r.hosts[ROUTER]])).toEqual([
      [B.runId, 'confirmed'],
      [A.runId, 'superseded'],
    ]);

    const early = await rollback(A.runId);
    expect(early.code, early.stdout).toBe(2);
    expect(early.stdout).toContain(`later runs are still applied on this host (${B.runId})`);
    const late = await rollback(B.runId);
    expect(late.code, late.stdout).toBe(0);
    expect(await managedFingerprint(lab, ROUTER)).toBe(afterA);
    const then = await rollback(A.runId);
    expect(then.code, then.stdout).toBe(0);
    expect(await managedFingerprint(lab, ROUTER)).toBe(pristine);
  }, 900_000);
});

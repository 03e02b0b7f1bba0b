import { describe, expect, it } from 'vitest';
import type { RemoteRun } from '../../../src/engine/rollback.js';
import { initialRolloutState, recordBatch, stopRollout } from '../../../src/engine/rollout.js';
import { runRow } from '../../../src/engine/run-rows.js';
import type { HostResult, RunResult } from '../../../src/engine/types.js';

const ID = '20261206T070000Z-1a2b3c4d';
const hostResult = (host: string, status: HostResult['status'], state: HostResult['state']): HostResult => ({
  host,
  status,
  state,
  tasks: [],
  durationMs: 0,
  execs: 0,
  bytesSent: 0,
  bytesReceived: 0,
});

/**
 * A serial-1 rollout over r1, r2, r3 interrupted while r2 ran (before it changed anything): the
 * journal records r2 and r3 as hosts left "unchanged", and its rollout state says neither started.
 */
function interruptedRollout(): RunResult {
  const hosts = [hostResult('r1', 'changed', 'confirmed'), hostResult('r2', 'interrupted', 'unchanged'), hostResult('r3', 'skipped', 'unchanged')];
  let rollout = initialRolloutState(0, { batches: [[{ name: 'r1' }], [{ name: 'r2' }], [{ name: 'r3' }]] } as never);
  rollout = recordBatch(rollout, 0, [hosts[0]!]);
  rollout = recordBatch(rollout, 1, [hosts[1]!]);
  rollout = stopRollout(rollout, { reason: 'interrupted', message: 'interrupted (SIGINT) during batch 2' }, new Date('2026-12-06T07:01:00Z'));
  return { runId: ID, playbook: 'failover.yaml', inventory: 'lab.yaml', check: false, startedAt: '2026-12-06T07:00:00Z', status: 'interrupted', hosts, rollout: [rollout] };
}

describe('edge runs: each host once, with its true state (issue 20)', () => {
  it('a host an interrupted rollout never started is listed as not started only, not also as "unchanged (journal)"', () => {
    const remote = new Map<string, RemoteRun[] | string>([
      ['r1', [{ runId: ID, state: 'confirmed' }]],
      ['r2', []],
      ['r3', []],
    ]);
    const row = runRow(ID, interruptedRollout(), 'interrupted', ['r1', 'r2', 'r3'], remote);
    expect(row.hosts).toEqual({ r1: 'confirmed' });
    expect(row.notStarted.map((n) => n.name)).toEqual(['r2', 'r3']);
    expect(row.notStarted[0]!.why).toBe('interrupted (SIGINT) during batch 2');
    const listed = [...Object.keys(row.hosts), ...row.notStarted.map((n) => n.name)];
    expect(listed.sort()).toEqual(['r1', 'r2', 'r3']);
  });

  it('with --local (no host asked): the journal, still each host once', () => {
    const row = runRow(ID, interruptedRollout(), 'interrupted', ['r1', 'r2', 'r3'], new Map());
    expect(row.hosts).toEqual({ r1: 'confirmed (journal)' });
    expect(row.notStarted.map((n) => n.name)).toEqual(['r2', 'r3']);
  });

  it('a host that knows the run is the truth: one a later --resume started is shown as the host says, not as not started', () => {
    const remote = new Map<string, RemoteRun[] | string>([
      ['r1', [{ runId: ID, state: 'superseded', detail: 'superseded by 20261206T080000Z-5e6f7a8b' }]],
      ['r2', [{ runId: ID, state: 'restored-at-boot', detail: 'restored by boot at 2026-12-06T07:01:00Z' }]],
      ['r3', 'unreachable: connect ETIMEDOUT'],
    ]);
    const row = runRow(ID, interruptedRollout(), 'interrupted', ['r1', 'r2', 'r3'], remote);
    expect(row.hosts).toEqual({ r1: 'superseded', r2: 'restored-at-boot' });
    expect(row.details).toEqual({ r1: 'superseded by 20261206T080000Z-5e6f7a8b', r2: 'restored by boot at 2026-12-06T07:01:00Z' });
    // The journal knows r3 was never started: that is true whether or not r3 answers now.
    expect(row.notStarted.map((n) => n.name)).toEqual(['r3']);
  });

  it("a run without a journal (another controller's): what each host says, or why it could not be asked", () => {
    const remote = new Map<string, RemoteRun[] | string>([
      ['r1', [{ runId: ID, state: 'confirmed' }]],
      ['r2', 'unreachable: connect ETIMEDOUT'],
    ]);
    const row = runRow(ID, undefined, undefined, ['r1', 'r2'], remote);
    expect(row.hosts).toEqual({ r1: 'confirmed', r2: 'unreachable: connect ETIMEDOUT' });
    expect(row.notStarted).toEqual([]);
  });
});

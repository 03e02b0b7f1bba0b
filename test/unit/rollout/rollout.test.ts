import { describe, expect, it } from 'vitest';
import {
  batchVerdict,
  gateBatch,
  gateMessage,
  hostStateOf,
  initialRolloutState,
  markBatchStarted,
  parseRolloutState,
  planRollout,
  recordBatch,
  resumeHosts,
  rolloutSummary,
  shouldStartNextBatch,
  stopRollout,
  type RolloutHost,
} from '../../../src/engine/rollout.js';
import type { HostResult, TaskResult } from '../../../src/engine/types.js';
import type { SerialStep } from '../../../src/playbook/serial.js';
import { serialSchema } from '../../../src/playbook/serial.js';
import { windowSchema, type Window } from '../../../src/playbook/window-schema.js';

const at = (iso: string) => new Date(iso);
const AMS = 'Europe/Amsterdam';
const NY = 'America/New_York';
const win = (w: Partial<Window> & Pick<Window, 'start' | 'end' | 'timezone'>): Window => windowSchema.parse(w);

function play(serial?: unknown, extra: { window?: Window; max_fail_percentage?: number } = {}) {
  return {
    serial: serial === undefined ? undefined : (serialSchema.parse(serial) as SerialStep[]),
    max_fail_percentage: extra.max_fail_percentage ?? 0,
    window: extra.window,
    pause_between_batches: 0,
  };
}
const hosts = (n: number, vars: Record<string, { edge_window?: Window }> = {}) =>
  Array.from({ length: n }, (_, i) => ({ name: `r${i + 1}`, vars: vars[`r${i + 1}`] ?? {} }));
const names = (batches: RolloutHost[][]) => batches.map((b) => b.map((h) => h.name));

function result(host: string, status: HostResult['status'], opts: { state?: HostResult['state']; tasks?: Partial<TaskResult>[]; error?: string } = {}): HostResult {
  return {
    host,
    status,
    state: opts.state ?? (status === 'changed' ? 'confirmed' : 'unchanged'),
    tasks: (opts.tasks ?? []).map((t) => ({ task: 'sysctl', status: 'ok', changes: [], durationMs: 0, execs: 0, ...t }) as TaskResult),
    durationMs: 0,
    execs: 0,
    bytesSent: 0,
    bytesReceived: 0,
    ...(opts.error ? { error: opts.error } : {}),
  };
}

describe('planRollout: batches', () => {
  it('no serial: one batch of every host, in play order', () => {
    expect(names(planRollout(play(), hosts(5)).batches)).toEqual([['r1', 'r2', 'r3', 'r4', 'r5']]);
  });
  it('a count, with a remainder', () => {
    expect(names(planRollout(play(2), hosts(5)).batches)).toEqual([['r1', 'r2'], ['r3', 'r4'], ['r5']]);
  });
  it('a percentage of the play hosts, rounded down, at least 1', () => {
    expect(planRollout(play('30%'), hosts(10)).batches.map((b) => b.length)).toEqual([3, 3, 3, 1]);
    expect(planRollout(play('10%'), hosts(3)).batches.map((b) => b.length)).toEqual([1, 1, 1]);
  });
  it('a list: canary first, the last step repeats', () => {
    expect(planRollout(play([1, '10%', '50%']), hosts(20)).batches.map((b) => b.length)).toEqual([1, 2, 10, 7]);
    expect(names(planRollout(play([1, 2]), hosts(6)).batches)).toEqual([['r1'], ['r2', 'r3'], ['r4', 'r5'], ['r6']]);
  });
  it('serial larger than the fleet: one batch; no hosts: no batches', () => {
    expect(planRollout(play(10), hosts(3)).batches.length).toBe(1);
    expect(planRollout(play(1), hosts(0)).batches).toEqual([]);
  });
  it("each host carries its own window: edge_window wins over the play's", () => {
    const site = win({ days: ['tue'], start: '01:00', end: '05:00', timezone: NY });
    const fleet = win({ start: '02:00', end: '04:00', timezone: AMS });
    const p = planRollout(play(1, { window: fleet, max_fail_percentage: 25 }), hosts(2, { r2: { edge_window: site } }));
    expect(p.batches.map((b) => b[0]!.window)).toEqual([fleet, site]);
    expect(p.maxFailPercentage).toBe(25);
    expect(planRollout(play(1), hosts(1)).batches[0]![0]).toEqual({ name: 'r1' });
  });
});

describe('batchVerdict: max_fail_percentage must be EXCEEDED (Ansible)', () => {
  const batch = (failed: number, total: number) =>
    Array.from({ length: total }, (_, i) => result(`r${i + 1}`, i < failed ? 'failed' : 'changed'));
  it('1 of 4 failed with 25 → continue (25% does not exceed 25)', () => {
    const v = batchVerdict(batch(1, 4), 25);
    expect(v.action).toBe('continue');
    expect(v.failed).toEqual(['r1']);
    expect(v.failedPercent).toBe(25);
  });
  it('2 of 4 failed with 25 → stop', () => {
    const v = batchVerdict(batch(2, 4), 25);
    expect(v).toMatchObject({ action: 'stop', reason: 'max-fail-percentage', failed: ['r1', 'r2'], total: 4 });
    if (v.action === 'stop') expect(v.message).toBe('2 of 4 hosts of the batch failed (50%, more than max_fail_percentage 25): r1, r2');
  });
  it('2 of 4 with 50 → continue; with 49 → stop', () => {
    expect(batchVerdict(batch(2, 4), 50).action).toBe('continue');
    expect(batchVerdict(batch(2, 4), 49).action).toBe('stop');
  });
  it('0 (the default) with any failure → stop; with none → continue', () => {
    expect(batchVerdict(batch(1, 10), 0)).toMatchObject({ action: 'stop', reason: 'max-fail-percentage' });
    expect(batchVerdict(batch(0, 10), 0).action).toBe('continue');
  });
  it('thresholds that are not whole percentages: 1 of 3 is 33.3%', () => {
    expect(batchVerdict(batch(1, 3), 33).action).toBe('stop');
    expect(batchVerdict(batch(1, 3), 34).action).toBe('continue');
  });
  it('a batch where every host failed always stops, even with 100', () => {
    expect(batchVerdict(batch(3, 3), 100)).toMatchObject({ action: 'stop', reason: 'batch-failed' });
    expect(batchVerdict(batch(1, 1), 100)).toMatchObject({ action: 'stop', reason: 'batch-failed' });
    expect(batchVerdict(batch(2, 3), 100).action).toBe('continue');
  });
  it('a host counts as good only when verify passed: a failed verify, unreachable, interrupted are failures', () => {
    const results = [
      result('r1', 'changed'),
      result('r2', 'changed', { tasks: [{ task: 'verify', status: 'failed', error: 'wan2 down' }] }),
      result('r3', 'unreachable'),
      result('r4', 'interrupted'),
    ];
    expect(batchVerdict(results, 75)).toMatchObject({ action: 'continue', failed: ['r2', 'r3', 'r4'] });
    expect(batchVerdict(results, 74).action).toBe('stop');
  });
  it('an empty batch goes on', () => {
    expect(batchVerdict([], 0).action).toBe('continue');
  });
});

describe('window gate', () => {
  // winter (both zones on standard time): AMS 08:00–14:00 = 07–13Z, NY 04:00–10:00 = 09–15Z → together 09–13Z
  const amsDay = win({ start: '08:00', end: '14:00', timezone: AMS });
  const nyDay = win({ start: '04:00', end: '10:00', timezone: NY });
  const batch: RolloutHost[] = [
    { name: 'ams-1', window: amsDay },
    { name: 'ny-1', window: nyDay },
    { name: 'lab-1' }, // no window: always open
  ];

  it('a batch starts only when ALL its hosts windows are open', () => {
    const g = gateBatch(batch, at('2026-01-15T08:00:00Z'));
    expect(g.open).toBe(false);
    if (g.open) return;
    expect(g.closed.map((h) => [h.name, h.opensAt.toISOString()])).toEqual([['ny-1', '2026-01-15T09:00:00.000Z']]);
    expect(g.opensAt).toEqual(at('2026-01-15T09:00:00Z'));
    expect(gateMessage(g)).toBe(
      'outside the maintenance window (ny-1: daily 04:00–10:00 America/New_York); the next window opens 2026-01-15 04:00 America/New_York (2026-01-15T09:00:00Z)',
    );
  });
  it('open: closes when the first of its windows closes', () => {
    expect(gateBatch(batch, at('2026-01-15T10:00:00Z'))).toEqual({ open: true, closesAt: at('2026-01-15T13:00:00Z') });
    expect(gateBatch([{ name: 'lab-1' }], at('2026-01-15T10:00:00Z'))).toEqual({ open: true });
  });
  it('after both close, the next common opening is the next day', () => {
    const g = gateBatch(batch, at('2026-01-15T13:30:00Z'));
    expect(g.open === false && g.opensAt).toEqual(at('2026-01-16T09:00:00Z'));
    expect(g.open === false && g.closed.map((h) => h.name)).toEqual(['ams-1']);
  });
  it('between the US (8 Mar) and EU (29 Mar) DST changes the zones are an hour closer', () => {
    // NY on EDT: 04:00–10:00 = 08–14Z; AMS still CET: 07–13Z → together 08–13Z
    const g = gateBatch(batch, at('2026-03-16T06:00:00Z'));
    expect(g.open === false && g.opensAt).toEqual(at('2026-03-16T08:00:00Z'));
    expect(gateBatch(batch, at('2026-03-16T12:00:00Z'))).toEqual({ open: true, closesAt: at('2026-03-16T13:00:00Z') });
  });
  it('windows with different days: the first day both are open', () => {
    const tue = win({ days: ['tue'], start: '00:00', end: '24:00', timezone: 'UTC' });
    const weekend = win({ days: ['sat', 'sun', 'mon', 'tue'], start: '10:00', end: '11:00', timezone: 'UTC' });
    const g = gateBatch(
      [
        { name: 'a', window: tue },
        { name: 'b', window: weekend },
      ],
      at('2026-01-07T12:00:00Z'), // a Wednesday
    );
    expect(g.open === false && g.opensAt).toEqual(at('2026-01-13T10:00:00Z')); // Tuesday 10:00
  });
  it('windows that never overlap: no opening, the rollout must stop', () => {
    const night = (timezone: string) => win({ start: '02:00', end: '04:00', timezone });
    const mixed: RolloutHost[] = [
      { name: 'ams-1', window: night(AMS) },
      { name: 'ny-1', window: night(NY) },
    ];
    const g = gateBatch(mixed, at('2026-01-15T12:00:00Z'));
    expect(g.open).toBe(false);
    expect(g.open === false && g.opensAt).toBeUndefined();
    const d = shouldStartNextBatch({ next: mixed, now: at('2026-01-15T12:00:00Z'), waitForWindow: true });
    expect(d).toMatchObject({ action: 'stop', reason: 'windows-never-overlap' });
  });
});

describe('shouldStartNextBatch', () => {
  const night = win({ start: '02:00', end: '04:00', timezone: AMS }); // 01–03Z in winter
  const b = (name: string, window?: Window): RolloutHost[] => [window ? { name, window } : { name }];

  it('inside the window: start', () => {
    expect(shouldStartNextBatch({ next: b('r1', night), now: at('2026-01-15T01:30:00Z'), waitForWindow: false })).toEqual({
      action: 'start',
      closesAt: at('2026-01-15T03:00:00Z'),
    });
    expect(shouldStartNextBatch({ next: b('r1'), now: at('2026-01-15T12:00:00Z'), waitForWindow: false })).toEqual({ action: 'start' });
  });
  it('before the first batch, outside the window: refuse with when it opens, or wait with --wait-for-window', () => {
    const now = at('2026-01-15T12:00:00Z');
    const refuse = shouldStartNextBatch({ next: b('r1', night), now, waitForWindow: false });
    expect(refuse).toMatchObject({ action: 'stop', reason: 'window-not-open', opensAt: at('2026-01-16T01:00:00Z') });
    expect(refuse.action === 'stop' && refuse.message).toMatch(/next window opens 2026-01-16 02:00 Europe\/Amsterdam/);
    expect(shouldStartNextBatch({ next: b('r1', night), now, waitForWindow: true })).toMatchObject({ action: 'wait', until: at('2026-01-16T01:00:00Z') });
  });
  it('the window closed during the last batch: stop after it, even with --wait-for-window', () => {
    const d = shouldStartNextBatch({
      next: b('r2', night),
      now: at('2026-01-15T03:05:00Z'),
      previousBatchStartedAt: at('2026-01-15T02:50:00Z'),
      waitForWindow: true,
    });
    expect(d).toMatchObject({ action: 'stop', reason: 'window-closed', opensAt: at('2026-01-16T01:00:00Z') });
  });
  it("the next batch's hosts are in another zone whose window has not opened yet: wait (or stop) for it", () => {
    const ny = win({ start: '02:00', end: '04:00', timezone: NY }); // 07–09Z
    const input = { next: b('ny-1', ny), now: at('2026-01-15T02:30:00Z'), previousBatchStartedAt: at('2026-01-15T01:00:00Z') };
    expect(shouldStartNextBatch({ ...input, waitForWindow: true })).toMatchObject({ action: 'wait', until: at('2026-01-15T07:00:00Z') });
    expect(shouldStartNextBatch({ ...input, waitForWindow: false })).toMatchObject({ action: 'stop', reason: 'window-not-open' });
  });
});

describe('rollout state and resume', () => {
  const plan = planRollout(play(1), hosts(3));

  it('starts with every host not started, and is plain JSON', () => {
    const s = initialRolloutState(0, plan);
    expect(s.hosts).toEqual([
      { name: 'r1', batch: 0, state: 'not-started' },
      { name: 'r2', batch: 1, state: 'not-started' },
      { name: 'r3', batch: 2, state: 'not-started' },
    ]);
    expect(s).toMatchObject({ batchIndex: -1, batchCount: 3, finished: false });
    expect(parseRolloutState(JSON.parse(JSON.stringify(s)))).toEqual(s);
    expect(resumeHosts(s)).toEqual(['r1', 'r2', 'r3']);
  });

  it('serial 1, the second host fails verify: stop before the third; resume runs r2 and r3', () => {
    let s = initialRolloutState(0, plan);
    s = markBatchStarted(s, 0);
    s = recordBatch(s, 0, [result('r1', 'changed')]);
    s = markBatchStarted(s, 1);
    const r2 = result('r2', 'failed', { state: 'rolled-back', tasks: [{ task: 'verify', status: 'failed' }], error: 'verify: wan2 unreachable' });
    s = recordBatch(s, 1, [r2]);
    const v = batchVerdict([r2], 0);
    expect(v.action).toBe('stop');
    if (v.action === 'stop') s = stopRollout(s, { reason: v.reason, message: v.message }, at('2026-01-15T02:00:00Z'));
    expect(s.hosts.map((h) => h.state)).toEqual(['done', 'rolled-back', 'not-started']);
    expect(s.hosts[1]!.error).toBe('verify: wan2 unreachable');
    expect(s).toMatchObject({ batchIndex: 1, finished: false, stop: { reason: 'batch-failed', at: '2026-01-15T02:00:00.000Z' } });
    expect(rolloutSummary(s)).toBe('1 done, 1 rolled back, 1 not started');
    const back = parseRolloutState(JSON.parse(JSON.stringify(s)));
    expect(back).toEqual(s);
    expect(resumeHosts(back)).toEqual(['r2', 'r3']);
  });

  it('a window stop records when the window opens', () => {
    const s = stopRollout(initialRolloutState(0, plan), { reason: 'window-closed', message: 'closed', opensAt: at('2026-01-16T01:00:00Z') }, at('2026-01-15T03:05:00Z'));
    expect(s.stop).toEqual({ reason: 'window-closed', message: 'closed', at: '2026-01-15T03:05:00.000Z', opensAt: '2026-01-16T01:00:00.000Z' });
  });

  it('finishes after the last batch; nothing left to resume', () => {
    let s = initialRolloutState(0, plan);
    plan.batches.forEach((batch, i) => {
      s = recordBatch(markBatchStarted(s, i), i, batch.map((h) => result(h.name, 'ok')));
    });
    expect(s.finished).toBe(true);
    expect(resumeHosts(s)).toEqual([]);
  });

  it('host states: done, failed, rolled back, not started', () => {
    expect(hostStateOf(result('a', 'ok'))).toBe('done');
    expect(hostStateOf(result('a', 'changed', { state: 'armed' }))).toBe('done');
    expect(hostStateOf(result('a', 'failed', { state: 'rolled-back' }))).toBe('rolled-back');
    expect(hostStateOf(result('a', 'failed', { state: 'rollback-failed' }))).toBe('failed');
    expect(hostStateOf(result('a', 'failed'))).toBe('failed'); // refused before any change
    expect(hostStateOf(result('a', 'unreachable'))).toBe('failed');
    expect(hostStateOf(result('a', 'interrupted'))).toBe('not-started');
    expect(hostStateOf(result('a', 'interrupted', { state: 'applying' }))).toBe('failed');
  });

  it('a journal entry that is not a rollout state is refused', () => {
    expect(() => parseRolloutState({ version: 2 })).toThrow();
    expect(() => parseRolloutState({ ...initialRolloutState(0, plan), hosts: [{ name: 'r1', batch: 0, state: 'half-done' }] })).toThrow();
  });
});

import { z } from 'zod';
import type { HostVars } from '../inventory/vars.js';
import { effectiveWindow } from '../playbook/effective-window.js';
import { splitBatches } from '../playbook/serial.js';
import type { Play } from '../playbook/types.js';
import type { Window } from '../playbook/window-schema.js';
import type { HostResult } from './types.js';
import { closesAt, describeWindow, formatInstant, isOpen, nextOpen } from './window.js';

/**
 * Rollout planning and bookkeeping, all pure: which hosts go in which batch, whether a batch may
 * start now (maintenance windows), whether the rollout goes on after a batch (max_fail_percentage),
 * and the state the journal keeps so `edge run --resume` can finish what was left.
 * The engine owns time and I/O; everything here takes `now` as an argument.
 */

/** One host of a rollout with its effective window (its edge_window, else the play's; none: always open). */
export interface RolloutHost {
  name: string;
  window?: Window;
}

export interface RolloutPlan {
  /** Hosts in play order, split per `serial` (Ansible semantics, see playbook/serial.ts). */
  batches: RolloutHost[][];
  maxFailPercentage: number;
  /** Seconds. */
  pauseBetweenBatches: number;
}

/** Splits a play's hosts (in order) into batches, each host carrying its own window. */
export function planRollout(
  play: Pick<Play, 'serial' | 'max_fail_percentage' | 'window' | 'pause_between_batches'>,
  hosts: readonly { name: string; vars: Pick<HostVars, 'edge_window'> }[],
): RolloutPlan {
  const withWindows: RolloutHost[] = hosts.map((h) => {
    const window = effectiveWindow(play, h.vars);
    return window ? { name: h.name, window } : { name: h.name };
  });
  return {
    batches: splitBatches(withWindows, play.serial),
    maxFailPercentage: play.max_fail_percentage,
    pauseBetweenBatches: play.pause_between_batches,
  };
}

// ---------------------------------------------------------------------------------------------
// After a batch: go on or stop

/**
 * A host counts as good only when it finished ok or changed and none of its tasks failed — so a
 * host whose verify (or confirm over a new connection) failed is a failed host. Unreachable,
 * interrupted and skipped hosts did not pass verify either: they count as failed.
 */
export function hostSucceeded(r: Pick<HostResult, 'status' | 'tasks'>): boolean {
  return (r.status === 'ok' || r.status === 'changed') && !r.tasks.some((t) => t.status === 'failed');
}

export type BatchVerdict =
  | { action: 'continue'; failed: string[]; total: number; failedPercent: number }
  | {
      action: 'stop';
      reason: 'max-fail-percentage' | 'batch-failed';
      failed: string[];
      total: number;
      failedPercent: number;
      message: string;
    };

/**
 * Ansible's semantics: the rollout stops when the share of failed hosts in the batch EXCEEDS
 * max_fail_percentage — reaching it is not enough ("the percentage set must be exceeded, not
 * equaled"). 1 of 4 failed with 25 → 25% does not exceed 25 → continue; 2 of 4 → 50% → stop.
 * max_fail_percentage 0 (edge's default) therefore stops on any failure. And as in Ansible, a
 * batch in which EVERY host failed always stops the rollout, even with max_fail_percentage 100.
 * Compared as failed·100 > max·total, so no rounding decides a threshold case.
 */
export function batchVerdict(results: readonly Pick<HostResult, 'host' | 'status' | 'tasks'>[], maxFailPercentage: number): BatchVerdict {
  const failed = results.filter((r) => !hostSucceeded(r)).map((r) => r.host);
  const total = results.length;
  const failedPercent = total === 0 ? 0 : (failed.length * 100) / total;
  const base = { failed, total, failedPercent };
  if (total > 0 && failed.length === total) {
    return { action: 'stop', reason: 'batch-failed', ...base, message: `every host of the batch failed (${failed.join(', ')})` };
  }
  if (failed.length * 100 > maxFailPercentage * total) {
    return {
      action: 'stop',
      reason: 'max-fail-percentage',
      ...base,
      message:
        `${failed.length} of ${total} hosts of the batch failed (${round1(failedPercent)}%, more than ` +
        `max_fail_percentage ${maxFailPercentage}): ${failed.join(', ')}`,
    };
  }
  return { action: 'continue', ...base };
}

/**
 * A batch cut short by an interruption (Ctrl-C, a signal, a closed output pipe) stops the rollout
 * as `interrupted`, not as failed: its hosts were stopped, not broken, and `--resume` runs them.
 */
export function interruptedStop(results: readonly Pick<HostResult, 'host' | 'status'>[]): { reason: 'interrupted'; message: string } {
  const cut = results.filter((r) => r.status === 'interrupted').map((r) => r.host);
  return { reason: 'interrupted', message: cut.length ? `interrupted (stopped: ${cut.join(', ')})` : 'interrupted' };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

// ---------------------------------------------------------------------------------------------
// Before a batch: the window gate

export interface ClosedHost {
  name: string;
  window: Window;
  /** When this host's own window next opens. */
  opensAt: Date;
}

export type Gate =
  | {
      open: true;
      /** When the first of the batch's windows closes; undefined when no host of the batch has a window. */
      closesAt?: Date;
    }
  | {
      open: false;
      /**
       * The first instant at which every host's window is open at once; undefined when that does
       * not happen within the search horizon (windows of different zones that never overlap: put
       * those hosts in different batches, e.g. with serial per site).
       */
      opensAt?: Date;
      /** The hosts whose window is closed now. */
      closed: ClosedHost[];
    };

/** Hosts' windows are searched this far ahead for an instant they are all open. */
const GATE_HORIZON_MS = 15 * 86_400_000;

/**
 * A batch starts only when the windows of ALL its hosts are open. When they are not, `opensAt` is
 * the first instant they all are: starting from `now`, jump to the next opening of any window
 * that is closed until none is. Every jump lands at or before the answer (that window must open
 * by then), so the first instant found is the earliest.
 */
export function gateBatch(batch: readonly RolloutHost[], now: Date): Gate {
  const windowed = batch.filter((h): h is RolloutHost & { window: Window } => h.window !== undefined);
  const closed = windowed.filter((h) => !isOpen(h.window, now)).map((h) => ({ name: h.name, window: h.window, opensAt: nextOpen(h.window, now) }));
  if (closed.length === 0) {
    const ends = windowed.map((h) => closesAt(h.window, now)!.getTime());
    return ends.length ? { open: true, closesAt: new Date(Math.min(...ends)) } : { open: true };
  }
  let t = Math.max(...closed.map((h) => h.opensAt.getTime()));
  const limit = now.getTime() + GATE_HORIZON_MS;
  while (t <= limit) {
    const at = new Date(t);
    const stillClosed = windowed.filter((h) => !isOpen(h.window, at));
    if (stillClosed.length === 0) return { open: false, opensAt: at, closed };
    t = Math.max(...stillClosed.map((h) => nextOpen(h.window, at).getTime()));
  }
  return { open: false, closed };
}

export type NextBatchDecision =
  | { action: 'start'; closesAt?: Date }
  | { action: 'wait'; until: Date; gate: Extract<Gate, { open: false }> }
  | {
      action: 'stop';
      reason: 'window-closed' | 'window-not-open' | 'windows-never-overlap';
      opensAt?: Date;
      gate: Extract<Gate, { open: false }>;
      message: string;
    };

/**
 * Whether the next batch starts now, waits, or the rollout stops:
 * - all its hosts' windows open → start;
 * - a window that was open when the previous batch started has closed since → stop
 *   ('window-closed'): at the end of a window the rollout stops after the current batch, even with
 *   --wait-for-window (resume it in the next window with `edge run --resume`);
 * - the windows have not opened yet (the first batch, or hosts of another site/time zone) →
 *   wait until they open with --wait-for-window, otherwise stop ('window-not-open') and say when;
 * - they never are open together → stop ('windows-never-overlap').
 */
export function shouldStartNextBatch(input: {
  next: readonly RolloutHost[];
  now: Date;
  /** When the previous batch of this rollout started; undefined before the first batch. */
  previousBatchStartedAt?: Date;
  waitForWindow: boolean;
}): NextBatchDecision {
  const gate = gateBatch(input.next, input.now);
  if (gate.open) return gate.closesAt ? { action: 'start', closesAt: gate.closesAt } : { action: 'start' };
  const prev = input.previousBatchStartedAt;
  const ended = prev !== undefined && gate.closed.filter((h) => isOpen(h.window, prev));
  if (ended && ended.length > 0) {
    return {
      action: 'stop',
      reason: 'window-closed',
      opensAt: gate.opensAt,
      gate,
      message: `the maintenance window closed during the last batch (${windowList(ended)}); ${nextText(gate)}`,
    };
  }
  if (!gate.opensAt) {
    return {
      action: 'stop',
      reason: 'windows-never-overlap',
      gate,
      message: `the windows of this batch's hosts are never open at the same time (${windowList(gate.closed)}); put hosts of different windows in different batches`,
    };
  }
  if (input.waitForWindow) return { action: 'wait', until: gate.opensAt, gate };
  return {
    action: 'stop',
    reason: 'window-not-open',
    opensAt: gate.opensAt,
    gate,
    message: `outside the maintenance window (${windowList(gate.closed)}); ${nextText(gate)}`,
  };
}

function windowList(hosts: readonly ClosedHost[]): string {
  const by = new Map<string, string[]>();
  for (const h of hosts) {
    const k = describeWindow(h.window);
    by.set(k, [...(by.get(k) ?? []), h.name]);
  }
  return [...by].map(([w, names]) => `${names.join(', ')}: ${w}`).join('; ');
}

function nextText(gate: Extract<Gate, { open: false }>): string {
  if (!gate.opensAt) return 'the windows of its hosts are never open at the same time';
  const tz = gate.closed[0]!.window.timezone;
  return `the next window opens ${formatInstant(gate.opensAt, tz)}`;
}

/** What edge prints when it refuses to start a batch: the hosts, their windows, and when it opens. */
export function gateMessage(gate: Extract<Gate, { open: false }>): string {
  return `outside the maintenance window (${windowList(gate.closed)}); ${nextText(gate)}`;
}

// ---------------------------------------------------------------------------------------------
// Rollout state, kept in the run journal

export type RolloutHostState = 'done' | 'failed' | 'rolled-back' | 'not-started';

export type RolloutStopReason =
  | 'max-fail-percentage'
  | 'batch-failed'
  | 'window-closed'
  | 'window-not-open'
  | 'windows-never-overlap'
  | 'interrupted';

/**
 * Rollout state, kept in the journal. Declared as a plain type (and the schema below held to it)
 * so the JSON Schema of `edge run --json` can be generated from the types.
 */
export interface RolloutState {
  version: 1;
  /** Index of the play in the playbook. */
  play: number;
  /** Hosts in play order, each with the batch it was planned in (0-based) and where it stands. */
  hosts: { name: string; batch: number; state: RolloutHostState; error?: string }[];
  batchCount: number;
  /** The last batch that was started; -1 before the first. */
  batchIndex: number;
  /** Why the rollout stopped before its last batch; absent while running or when it finished. */
  stop?: {
    reason: RolloutStopReason;
    message: string;
    /** ISO time the rollout stopped. */
    at: string;
    /** ISO time the window opens next, for window stops. */
    opensAt?: string;
  };
  finished: boolean;
}

const rolloutStateSchema: z.ZodType<RolloutState> = z.object({
  version: z.literal(1),
  /** Index of the play in the playbook. */
  play: z.number().int().min(0),
  /** Hosts in play order, each with the batch it was planned in (0-based) and where it stands. */
  hosts: z.array(
    z.object({
      name: z.string(),
      batch: z.number().int().min(0),
      state: z.enum(['done', 'failed', 'rolled-back', 'not-started']),
      error: z.string().optional(),
    }),
  ),
  batchCount: z.number().int().min(0),
  /** The last batch that was started; -1 before the first. */
  batchIndex: z.number().int().min(-1),
  /** Why the rollout stopped before its last batch; absent while running or when it finished. */
  stop: z
    .object({
      reason: z.enum(['max-fail-percentage', 'batch-failed', 'window-closed', 'window-not-open', 'windows-never-overlap', 'interrupted']),
      message: z.string(),
      /** ISO time the rollout stopped. */
      at: z.string(),
      /** ISO time the window opens next, for window stops. */
      opensAt: z.string().optional(),
    })
    .optional(),
  finished: z.boolean(),
});


export function initialRolloutState(playIndex: number, plan: Pick<RolloutPlan, 'batches'>): RolloutState {
  return {
    version: 1,
    play: playIndex,
    hosts: plan.batches.flatMap((b, i) => b.map((h) => ({ name: h.name, batch: i, state: 'not-started' as const }))),
    batchCount: plan.batches.length,
    batchIndex: -1,
    finished: plan.batches.length === 0,
  };
}

export function markBatchStarted(state: RolloutState, batchIndex: number): RolloutState {
  return { ...state, batchIndex };
}

/**
 * Where a host stands after its run: done when it passed (see hostSucceeded); rolled-back when it
 * failed and is back on its pre-run snapshot (by edge or its own dead-man timer); failed when it
 * failed otherwise (including a failed rollback); not-started when it was interrupted or skipped
 * before anything was changed on it.
 */
export function hostStateOf(r: Pick<HostResult, 'status' | 'state' | 'tasks'>): RolloutHostState {
  if (hostSucceeded(r)) return 'done';
  if (r.state === 'rolled-back') return 'rolled-back';
  if ((r.status === 'interrupted' || r.status === 'skipped') && r.state === 'unchanged') return 'not-started';
  return 'failed';
}

/** Records a batch's host results; marks the rollout finished after its last batch when no host is left not started. */
export function recordBatch(state: RolloutState, batchIndex: number, results: readonly HostResult[]): RolloutState {
  const by = new Map(results.map((r) => [r.host, r]));
  const hosts = state.hosts.map((h) => {
    const r = by.get(h.name);
    if (!r) return h;
    const s = hostStateOf(r);
    return s === 'done' || !r.error ? { name: h.name, batch: h.batch, state: s } : { name: h.name, batch: h.batch, state: s, error: r.error };
  });
  // Finished: the last batch ran and no host is left waiting (a resume limited with --limit leaves
  // the hosts it did not take as not-started).
  const finished = batchIndex >= state.batchCount - 1 && state.stop === undefined && !hosts.some((h) => h.state === 'not-started');
  return { ...state, hosts, batchIndex, finished };
}

export function stopRollout(
  state: RolloutState,
  stop: { reason: RolloutStopReason; message: string; opensAt?: Date },
  now: Date,
): RolloutState {
  return {
    ...state,
    finished: false,
    stop: {
      reason: stop.reason,
      message: stop.message,
      at: now.toISOString(),
      ...(stop.opensAt ? { opensAt: stop.opensAt.toISOString() } : {}),
    },
  };
}

/**
 * The hosts `--resume` runs: every host not done, in play order — not-started ones, and also
 * failed and rolled-back ones: the operator resumes after fixing the cause, edge's tasks are
 * idempotent, and a rolled-back host is back on its old state, so running it again is the retry.
 * The resumed run splits them into batches afresh with the play's `serial`.
 */
export function resumeHosts(state: RolloutState): string[] {
  return state.hosts.filter((h) => h.state !== 'done').map((h) => h.name);
}

/** Validates a rollout state read back from a journal (a hand-edited or foreign file fails here). */
export function parseRolloutState(json: unknown): RolloutState {
  return rolloutStateSchema.parse(json);
}

/** "2 done, 1 failed, 1 not started" */
export function rolloutSummary(state: RolloutState): string {
  const counts = new Map<RolloutHostState, number>();
  for (const h of state.hosts) counts.set(h.state, (counts.get(h.state) ?? 0) + 1);
  return (['done', 'failed', 'rolled-back', 'not-started'] as const)
    .filter((s) => counts.get(s))
    .map((s) => `${counts.get(s)} ${s.replace('-', ' ')}`)
    .join(', ');
}

import type { RolloutState } from './rollout.js';
import type { TaskName } from '../tasks/contract.js';

export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped';
export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable' | 'interrupted' | 'skipped';
/** Where the host stands with respect to this run's snapshot. */
export type HostRunState = 'unchanged' | 'applying' | 'applied' | 'rolled-back' | 'rollback-failed' | 'armed' | 'confirmed';

export interface ChangeReport {
  summary: string;
  /** Kept only when the run was asked for diffs (--diff). */
  diff?: string;
}

export interface TaskResult {
  task: TaskName;
  status: TaskStatus;
  changes: ChangeReport[];
  durationMs: number;
  execs: number;
  error?: string;
  notes?: string[];
}

export interface HostResult {
  host: string;
  status: HostStatus;
  state: HostRunState;
  tasks: TaskResult[];
  durationMs: number;
  execs: number;
  bytesSent: number;
  bytesReceived: number;
  error?: string;
  /** What happened to roll the host back, if it was. */
  rollback?: string;
  /** What edge found on the host and dealt with first (a stale lock taken over, an unsettled run restored). */
  notes?: string[];
}

export interface RunResult {
  runId: string;
  playbook: string;
  inventory: string;
  check: boolean;
  startedAt: string;
  finishedAt?: string;
  status: 'running' | 'ok' | 'failed' | 'interrupted' | 'stopped';
  hosts: HostResult[];
  /** Per play: batches, where each host stands, and why the rollout stopped (for --resume). */
  rollout?: RolloutState[];
}

/** What the UI hears while a run goes on. Every call is synchronous and must not throw. */
export interface RunReporter {
  hostStarted(host: string, tasks: TaskName[]): void;
  hostStep(host: string, step: 'connect' | 'facts' | 'plan' | 'apply' | 'confirm' | 'rolling back', detail?: string): void;
  taskStarted(host: string, task: TaskName): void;
  taskFinished(host: string, result: TaskResult): void;
  hostFinished(result: HostResult): void;
}

export const silentReporter: RunReporter = {
  hostStarted() {},
  hostStep() {},
  taskStarted() {},
  taskFinished() {},
  hostFinished() {},
};

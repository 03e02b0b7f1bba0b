import type { HostVars } from '../inventory/vars.js';
import type { SshConnection } from '../ssh/connection.js';
import { runHost, type PlannedTask } from './host-run.js';
import type { JournalWriter } from './journal.js';
import type { CacheRecord } from './script-cache.js';
import type { HostResult, RunReporter, RunResult } from './types.js';

export interface RunHost {
  name: string;
  vars: HostVars;
  tasks: PlannedTask[];
  connect: () => Promise<SshConnection>;
}

export interface RunInput {
  hosts: RunHost[];
  check: boolean;
  noRollback: boolean;
  forceLockoutRisk?: boolean;
  forks: number;
  commandTimeoutMs: number;
  confirm: 'auto' | 'manual';
  confirmTimeoutSec: number;
  reporter: RunReporter;
  signal: AbortSignal;
  /** Keep each change's diff in the results (--diff); otherwise only its summary. */
  keepDiffs?: boolean;
  /** Which scripts each host holds by hash (script-cache.ts). */
  scriptCache?: CacheRecord;
  /** Each finished host is appended here. */
  journal?: JournalWriter;
}

/**
 * The hosts of one batch, in parallel up to `forks`, with no barrier between tasks across hosts:
 * each host runs its own pipeline start to finish. Each host's result is added to `run` and
 * appended to the journal as it finishes, so an interrupted run still leaves a record of every
 * host, at a cost per host that does not grow with the run.
 * The run's status is the rollout's business (run-playbook.ts), not this batch's.
 */
export async function runHosts(input: RunInput, run: RunResult): Promise<HostResult[]> {
  const results: HostResult[] = [];
  let next = 0;
  // `forks` workers taking the hosts in order, not a queued promise per host: 10,000 hosts
  // waiting in p-limit's queue held 28 MB.
  const worker = async () => {
    for (let i = next++; i < input.hosts.length; i = next++) results[i] = await runOne(input, run, input.hosts[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, input.forks), input.hosts.length) }, worker));
  return results;
}

async function runOne(input: RunInput, run: RunResult, h: RunHost): Promise<HostResult> {
  const r = await runHost({
    runId: run.runId,
    host: h.name,
    vars: h.vars,
    tasks: h.tasks,
    check: input.check,
    noRollback: input.noRollback,
    forceLockoutRisk: input.forceLockoutRisk,
    commandTimeoutMs: input.commandTimeoutMs,
    confirm: input.confirm,
    confirmTimeoutSec: input.confirmTimeoutSec,
    connect: h.connect,
    reporter: input.reporter,
    signal: input.signal,
    keepDiffs: input.keepDiffs,
    scriptCache: input.scriptCache,
  });
  run.hosts.push(r);
  input.journal?.host(r);
  return r;
}

import pLimit from 'p-limit';
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
  const limit = pLimit(Math.max(1, input.forks));
  const results = await Promise.all(
    input.hosts.map((h) =>
      limit(async (): Promise<HostResult> => {
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
      }),
    ),
  );
  return results;
}

import pLimit from 'p-limit';
import type { HostVars } from '../inventory/vars.js';
import type { SshConnection } from '../ssh/connection.js';
import { runHost, type PlannedTask } from './host-run.js';
import { writeJournal } from './journal.js';
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
  journalDir?: string;
}

/**
 * The hosts of one batch, in parallel up to `forks`, with no barrier between tasks across hosts:
 * each host runs its own pipeline start to finish. Each host's result is added to `run` and the
 * journal rewritten as it finishes, so an interrupted run still leaves a record of every host.
 * The run's status is the rollout's business (run-playbook.ts), not this batch's.
 */
export async function runHosts(input: RunInput, run: RunResult): Promise<HostResult[]> {
  const limit = pLimit(Math.max(1, input.forks));
  let journalWrite = writeJournal(run, input.journalDir);
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
        });
        run.hosts.push(r);
        // Serialise journal writes; each one is a full, atomic rewrite.
        journalWrite = journalWrite.then(() => writeJournal(run, input.journalDir));
        return r;
      }),
    ),
  );
  await journalWrite;
  return results;
}

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
  runId: string;
  playbook: string;
  inventory: string;
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
 * All hosts of one batch, in parallel up to `forks`, with no barrier between tasks across hosts:
 * each host runs its own pipeline start to finish. The journal is rewritten as hosts finish so an
 * interrupted run still leaves a record of every host's state.
 */
export async function runHosts(input: RunInput, base?: RunResult): Promise<RunResult> {
  const result: RunResult = base ?? {
    runId: input.runId,
    playbook: input.playbook,
    inventory: input.inventory,
    check: input.check,
    startedAt: new Date().toISOString(),
    status: 'running',
    hosts: [],
  };
  await writeJournal(result, input.journalDir);
  const limit = pLimit(Math.max(1, input.forks));
  let journalWrite = Promise.resolve('');
  await Promise.all(
    input.hosts.map((h) =>
      limit(async (): Promise<HostResult> => {
        const r = await runHost({
          runId: input.runId,
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
        result.hosts.push(r);
        // Serialise journal writes; each one is a full, atomic rewrite.
        journalWrite = journalWrite.then(() => writeJournal(result, input.journalDir));
        return r;
      }),
    ),
  );
  await journalWrite;
  const failed = result.hosts.some((h) => h.status === 'failed' || h.status === 'unreachable');
  result.status = input.signal.aborted ? 'interrupted' : failed ? 'failed' : 'ok';
  result.finishedAt = new Date().toISOString();
  await writeJournal(result, input.journalDir);
  return result;
}

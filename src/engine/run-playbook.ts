import type { Inventory, ResolvedHost } from '../inventory/types.js';
import { resolvePlayHosts } from '../playbook/play-hosts.js';
import type { Play, Playbook } from '../playbook/types.js';
import { getTask } from '../tasks/registry.js';
import { connectorFor, type ConnectionSettings } from './connect.js';
import type { PlannedTask } from './host-run.js';
import { runHosts, type RunHost } from './run.js';
import type { RunReporter, RunResult } from './types.js';

export interface PlaybookRunOptions {
  runId: string;
  check: boolean;
  noRollback: boolean;
  forceLockoutRisk?: boolean;
  forks: number;
  limit?: string;
  /** Command-line overrides of the play's confirm / confirm_timeout. */
  confirm?: 'auto' | 'manual';
  confirmTimeoutSec?: number;
  connection: ConnectionSettings;
  journalDir?: string;
  signal: AbortSignal;
  /** Called once per play, before its hosts start, so the UI can lay out its rows. */
  reporterFor(play: Play, hosts: RunHost[]): { reporter: RunReporter; done?: Promise<unknown> };
}

export interface ResolvedPlay {
  play: Play;
  hosts: ResolvedHost[];
}

/** Resolves every play's hosts and variables up front, so bad input stops the run before any host is touched. */
export function resolvePlays(inventory: Inventory, playbook: Playbook, limit?: string): ResolvedPlay[] {
  return playbook.plays.map((play) => ({ play, hosts: resolvePlayHosts(inventory, playbook, play, limit) }));
}

export function plannedTasks(play: Play): PlannedTask[] {
  return play.tasks.map((t) => ({ task: getTask(t.task), params: t.params }));
}

export function runHostsOf(rp: ResolvedPlay, settings: ConnectionSettings): RunHost[] {
  const tasks = plannedTasks(rp.play);
  return rp.hosts.map((h) => ({ name: h.name, vars: h.vars, tasks, connect: connectorFor(h.name, h.vars, settings) }));
}

/** Plays run one after another; within a play every host runs its own pipeline in parallel. */
export async function runPlaybook(
  inventory: Inventory,
  playbook: Playbook,
  plays: ResolvedPlay[],
  opts: PlaybookRunOptions,
): Promise<RunResult> {
  let result: RunResult | undefined;
  for (const rp of plays) {
    if (opts.signal.aborted) break;
    // As in Ansible, a host that failed in an earlier play takes no part in the later ones.
    const failedBefore = new Set(result?.hosts.filter((h) => h.status !== 'ok' && h.status !== 'changed').map((h) => h.host));
    const hosts = runHostsOf(rp, opts.connection).filter((h) => !failedBefore.has(h.name));
    const { reporter, done } = opts.reporterFor(rp.play, hosts);
    result = await runHosts(
      {
        runId: opts.runId,
        playbook: playbook.file,
        inventory: inventory.file,
        hosts,
        check: opts.check,
        noRollback: opts.noRollback,
        forceLockoutRisk: opts.forceLockoutRisk,
        forks: opts.forks,
        commandTimeoutMs: opts.connection.commandTimeoutMs,
        confirm: opts.confirm ?? rp.play.confirm,
        confirmTimeoutSec: opts.confirmTimeoutSec ?? rp.play.confirm_timeout,
        reporter,
        signal: opts.signal,
        journalDir: opts.journalDir,
      },
      result,
    );
    await done;
  }
  return (
    result ?? {
      runId: opts.runId,
      playbook: playbook.file,
      inventory: inventory.file,
      check: opts.check,
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
      status: 'ok',
      hosts: [],
    }
  );
}

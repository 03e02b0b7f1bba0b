import type { Inventory, ResolvedHost } from '../inventory/types.js';
import { resolvePlayHosts } from '../playbook/play-hosts.js';
import type { Play, Playbook } from '../playbook/types.js';
import { getTask } from '../tasks/registry.js';
import { askSshAhead, connectorFor, type ConnectionSettings } from './connect.js';
import type { PlannedTask } from './host-run.js';
import { JournalWriter } from './journal.js';
import { acquireRunLock } from './run-lock.js';
import { CacheRecord } from './script-cache.js';
import {
  batchVerdict,
  initialRolloutState,
  interruptedStop,
  markBatchStarted,
  planRollout,
  recordBatch,
  rolloutSummary,
  shouldStartNextBatch,
  stopRollout,
  type NextBatchDecision,
  type RolloutState,
} from './rollout.js';
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
  /** Outside a maintenance window: wait for it to open instead of stopping. */
  waitForWindow?: boolean;
  /** Continue this earlier run: only the hosts its rollout had not done. */
  resume?: RunResult;
  connection: ConnectionSettings;
  journalDir?: string;
  /** Keep each change's diff in the results (--diff). */
  keepDiffs?: boolean;
  signal: AbortSignal;
  /** Progress text (batch starts, waits, stops). */
  say(line: string): void;
  /** Called once per batch, before its hosts start, so the UI can lay out its rows. */
  reporterFor(play: Play, hosts: RunHost[]): { reporter: RunReporter; done?: Promise<unknown> };
  now?: () => Date;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** How a play's hosts are reached (default: runHostsOf over SSH); tests pass fakes. */
  hostsOf?: (rp: ResolvedPlay) => RunHost[];
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
  return rp.hosts.map((h) => ({ name: h.name, vars: h.vars, tasks, connect: connectorFor(h.name, h.vars, settings, h.varSources) }));
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/**
 * Plays run one after another. Within a play, hosts are rolled out in batches (`serial`): a batch
 * starts only inside all its hosts' maintenance windows, its hosts run in parallel, and a batch with
 * more failures than `max_fail_percentage` (or a window that closed) stops the rollout. The rollout
 * state goes into the journal after every batch, so `--resume` can continue with the hosts not done.
 */
export async function runPlaybook(
  inventory: Inventory,
  playbook: Playbook,
  plays: ResolvedPlay[],
  opts: PlaybookRunOptions,
): Promise<RunResult> {
  // Every play's hosts and how to reach them, before anything starts: a host edge may not run on
  // (a login without become) stops the run before any host is touched, not at its play.
  const hostsOf = opts.hostsOf ?? ((x: ResolvedPlay) => runHostsOf(x, opts.connection));
  if (!opts.hostsOf) await askSshAhead(plays.flatMap((p) => p.hosts), opts.connection, opts.signal);
  // Interrupted while ssh_config was asked: no host will start, so none is resolved (each would
  // now ask ssh -G in turn, for minutes on a large fleet); runPlays records the interruption.
  const hostsByPlay = opts.signal.aborted ? plays.map(() => []) : plays.map(hostsOf);
  // One process per run id: a --resume of a run that is still going is refused here.
  const release = opts.check ? () => {} : acquireRunLock(opts.resume?.runId ?? opts.runId, opts.journalDir);
  try {
    return await runPlays(inventory, playbook, plays, hostsByPlay, opts);
  } finally {
    release();
  }
}

async function runPlays(
  inventory: Inventory,
  playbook: Playbook,
  plays: ResolvedPlay[],
  hostsByPlay: RunHost[][],
  opts: PlaybookRunOptions,
): Promise<RunResult> {
  const now = opts.now ?? (() => new Date());
  const sleep = opts.sleep ?? abortableSleep;
  const result: RunResult = opts.resume
    ? { ...opts.resume, status: 'running', finishedAt: undefined, rollout: [...(opts.resume.rollout ?? [])] }
    : {
        runId: opts.runId,
        playbook: playbook.file,
        inventory: inventory.file,
        check: opts.check,
        startedAt: now().toISOString(),
        status: 'running',
        hosts: [],
        rollout: [],
      };
  const rollouts = result.rollout!;
  const journal = JournalWriter.open(result, opts.journalDir);
  const scriptCache = new CacheRecord();
  let stopped = false;

  for (const [playAt, rp] of plays.entries()) {
    if (opts.signal.aborted || stopped) break;
    // As ansible-playbook: a play whose pattern (and --limit) selects nobody is said to be skipped.
    if (rp.hosts.length === 0) {
      opts.say(`PLAY ${rp.play.name}: skipping: no hosts matched`);
      continue;
    }
    const previous = rollouts.find((r) => r.play === rp.play.index);
    // As in Ansible, a host that failed in an earlier play takes no part in the later ones.
    const failedBefore = new Set(
      rollouts.filter((r) => r.play < rp.play.index).flatMap((r) => r.hosts.filter((h) => h.state !== 'done').map((h) => h.name)),
    );
    const todo = new Set(previous ? previous.hosts.filter((h) => h.state !== 'done').map((h) => h.name) : rp.hosts.map((h) => h.name));
    const hosts = hostsByPlay[playAt]!.filter(
      (h) => todo.has(h.name) && !failedBefore.has(h.name),
    );
    const taken = new Set(hosts.map((h) => h.name));
    const plan = planRollout(
      rp.play,
      rp.hosts.filter((h) => taken.has(h.name)),
    );
    let state: RolloutState = initialRolloutState(rp.play.index, plan);
    let rerun: string[] = [];
    if (previous) {
      // The hosts run now are planned afresh and their old results give way to the new attempt's.
      // Every other host keeps its entry as it was: those the earlier attempt finished, and those
      // not done that this attempt leaves out (--limit), so a later --resume still finds them.
      const fresh = new Map(state.hosts.map((h) => [h.name, h]));
      const merged = previous.hosts.map((h) => fresh.get(h.name) ?? h);
      state = { ...state, hosts: merged, finished: state.finished && !merged.some((h) => h.state === 'not-started') };
      rollouts.splice(rollouts.indexOf(previous), 1);
      result.hosts = result.hosts.filter((h) => !fresh.has(h.host));
      rerun = [...fresh.keys()];
    }
    rollouts.push(state);
    journal.play(state, rerun);
    const byName = new Map(hosts.map((h) => [h.name, h]));
    let batchStartedAt: Date | undefined;

    for (const [i, batch] of plan.batches.entries()) {
      if (opts.signal.aborted) {
        state = stopRollout(state, { reason: 'interrupted', message: 'interrupted' }, now());
        break;
      }
      // Check mode changes nothing, so it is not held to maintenance windows (drift checks run any time).
      let decision: NextBatchDecision = opts.check
        ? { action: 'start' }
        : shouldStartNextBatch({ next: batch, now: now(), previousBatchStartedAt: batchStartedAt, waitForWindow: opts.waitForWindow === true });
      while (decision.action === 'wait' && !opts.signal.aborted) {
        opts.say(`batch ${i + 1}/${plan.batches.length}: outside the maintenance window; waiting until ${decision.until.toISOString()}`);
        await sleep(Math.max(1000, decision.until.getTime() - now().getTime()), opts.signal);
        decision = shouldStartNextBatch({ next: batch, now: now(), previousBatchStartedAt: batchStartedAt, waitForWindow: true });
      }
      if (decision.action === 'stop') {
        state = stopRollout(state, { reason: decision.reason, message: decision.message, opensAt: decision.opensAt }, now());
        opts.say(`rollout stopped before batch ${i + 1}/${plan.batches.length}: ${decision.message}`);
        stopped = true;
        break;
      }
      if (decision.action !== 'start') {
        // Interrupted while waiting for the window.
        state = stopRollout(state, { reason: 'interrupted', message: 'interrupted while waiting for the maintenance window' }, now());
        break;
      }
      batchStartedAt = now();
      state = markBatchStarted(state, i);
      const batchHosts = batch.map((h) => byName.get(h.name)!);
      if (plan.batches.length > 1) opts.say(`batch ${i + 1}/${plan.batches.length}: ${batchHosts.map((h) => h.name).join(', ')}`);
      const { reporter, done } = opts.reporterFor(rp.play, batchHosts);
      const batchResults = await runHosts(
        {
          hosts: batchHosts,
          check: opts.check,
          noRollback: opts.noRollback,
          forceLockoutRisk: opts.forceLockoutRisk,
          forks: opts.forks,
          commandTimeoutMs: opts.connection.commandTimeoutMs,
          confirm: opts.confirm ?? rp.play.confirm,
          confirmTimeoutSec: opts.confirmTimeoutSec ?? rp.play.confirm_timeout,
          reporter,
          signal: opts.signal,
          keepDiffs: opts.keepDiffs,
          scriptCache,
          journal,
        },
        result,
      );
      await done;
      state = recordBatch(state, i, batchResults);
      rollouts[rollouts.length - 1] = state;
      journal.rollout(state, state.hosts.filter((h) => h.batch === i));
      if (opts.signal.aborted) {
        state = stopRollout(state, interruptedStop(batchResults), now());
        break;
      }
      const verdict = batchVerdict(batchResults, plan.maxFailPercentage);
      if (verdict.action === 'stop') {
        state = stopRollout(state, { reason: verdict.reason, message: verdict.message }, now());
        opts.say(`rollout stopped after batch ${i + 1}/${plan.batches.length}: ${verdict.message}`);
        stopped = true;
        break;
      }
      if (i < plan.batches.length - 1 && plan.pauseBetweenBatches > 0) {
        opts.say(`pausing ${plan.pauseBetweenBatches} s before the next batch`);
        await sleep(plan.pauseBetweenBatches * 1000, opts.signal);
      }
    }
    rollouts[rollouts.length - 1] = state;
    journal.rollout(state, []);
    if (plan.batches.length > 1 || state.stop) opts.say(`rollout of play "${rp.play.name}": ${rolloutSummary(state)}`);
  }

  const order = new Map(plays.flatMap((rp) => rp.hosts.map((h) => h.name)).map((n, i) => [n, i]));
  result.hosts.sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
  const failed = result.hosts.some((h) => h.status === 'failed' || h.status === 'unreachable');
  result.status = opts.signal.aborted ? 'interrupted' : failed ? 'failed' : stopped ? 'stopped' : 'ok';
  result.finishedAt = now().toISOString();
  journal.end(result);
  return result;
}

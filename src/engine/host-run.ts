import { EdgeError, errorMessage, lastLines, placedMessage } from '../errors.js';
import { parseFacts } from '../facts/parse.js';
import { probeScript } from '../facts/probe.js';
import { mergeNeeds, type Facts } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import type { SshConnection } from '../ssh/connection.js';
import type { Plan, Task, TaskName } from '../tasks/contract.js';
import { checkKey, gatherAndPlan, type Gathered, type Planned } from './gather.js';
import { emptyManifest } from './snapshot.js';
import { awaitHostSettled, BOOT_ID_ECHO, parseBootId, sessionCutOff, SETTLE_MARGIN_MS } from './host-settle.js';
import { confirmScript, deadlineUnderLease, disarmScript, execLeaseSeconds } from './deadman.js';
import { LOCK_LIB, lockCall, lockScript, newHolder, SETTLE_LIB, unlockScript, type LockHolder } from './host-lock.js';
import type { CacheRecord } from './script-cache.js';
import { applyScript, restoreCommand, STEP_MARK, verifyScript, type ApplyTask, type StepPhase } from './task-script.js';
import { removedPackagesNote } from './pkg-snapshot.js';
import type { ChangeReport, HostResult, RunReporter, TaskResult } from './types.js';

export interface PlannedTask {
  task: Task<unknown>;
  params: unknown;
}

export interface HostRunInput {
  runId: string;
  host: string;
  vars: HostVars;
  tasks: PlannedTask[];
  check: boolean;
  noRollback: boolean;
  /** Apply even where the lockout preflight says the change would cut edge's own session. */
  forceLockoutRisk?: boolean;
  commandTimeoutMs: number;
  /** Dead-man timer: the host restores itself this many seconds after edge's last change unless confirmed. */
  confirmTimeoutSec: number;
  /** auto: confirm over a NEW connection after verify; manual: leave armed for `edge confirm`. */
  confirm: 'auto' | 'manual';
  connect: () => Promise<SshConnection>;
  reporter: RunReporter;
  /** Checked before each new step; when aborted, no new task starts. */
  signal: AbortSignal;
  /** Keep each change's diff in the result (--diff); otherwise its summary is enough. */
  keepDiffs?: boolean;
  /** Which scripts the host holds by hash: a no-op then sends a reference instead of the probe. */
  scriptCache?: CacheRecord;
}

const now = () => performance.now();

/** Gathers facts in one exec. Exported for `edge status`, `edge pick` and tests. */
export async function gatherFacts(conn: SshConnection, host: string, vars: HostVars, tasks: PlannedTask[], timeoutMs: number): Promise<Facts> {
  const needs = mergeNeeds(...tasks.map((t) => t.task.needs(vars, t.params)));
  const res = await conn.exec(probeScript(needs), { timeoutMs });
  if (res.code !== 0 && !res.stdout.includes('@@EDGE@@ end')) {
    throw new EdgeError('EXEC', `fact gathering failed (exit ${res.code}): ${res.stderr.trim().slice(0, 500)}`, { host });
  }
  return parseFacts(host, res.stdout, needs);
}

/**
 * One host, start to finish: connect, gather facts (one exec), plan every task (pure), and — unless
 * in check mode — apply each task with changes in one exec, rolling the host back from its snapshot
 * if a task fails. Never throws: every outcome is a HostResult.
 */
export async function runHost(input: HostRunInput): Promise<HostResult> {
  const { host, reporter } = input;
  const started = now();
  const result: HostResult = {
    host,
    status: 'ok',
    state: 'unchanged',
    tasks: [],
    durationMs: 0,
    execs: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };
  reporter.hostStarted(host, input.tasks.map((t) => t.task.name));
  let conn: SshConnection | undefined;
  const finish = (): HostResult => {
    if (conn) {
      result.execs += conn.execs;
      result.bytesSent += conn.bytesSent;
      result.bytesReceived += conn.bytesReceived;
      conn.close();
    }
    result.durationMs = Math.round(now() - started);
    reporter.hostFinished(result);
    return result;
  };

  if (input.signal.aborted) {
    result.status = 'interrupted';
    result.error = 'interrupted before the host was started';
    return finish();
  }

  try {
    reporter.hostStep(host, 'connect');
    conn = await input.connect();
  } catch (e) {
    result.status = 'unreachable';
    result.error = placedMessage(e);
    return finish();
  }

  // The host's lock, from the facts the run plans from to its confirm (not for --check: it changes nothing).
  const holder = newHolder(input.runId, 'run', execLeaseSeconds(input.commandTimeoutMs) + input.confirmTimeoutSec + 60);
  let taken: TakenHost;
  try {
    taken = await takeHost(input, conn, holder);
  } catch (e) {
    result.status = 'failed';
    result.error = errorMessage(e);
    return finish();
  }
  if (taken.notes.length) result.notes = taken.notes;

  lockoutPreflight(taken.planned, input.forceLockoutRisk === true);
  if (refuseFailedPreconditions(input, taken.planned, result)) return finish();

  const applied = await applyTasks(input, conn, taken, result);
  if (result.status === 'ok' && result.tasks.some((t) => t.status === 'changed')) result.status = 'changed';

  // A host left part-way (failed or interrupted after changes began, or just before its confirm)
  // goes back to its snapshot.
  if (applied && (result.status === 'ok' || result.status === 'changed')) {
    if ((await confirmHost(input, result, holder, taken.bootId)) === 'interrupted') await undoPartialRun(input, conn, result, holder, taken.bootId);
  } else if (applied) await undoPartialRun(input, conn, result, holder, taken.bootId);
  return finish();
}

/** What the facts exec brought back, with the lock taken (unless --check). */
interface TakenHost {
  facts: Facts;
  planned: Planned[];
  probeChecks: Gathered['checks'];
  /** The host's boot id when the run took it: a different one later means it rebooted. */
  bootId?: string;
  /** What taking the host over did (a stale lock, an unsettled run restored first): worth telling. */
  notes: string[];
}

/** Facts and plan in one exec; for a run that may change the host, the lock and a settled past are taken in it too. */
async function takeHost(input: HostRunInput, conn: SshConnection, holder: LockHolder): Promise<TakenHost> {
  input.reporter.hostStep(input.host, 'facts');
  // The lock's definitions travel with the probe in --check too: one cached script serves both.
  const call = input.check ? '' : `${lockCall(holder)}edge_settle_pending\n${BOOT_ID_ECHO}`;
  const sent = Date.now();
  const gathered = await gatherAndPlan(conn, {
    host: input.host,
    vars: input.vars,
    tasks: input.tasks,
    check: input.check,
    timeoutMs: input.commandTimeoutMs,
    prelude: { lib: `${LOCK_LIB}${SETTLE_LIB}`, call },
    cache: input.scriptCache,
  });
  const { facts, planned, checks, stderr } = gathered;
  const notes = [
    ...gathered.notes,
    ...stderr
      .split('\n')
      .filter((l) => /^edge: (took over|run \S+ was left unsettled)/.test(l))
      .map((l) => l.replace(/^edge: /, '')),
  ];
  const boot = parseBootId(stderr);
  const skew = boot ? clockSkewNote(boot.clockSec, sent, Date.now()) : undefined;
  if (skew) notes.push(skew);
  return { facts, planned, probeChecks: checks, bootId: boot?.bootId, notes };
}

/** Beyond this, a controller's clock that disagrees with a router's is worth a warning. */
const CLOCK_SKEW_WARN_SEC = 60;

/**
 * The router read its clock (`routerSec`) somewhere between `sentMs` and `answeredMs` of ours: a
 * note when that cannot be explained by the exec's own time and is off by more than a minute.
 * Nothing is ordered by the controller's clock; its time still lands in run ids and journals.
 */
export function clockSkewNote(routerSec: number, sentMs: number, answeredMs: number): string | undefined {
  const router = routerSec * 1000;
  const off = router < sentMs - 1000 ? router - (sentMs - 1000) : router > answeredMs + 1000 ? router - (answeredMs + 1000) : 0;
  const sec = Math.round(Math.abs(off) / 1000);
  if (sec <= CLOCK_SKEW_WARN_SEC) return undefined;
  return `WARNING: this controller's clock is ${sec} s ${off > 0 ? 'behind' : 'ahead of'} the host's: the host orders runs by its own sequence, but run ids and journal times carry this controller's clock; set it right (NTP)`;
}

/**
 * The lockout preflight: a plan that would cut edge's own session is a precondition failure,
 * unless the operator forces it (and then the dead-man timer is what brings the host back).
 */
function lockoutPreflight(planned: Planned[], force: boolean): void {
  for (const p of planned) {
    const risks = p.plan.lockout ?? [];
    if (!risks.length) continue;
    if (force) p.plan.notes = [...(p.plan.notes ?? []), ...risks.map((r) => `LOCKOUT RISK (forced): ${r}`)];
    else p.plan.failures = [...(p.plan.failures ?? []), ...risks.map((r) => `lockout preflight: ${r} (--force-lockout-risk to apply anyway)`)];
  }
}

/** A host that fails its preconditions is refused before anything is changed on it; true if it was. */
function refuseFailedPreconditions(input: HostRunInput, planned: Planned[], result: HostResult): boolean {
  const refused = planned.filter((p) => p.plan.failures?.length);
  if (!refused.length) return false;
  for (const p of planned) {
    const failures = p.plan.failures ?? [];
    const tr: TaskResult = {
      task: p.entry.task.name,
      status: failures.length ? 'failed' : 'skipped',
      changes: [],
      durationMs: 0,
      execs: 0,
      error: failures.length ? failures.join('; ') : undefined,
    };
    input.reporter.taskStarted(input.host, tr.task);
    input.reporter.taskFinished(input.host, tr);
    result.tasks.push(tr);
  }
  result.status = 'failed';
  result.error = refused.flatMap((p) => p.plan.failures ?? []).join('; ');
  return true;
}

/**
 * The plan's tasks on the host. With changes (and not --check): ONE exec applies them all and
 * verifies (applyInOneExec). Without: each task is reported in order, the verify task answered by
 * the probe, which ran the same check (gather.ts), so a no-op run is one exec. True once the apply
 * exec was sent.
 */
async function applyTasks(input: HostRunInput, conn: SshConnection, taken: TakenHost, result: HostResult): Promise<boolean> {
  if (!input.check && taken.planned.some((p) => p.plan.changes.length)) return applyInOneExec(input, conn, taken, result);
  await reportUnchanged(input, conn, taken, result);
  return false;
}

function taskResult(p: Planned, keepDiffs: boolean): TaskResult {
  const status = p.plan.changes.length ? 'changed' : 'ok';
  return { task: p.entry.task.name, status, changes: changeReports(p.plan, keepDiffs), durationMs: 0, execs: 0, notes: p.plan.notes };
}

async function reportUnchanged(input: HostRunInput, conn: SshConnection, taken: TakenHost, result: HostResult): Promise<void> {
  const { host, reporter } = input;
  for (const [i, p] of taken.planned.entries()) {
    if (input.signal.aborted) {
      result.status = 'interrupted';
      result.error = `interrupted before ${p.entry.task.name}`;
      break;
    }
    reporter.taskStarted(host, p.entry.task.name);
    const t0 = now();
    const execsBefore = conn.execs;
    const tr = taskResult(p, input.keepDiffs === true);
    try {
      const verify = !input.check && p.entry.task.alwaysVerify ? p.entry.task.verify?.({ host, vars: input.vars, facts: taken.facts, params: p.entry.params }) : undefined;
      if (verify) {
        const res = taken.probeChecks[checkKey(i)] ?? (await conn.exec(verifyScript(verify), { timeoutMs: input.commandTimeoutMs }));
        if (res.code !== 0) throw new EdgeError('VERIFY', lastLines(res.stderr) || `exit ${res.code}`, { host });
      }
    } catch (e) {
      failTask(tr, result, e);
    }
    tr.durationMs = Math.round(now() - t0);
    tr.execs = conn.execs - execsBefore;
    result.tasks.push(tr);
    reporter.taskFinished(host, tr);
    if (tr.status === 'failed') break;
  }
}

function failTask(tr: TaskResult, result: HostResult, e: unknown): void {
  tr.status = 'failed';
  tr.error = errorMessage(e);
  result.status = 'failed';
  result.error = `${tr.task}: ${tr.error}`;
}

/**
 * Every task in one exec (task-script.ts applyScript). The exec streams a marker as it enters each
 * task's apply, units and verify steps: the live view starts each task as its marker arrives, and a
 * task's time is the sum of its steps. A failing step ends the exec; the task whose step it was
 * fails, the tasks after it (if it failed while applying) are not reported, as when each task was
 * its own exec.
 */
async function applyInOneExec(input: HostRunInput, conn: SshConnection, taken: TakenHost, result: HostResult): Promise<boolean> {
  const { host, reporter } = input;
  const { planned, facts } = taken;
  if (input.signal.aborted) {
    result.status = 'interrupted';
    result.error = `interrupted before ${planned[0]?.entry.task.name ?? 'the apply'}`;
    return false;
  }
  const trs = planned.map((p) => taskResult(p, input.keepDiffs === true));
  const tasks: ApplyTask[] = planned.map((p) => {
    const verifies = p.plan.changes.length > 0 || p.entry.task.alwaysVerify === true;
    const verify = verifies ? p.entry.task.verify?.({ host, vars: input.vars, facts, params: p.entry.params }) : undefined;
    return verify ? { name: p.entry.task.name, changes: p.plan.changes, verify } : { name: p.entry.task.name, changes: p.plan.changes };
  });
  const script = applyScript({
    manifest: emptyManifest(input.runId, host),
    facts,
    tasks,
    keepSnapshots: input.vars.edge_snapshots_keep,
    confirmSeconds: input.confirmTimeoutSec,
    leaseSeconds: execLeaseSeconds(input.commandTimeoutMs),
  });
  // A line as each task's changes start: progress for long applies, and a write that meets a
  // closed output (`| head`) while the host is being changed rather than after its confirm.
  const progress = new StepProgress(trs, (i, phase) => {
    if (phase === 'apply') reporter.hostStep(host, 'apply', trs[i]!.task);
    reporter.taskStarted(host, trs[i]!.task);
  });
  result.state = 'applying';
  let failure: unknown;
  try {
    const res = await conn.exec(script, { timeoutMs: input.commandTimeoutMs, onStderr: (d) => progress.feed(d) });
    if (res.code !== 0) failure = new EdgeError('TASK', lastLines(withoutSteps(res.stderr)) || `exit ${res.code}`, { host });
  } catch (e) {
    failure = e;
  }
  progress.end();
  const at = progress.last ?? { i: Math.max(0, trs.findIndex((t) => t.status === 'changed')), phase: 'apply' as StepPhase };
  trs[trs.findIndex((t) => t.status === 'changed')]!.execs = 1;
  const shown = failure && at.phase === 'apply' ? trs.slice(0, at.i + 1) : trs;
  if (failure) failTask(trs[at.i]!, result, failure);
  else result.state = 'applied';
  // An interruption that arrived while the one exec ran is handled as at a task boundary: the
  // host is restored from its snapshot, never confirmed.
  if (!failure && input.signal.aborted) {
    result.status = 'interrupted';
    result.error = 'interrupted during the apply';
  }
  for (const [i, tr] of shown.entries()) {
    if (!progress.started.has(i)) reporter.taskStarted(host, tr.task);
    result.tasks.push(tr);
    reporter.taskFinished(host, tr);
  }
  return true;
}

const withoutSteps = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => !l.startsWith(STEP_MARK))
    .join('\n');

/** Reads the apply exec's step markers as stderr streams in: which task is on, and for how long. */
class StepProgress {
  readonly started = new Set<number>();
  last: { i: number; phase: StepPhase } | undefined;
  private since = now();
  private partial = '';
  constructor(
    private readonly trs: TaskResult[],
    private readonly onStart: (i: number, phase: StepPhase) => void,
  ) {}

  feed(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = line.startsWith(STEP_MARK) ? /^\S+ (\d+) (apply|units|verify)$/.exec(line) : null;
      const i = m ? Number(m[1]) : -1;
      if (!m || !this.trs[i]) continue;
      this.end();
      this.last = { i, phase: m[2] as StepPhase };
      if (!this.started.has(i)) {
        this.started.add(i);
        this.onStart(i, this.last.phase);
      }
    }
  }

  /** Closes the running step: its time goes to its task. */
  end(): void {
    const t = now();
    if (this.last) this.trs[this.last.i]!.durationMs += Math.round(t - this.since);
    this.since = t;
  }
}

/**
 * A run that failed or was interrupted after its first change: restored from its snapshot now,
 * or by the host's own timer when the session is gone; with --no-rollback, kept for inspection.
 */
async function undoPartialRun(input: HostRunInput, conn: SshConnection, result: HostResult, holder: LockHolder, bootId: string | undefined): Promise<void> {
  if (input.noRollback) {
    // Kept as it is for inspection: that includes not letting the dead-man timer restore it.
    const disarmed = await conn
      .exec(disarmScript(input.runId), { timeoutMs: input.commandTimeoutMs })
      .then((r) => r.code === 0)
      .catch(() => false);
    result.rollback = disarmed
      ? `not rolled back (--no-rollback); snapshot ${input.runId} holds the previous state: edge rollback ${input.runId}`
      : `--no-rollback, but the host could not be reached to disarm its timer: it restores itself in ${input.confirmTimeoutSec} s`;
    return;
  }
  // The failed exec left the timer beyond its lease (it had not re-armed it at its end).
  const firesBy = Date.now() + deadlineUnderLease(input.confirmTimeoutSec, execLeaseSeconds(input.commandTimeoutMs)) * 1000;
  try {
    const res = await conn.exec(restoreCommand(input.runId, 'auto', { lock: lockScript(holder), unlock: unlockScript(holder) }), { timeoutMs: input.commandTimeoutMs });
    if (res.code !== 0) throw new Error(lastLines(res.stderr) || `exit ${res.code}`);
    result.state = 'rolled-back';
    result.rollback = `rolled back automatically to the pre-run snapshot${removedPackagesNote(res.stdout)}`;
  } catch (e) {
    // A session that is gone or no longer answers (the change may have cut it) cannot run the
    // restore; the host's own timer will.
    if (!sessionCutOff(conn, e)) {
      result.state = 'rollback-failed';
      result.rollback = `automatic rollback FAILED: ${errorMessage(e)}; run: edge rollback ${input.runId}`;
      return;
    }
    input.reporter.hostStep(input.host, 'rolling back', `session lost; waiting for the host's own timer or its boot-time restore`);
    const restored = await awaitSelfRestore(input, firesBy, bootId);
    result.state = restored.outcome === 'rolled-back' ? 'rolled-back' : restored.outcome === 'unchanged' ? 'unchanged' : 'rollback-failed';
    result.rollback = restored.message;
  }
}

/**
 * After apply and verify: prove the host is still reachable over a NEW connection (the changed
 * firewall and routes must accept it) and only then disarm its dead-man timer. If no new
 * connection can be made, the timer is left to restore the host; edge waits for it and checks.
 * Interrupted before the commit point: says so, and the caller restores the host.
 */
async function confirmHost(input: HostRunInput, result: HostResult, holder: LockHolder, bootId: string | undefined): Promise<'interrupted' | void> {
  const interrupted = () => {
    result.status = 'interrupted';
    result.error = 'interrupted before the confirm';
    return 'interrupted' as const;
  };
  if (input.signal.aborted) return interrupted();
  if (input.confirm === 'manual') {
    result.state = 'armed';
    result.rollback = `armed: restores itself ${input.confirmTimeoutSec} s after apply unless confirmed with: edge confirm ${input.runId}`;
    return;
  }
  // The apply exec re-armed the timer at its end: it fires at the latest confirmTimeoutSec from now.
  const firesBy = Date.now() + input.confirmTimeoutSec * 1000;
  let fresh: SshConnection | undefined;
  try {
    fresh = await input.connect();
    // An interruption seen meanwhile (a closed output shows at the write after the task lines,
    // a signal at any time) comes before the commit point: the host is restored, not confirmed.
    if (input.signal.aborted) return interrupted();
    const res = await fresh.exec(confirmScript(input.runId, holder), { timeoutMs: input.commandTimeoutMs });
    if (res.code !== 0) throw new EdgeError('EXEC', lastLines(res.stderr) || `exit ${res.code}`, { host: input.host });
    result.state = 'confirmed';
    return;
  } catch (e) {
    result.status = 'failed';
    result.error = `confirm over a new connection failed: ${errorMessage(e)}`;
  } finally {
    if (fresh) {
      result.execs += fresh.execs;
      result.bytesSent += fresh.bytesSent;
      result.bytesReceived += fresh.bytesReceived;
      fresh.close();
    }
  }
  input.reporter.hostStep(input.host, 'rolling back', `waiting for the host's own timer (${input.confirmTimeoutSec} s) or its boot-time restore`);
  result.state = 'applying';
  const settled = await awaitSelfRestore(input, firesBy, bootId);
  result.rollback = settled.message;
  if (settled.outcome === 'rolled-back') result.state = 'rolled-back';
  if (settled.outcome === 'unchanged') result.state = 'unchanged';
  if (settled.outcome === 'confirmed') {
    // The confirm reached its commit point on the host before the connection went: it is kept.
    result.state = 'confirmed';
    result.status = 'changed';
    result.error = undefined;
  }
}

/**
 * After edge lost a host part-way (its session was cut, it rebooted, a change cut edge off): waits
 * for the host to say how the run ended — restored by its own timer, restored at boot (the boot id
 * changed), or confirmed (the confirm's commit point was reached before the connection went) — or
 * until SETTLE_MARGIN_MS past the timer's deadline (`firesBy`). So edge reports what the host did
 * within confirm timeout + boot + margin, and a reboot is seen as soon as the host answers again.
 */
async function awaitSelfRestore(
  input: HostRunInput,
  firesBy: number,
  bootId: string | undefined,
): Promise<{ outcome: 'rolled-back' | 'confirmed' | 'unchanged' | 'unknown'; message: string }> {
  const seen = await awaitHostSettled(input.connect, input.runId, { bootId, dueBy: firesBy }, (st) => {
    // Rebooted before the run's first change (no state recorded): scripts from before the boot are gone.
    if (st.rebooted && (st.state === 'unknown' || st.state === 'none'))
      return { outcome: 'unchanged' as const, message: 'the host rebooted before the run changed anything: it is as it was' };
    if (st.state === 'confirmed') return { outcome: 'confirmed' as const, message: 'the host recorded the confirmation before the connection was lost: the change is kept' };
    if (st.state !== 'rolled-back') return undefined;
    const how =
      st.restoredBy === 'boot' ? 'the host rebooted before the run was confirmed and restored the pre-run snapshot at boot'
      : st.restoredBy === 'takeover' ? 'another edge found the run unsettled on the host and restored the pre-run snapshot'
      : st.restoredBy === 'timer' ? 'the host restored itself from the pre-run snapshot (dead-man timer)'
      : `the host is back on the pre-run snapshot (restored by ${st.restoredBy ?? 'edge'})`;
    return { outcome: 'rolled-back' as const, message: `${how} and is reachable again` };
  });
  if (seen.value) return seen.value;
  return {
    outcome: 'unknown',
    message: `the host did not report a restore within ${SETTLE_MARGIN_MS / 1000} s of its timer's deadline (last seen: ${seen.last}); check it out of band, then: edge rollback ${input.runId}`,
  };
}

/** What a result keeps of a plan's changes: diffs only when asked for (they are most of a result's size). */
function changeReports(plan: Plan, keepDiffs: boolean): ChangeReport[] {
  return plan.changes.map((c) => (keepDiffs ? { summary: c.summary, diff: c.diff } : { summary: c.summary }));
}


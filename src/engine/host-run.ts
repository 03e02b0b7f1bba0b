import { EdgeError, errorMessage, placedMessage } from '../errors.js';
import { parseFacts } from '../facts/parse.js';
import { probeScript } from '../facts/probe.js';
import { mergeNeeds, type Facts } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import type { SshConnection } from '../ssh/connection.js';
import type { Plan, Task, TaskName } from '../tasks/contract.js';
import { emptyManifest } from './snapshot.js';
import { withConnection } from './connect.js';
import { confirmScript, disarmScript, stateScript } from './deadman.js';
import { restoreCommand, taskScript, verifyScript } from './task-script.js';
import type { HostResult, RunReporter, TaskResult } from './types.js';

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
}

interface Planned {
  entry: PlannedTask;
  plan: Plan;
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

  let planned: Planned[];
  let facts: Facts;
  try {
    reporter.hostStep(host, 'facts');
    facts = await gatherFacts(conn, host, input.vars, input.tasks, input.commandTimeoutMs);
    reporter.hostStep(host, 'plan');
    planned = input.tasks.map((entry) => ({
      entry,
      plan: entry.task.plan({ host, vars: input.vars, facts, params: entry.params }),
    }));
  } catch (e) {
    result.status = 'failed';
    result.error = errorMessage(e);
    return finish();
  }

  // The lockout preflight: a plan that would cut edge's own session is a precondition failure,
  // unless the operator forces it (and then the dead-man timer is what brings the host back).
  for (const p of planned) {
    const risks = p.plan.lockout ?? [];
    if (!risks.length) continue;
    if (input.forceLockoutRisk) p.plan.notes = [...(p.plan.notes ?? []), ...risks.map((r) => `LOCKOUT RISK (forced): ${r}`)];
    else p.plan.failures = [...(p.plan.failures ?? []), ...risks.map((r) => `lockout preflight: ${r} (--force-lockout-risk to apply anyway)`)];
  }

  // A host that fails its preconditions is refused before anything is changed on it.
  const refused = planned.filter((p) => p.plan.failures?.length);
  if (refused.length) {
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
      reporter.taskStarted(host, tr.task);
      reporter.taskFinished(host, tr);
      result.tasks.push(tr);
    }
    result.status = 'failed';
    result.error = refused.flatMap((p) => p.plan.failures ?? []).join('; ');
    return finish();
  }

  const manifest = emptyManifest(input.runId, host);
  // The last exec that changes something records "applied"; the verify-only execs come after it.
  const lastChanging = planned.map((p) => p.plan.changes.length > 0).lastIndexOf(true);
  let applied = false;

  for (const [i, p] of planned.entries()) {
    const name: TaskName = p.entry.task.name;
    if (input.signal.aborted) {
      result.status = 'interrupted';
      result.error = `interrupted before ${name}`;
      break;
    }
    reporter.taskStarted(host, name);
    const t0 = now();
    const execsBefore = conn.execs;
    const tr: TaskResult = {
      task: name,
      status: p.plan.changes.length ? 'changed' : 'ok',
      changes: p.plan.changes.map((c) => ({ summary: c.summary, diff: c.diff })),
      durationMs: 0,
      execs: 0,
      notes: p.plan.notes,
    };
    try {
      if (!input.check) {
        const ctx = { host, vars: input.vars, facts, params: p.entry.params };
        const verify = p.entry.task.verify?.(ctx);
        if (p.plan.changes.length) {
          const script = taskScript({
            manifest,
            facts,
            changes: p.plan.changes,
            verify,
            first: !applied,
            keepSnapshots: input.vars.edge_snapshots_keep,
            finalState: i === lastChanging ? 'applied' : 'applying',
            deadmanSeconds: input.confirmTimeoutSec,
            execBudgetSeconds: execBudgetSeconds(input),
          });
          applied = true;
          result.state = 'applying';
          const res = await conn.exec(script, { timeoutMs: input.commandTimeoutMs });
          if (res.code !== 0) throw new EdgeError('TASK', lastLines(res.stderr) || `exit ${res.code}`, { host });
          if (i === lastChanging) result.state = 'applied';
        } else if (p.entry.task.alwaysVerify && verify) {
          const res = await conn.exec(verifyScript(verify), { timeoutMs: input.commandTimeoutMs });
          if (res.code !== 0) throw new EdgeError('VERIFY', lastLines(res.stderr) || `exit ${res.code}`, { host });
        }
      }
    } catch (e) {
      tr.status = 'failed';
      tr.error = errorMessage(e);
      result.status = 'failed';
      result.error = `${name}: ${tr.error}`;
    }
    tr.durationMs = Math.round(now() - t0);
    tr.execs = conn.execs - execsBefore;
    result.tasks.push(tr);
    reporter.taskFinished(host, tr);
    if (tr.status === 'failed') break;
  }

  if (result.status === 'ok' && result.tasks.some((t) => t.status === 'changed')) result.status = 'changed';

  if (applied && (result.status === 'ok' || result.status === 'changed')) {
    await confirmHost(input, result);
    return finish();
  }

  // A host left part-way (failed or interrupted after changes began) goes back to its snapshot.
  if (applied && (result.status === 'failed' || result.status === 'interrupted')) {
    if (input.noRollback) {
      // Kept as it is for inspection: that includes not letting the dead-man timer restore it.
      const disarmed = await conn
        .exec(disarmScript(input.runId), { timeoutMs: input.commandTimeoutMs })
        .then((r) => r.code === 0)
        .catch(() => false);
      result.rollback = disarmed
        ? `not rolled back (--no-rollback); snapshot ${input.runId} holds the previous state: edge rollback ${input.runId}`
        : `--no-rollback, but the host could not be reached to disarm its timer: it restores itself in ${input.confirmTimeoutSec} s`;
    } else {
      const firesBy = Date.now() + (input.confirmTimeoutSec + execBudgetSeconds(input)) * 1000;
      try {
        const res = await conn.exec(restoreCommand(input.runId), { timeoutMs: input.commandTimeoutMs });
        if (res.code !== 0) throw new Error(lastLines(res.stderr) || `exit ${res.code}`);
        result.state = 'rolled-back';
        result.rollback = 'rolled back automatically to the pre-run snapshot';
      } catch (e) {
        // A session that is gone or no longer answers (the change may have cut it) cannot run the
        // restore; the host's own timer will.
        const cutOff = !conn.isAlive || (e instanceof EdgeError && (e.code === 'TIMEOUT' || e.code === 'CONNECT'));
        if (!cutOff) {
          result.state = 'rollback-failed';
          result.rollback = `automatic rollback FAILED: ${errorMessage(e)}; run: edge rollback ${input.runId}`;
        } else {
          // The session is gone (the change may have cut it): the host's own timer restores it.
          reporter.hostStep(host, 'rolling back', `session lost; waiting for the host's own timer`);
          const restored = await awaitSelfRestore(input, firesBy);
          result.state = restored.ok ? 'rolled-back' : 'rollback-failed';
          result.rollback = restored.message;
        }
      }
    }
  }
  return finish();
}

/**
 * After apply and verify: prove the host is still reachable over a NEW connection (the changed
 * firewall and routes must accept it) and only then disarm its dead-man timer. If no new
 * connection can be made, the timer is left to restore the host; edge waits for it and checks.
 */
async function confirmHost(input: HostRunInput, result: HostResult): Promise<void> {
  if (input.confirm === 'manual') {
    result.state = 'armed';
    result.rollback = `armed: restores itself ${input.confirmTimeoutSec} s after apply unless confirmed with: edge confirm ${input.runId}`;
    return;
  }
  // The timer was (re)armed by the last changing exec, which ran before this point: it fires at the
  // latest confirmTimeoutSec from now.
  const firesBy = Date.now() + input.confirmTimeoutSec * 1000;
  let fresh: SshConnection | undefined;
  try {
    fresh = await input.connect();
    const res = await fresh.exec(confirmScript(input.runId), { timeoutMs: input.commandTimeoutMs });
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
  input.reporter.hostStep(input.host, 'rolling back', `waiting for the host's own timer (${input.confirmTimeoutSec} s)`);
  result.state = 'applying';
  const restored = await awaitSelfRestore(input, firesBy);
  result.rollback = restored.message;
  if (restored.ok) result.state = 'rolled-back';
}

/**
 * Waits for the host's own timer to fire (by `firesBy`), then reconnects until the host says the
 * run is rolled back, for at most a minute more (a restore takes seconds; connecting may not).
 */
async function awaitSelfRestore(input: HostRunInput, firesBy: number): Promise<{ ok: boolean; message: string }> {
  const deadline = firesBy + 60_000;
  await sleep(Math.max(0, firesBy - Date.now()) + 1000);
  let last = 'unreachable';
  for (;;) {
    try {
      const res = await withConnection(input.connect, (c) => c.exec(stateScript(input.runId), { timeoutMs: 30_000 }));
      last = res.stdout.split('\n')[0]?.trim() || 'unknown';
      if (last === 'rolled-back')
        return { ok: true, message: 'the host restored itself from the pre-run snapshot (dead-man timer) and is reachable again' };
    } catch (e) {
      last = `unreachable: ${errorMessage(e)}`;
    }
    if (Date.now() >= deadline) break;
    await sleep(2000);
  }
  return {
    ok: false,
    message: `the host did not report a restore within 60 s of its timer's deadline (last seen: ${last}); check it out of band, then: edge rollback ${input.runId}`,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * How long the dead-man timer gives one changing exec beyond the confirm timeout. Capped so that a
 * host cut off mid-exec still restores itself within minutes; an exec slower than this (a big apt
 * install) meets the state guard at the next exec and the run fails loudly instead of applying on
 * top of a restored host.
 */
function execBudgetSeconds(input: HostRunInput): number {
  return Math.min(Math.ceil(input.commandTimeoutMs / 1000), 120);
}

function lastLines(s: string, n = 5): string {
  return s.trim().split('\n').slice(-n).join('\n');
}

import type { Facts } from '../facts/types.js';
import { PREAMBLE } from '../render/shell.js';
import { shComment, shQuote } from '../encode/index.js';
import { changeScope, changeShell, unitActionShell } from '../tasks/change-ops.js';
import type { Change } from '../tasks/contract.js';
import { installBootHookScript } from './boot-hook.js';
import { armScript, armUnderLeaseScript, LEASE_LIB, leaseScript } from './deadman.js';
import { BOOT_GENERATOR, HOST_LIB, PENDING_FILE, snapshotDir } from './host-layout.js';
import { pkgStateLib } from './pkg-snapshot.js';
import { ORDER_LIB, recordOrderScript } from './run-order.js';
import { extendSnapshot, pruneScript, SNAPSHOT_LIB, snapshotMkdir, writeManifestScript, type SnapshotManifest } from './snapshot.js';

/** One task of the apply exec: its changes and the check of its result (either may be empty). */
export interface ApplyTask {
  /** Names its pause points (see HOLD_DIR) and its progress markers. */
  name: string;
  changes: Change[];
  verify?: string;
}

export interface ApplyScriptInput {
  manifest: SnapshotManifest;
  facts: Facts;
  tasks: ApplyTask[];
  keepSnapshots: number;
  /** The confirm timeout: the timer fires this long after the exec ends, unless confirmed. */
  confirmSeconds: number;
  /** The exec's lease (execLeaseSeconds of its command timeout): the timer cannot fire while it runs. */
  leaseSeconds: number;
}

/**
 * Progress lines the apply exec writes on stderr, read as they stream (host-run.ts): the task index
 * and the phase it enters (apply, units, verify).
 */
export const STEP_MARK = '@@EDGE-STEP@@';
export type StepPhase = 'apply' | 'units' | 'verify';
const step = (i: number, phase: StepPhase) => `echo '${STEP_MARK} ${i} ${phase}' >&2`;

/**
 * A first apply in one exec: snapshot every scope the plan touches, write the manifest and
 * restore.sh, and only when all of that is on disk, change the host: mark the run pending, install
 * the boot hook, arm the dead-man timer beyond the exec's lease (deadman.ts); then each task's changes in order (files, runtime
 * state), one daemon-reload, each unit enabled/started/restarted once, and every task's verify; the
 * timer is re-armed to count the confirm timeout and the state becomes "applied" last. A cut anywhere before the first change leaves the host as it was (at
 * worst with a pending mark the boot hook or the next run settles); from the first change on, the
 * timer, a reboot or the next edge that takes the host over restores it. A failing step ends the
 * exec (set -e); the engine then restores the snapshot. Pause points for the reboot tests:
 * FIRST:snapshot, TASK:change-N, TASK:done (its changes made), TASK:verify.
 */
export function applyScript(input: ApplyScriptInput): string {
  const { manifest, facts, tasks } = input;
  const dir = snapshotDir(manifest.runId);
  const state = shQuote(`${dir}/state`);
  const hold = (point: string) => `edge_hold ${shQuote(point)}`;
  const scopes = [{ files: [BOOT_GENERATOR] }, ...tasks.flatMap((t) => t.changes.map(changeScope))];
  const save = scopes.map((scope) => extendSnapshot(manifest, scope, facts)).filter(Boolean);
  const first = tasks.find((t) => t.changes.length)?.name ?? tasks[0]?.name ?? 'apply';
  const parts = [
    PREAMBLE,
    HOST_LIB,
    SNAPSHOT_LIB,
    // The records around apt (only an exec that runs apt carries them).
    tasks.some((t) => t.changes.some((c) => c.ops.some((o) => o.kind === 'packages'))) ? pkgStateLib() : '',
    LEASE_LIB,
    ORDER_LIB,
    `# snapshot ${dir}: saved items first, then the manifest that lists them`,
    snapshotMkdir(manifest.runId, true),
    leaseScript(manifest.runId, input.leaseSeconds, true),
    recordOrderScript(manifest.runId),
    ...save,
    writeManifestScript(manifest),
    `sync -f "$D" 2>/dev/null || sync`,
    hold(`${first}:snapshot`),
    // Armed beyond the exec's lease (deadman.ts): no slow task races its own timer.
    armUnderLeaseScript(manifest.runId, input.confirmSeconds, input.leaseSeconds),
    `edge_put ${PENDING_FILE} ${shQuote(manifest.runId)}`,
    installBootHookScript(),
    `edge_put ${state} applying; edge_event "$D" applying`,
    pruneScript(input.keepSnapshots, manifest.runId),
    ...tasks.map((t, i) => taskChanges(t, i, hold)),
    unitsPhase(tasks, hold),
    ...tasks.map((t, i) => (t.verify ? `${step(i, 'verify')}\n${hold(`${t.name}:verify`)}\n# verify ${t.name}\n${t.verify}` : '')),
    // Applied: from here the confirm timeout counts.
    armScript(manifest.runId, input.confirmSeconds),
    `edge_put ${state} applied; edge_event "$D" applied`,
  ];
  return parts.filter(Boolean).join('\n') + '\n';
}

/** A task's changes but their systemd part, which waits for the units phase. */
function taskChanges(t: ApplyTask, i: number, hold: (p: string) => string): string {
  if (!t.changes.length) return '';
  const out = [step(i, 'apply')];
  t.changes.forEach((c, n) => {
    const ops = c.ops.filter((o) => o.kind !== 'units');
    if (ops.length) out.push(hold(`${t.name}:change-${n + 1}`), `# change ${n + 1}: ${shComment(c.summary)}`, changeShell({ ops }));
  });
  out.push(hold(`${t.name}:done`));
  return out.join('\n');
}

/**
 * systemd for the whole plan: one daemon-reload if any task changed a unit file, then each unit's
 * actions once (a unit one task starts and a later one restarts is started once), in task order.
 */
function unitsPhase(tasks: ApplyTask[], hold: (p: string) => string): string {
  const out: string[] = [];
  const done = new Set<string>();
  const reload = tasks.some((t) => t.changes.some((c) => c.ops.some((o) => o.kind === 'units' && o.daemonReload)));
  if (reload) out.push('systemctl daemon-reload');
  tasks.forEach((t, i) => {
    t.changes.forEach((c, n) => {
      const actions = c.ops.flatMap((o) => (o.kind === 'units' ? o.actions : []));
      const todo = actions.filter((a) => !done.has(a.unit) && !(a.action === 'restart' && actions.some((b) => b.unit === a.unit && b.action === 'start')));
      if (!c.ops.some((o) => o.kind === 'units')) return;
      out.push(step(i, 'units'), hold(`${t.name}:change-${n + 1}`), `# change ${n + 1}: ${shComment(c.summary)}`, ...todo.map(unitActionShell));
      for (const a of todo) if (a.action !== 'enable') done.add(a.unit);
    });
  });
  return out.join('\n');
}

/** The verify-only exec of a task that always verifies (the `verify` task). */
export function verifyScript(verify: string): string {
  return `${PREAMBLE}\n${verify}\n`;
}

/** Runs a run's restore.sh now (edge's own automatic rollback or `edge rollback`), saying who asked. */
export function restoreCommand(runId: string, by: 'auto' | 'rollback', lock: { lock: string; unlock: string }): string {
  return `${PREAMBLE}${lock.lock}EDGE_RESTORED_BY=${by} bash ${shQuote(`${snapshotDir(runId)}/restore.sh`)}\n${lock.unlock}`;
}

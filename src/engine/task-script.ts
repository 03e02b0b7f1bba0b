import type { Facts } from '../facts/types.js';
import { PREAMBLE } from '../render/shell.js';
import { shComment, shQuote } from '../ssh/quote.js';
import { changeScope, changeShell } from '../tasks/change-ops.js';
import type { Change } from '../tasks/contract.js';
import { installBootHookScript } from './boot-hook.js';
import { armScript } from './deadman.js';
import { BOOT_GENERATOR, HOST_LIB, PENDING_FILE, snapshotDir } from './host-layout.js';
import { extendSnapshot, pruneScript, SNAPSHOT_LIB, snapshotMkdir, writeManifestScript, type SnapshotManifest } from './snapshot.js';

export interface TaskScriptInput {
  manifest: SnapshotManifest;
  facts: Facts;
  /** The task's name: names its pause points (see HOLD_DIR). */
  task: string;
  changes: Change[];
  verify?: string;
  /** First exec of the run on this host: prune old snapshots, mark the run pending, install the boot hook. */
  first: boolean;
  keepSnapshots: number;
  /** Host state to leave when the script succeeds ("applying" until the last exec of the run). */
  finalState: 'applying' | 'applied';
  /** Arm (or re-arm) the host's dead-man timer before changing anything. */
  deadmanSeconds?: number;
  /** How long this exec may take (the command timeout): the timer must not fire while it runs. */
  execBudgetSeconds?: number;
}

/**
 * One task = one exec: snapshot what the task's changes replace (only what this run has not saved
 * yet), write the manifest and restore.sh, and only when all of that is on disk, change the host.
 * The first exec also makes the run the host's pending change and installs the boot hook, in that
 * order: a cut anywhere before the first change leaves the host as it was (at worst with a pending
 * mark that the boot hook or the next run settles), and from the first change on, a timer, a reboot
 * or the next edge that takes the host over restores it. Pause points for the reboot tests:
 * TASK:snapshot, TASK:change-N, TASK:verify, TASK:done.
 */
export function taskScript(input: TaskScriptInput): string {
  const { manifest, facts, changes } = input;
  const dir = snapshotDir(manifest.runId);
  const state = shQuote(`${dir}/state`);
  const save: string[] = [];
  const scopes = [...(input.first ? [{ files: [BOOT_GENERATOR] }] : []), ...changes.map(changeScope)];
  for (const scope of scopes) {
    const sh = extendSnapshot(manifest, scope, facts);
    if (sh) save.push(sh);
  }
  const hold = (point: string) => `edge_hold ${shQuote(`${input.task}:${point}`)}`;
  const parts = [
    PREAMBLE,
    HOST_LIB,
    SNAPSHOT_LIB,
    `# snapshot ${dir}: saved items first, then the manifest that lists them`,
    snapshotMkdir(manifest.runId, input.first),
    input.first
      ? `case "$(cat ${state} 2>/dev/null)" in applying|applied|confirmed|restoring) edge_fail ${shQuote(`run ${manifest.runId} is already applied on this host (or being restored); not applying it again`)} ;; esac`
      : // A host whose timer already restored it must not get the rest of the run on top of that.
        `[ "$(cat ${state} 2>/dev/null)" = applying ] || edge_fail ${shQuote(`the host restored itself during run ${manifest.runId} (dead-man timer, reboot or takeover); not applying more`)}`,
    ...save,
    writeManifestScript(manifest),
    `sync -f "$D" 2>/dev/null || sync`,
    hold('snapshot'),
    // While this exec runs the timer covers its whole budget; at its end it is re-armed to count
    // the confirm timeout from there. So a slow task never races its own timer.
    input.deadmanSeconds ? armScript(manifest.runId, input.deadmanSeconds + (input.execBudgetSeconds ?? 0)) : '',
    input.first ? `edge_put ${PENDING_FILE} ${shQuote(manifest.runId)}` : '',
    input.first ? installBootHookScript() : '',
    input.first ? `edge_put ${state} applying; edge_event "$D" applying` : '',
    input.first ? pruneScript(input.keepSnapshots, manifest.runId) : '',
    ...changes.map((c, i) => `${hold(`change-${i + 1}`)}\n# change ${i + 1}: ${shComment(c.summary)}\n${changeShell(c)}`),
    input.verify ? `${hold('verify')}\n# verify\n${input.verify}` : '',
    hold('done'),
    input.deadmanSeconds && input.execBudgetSeconds ? armScript(manifest.runId, input.deadmanSeconds) : '',
    input.finalState === 'applied' ? `edge_put ${state} applied; edge_event "$D" applied` : '',
  ];
  return parts.filter(Boolean).join('\n') + '\n';
}

/** The verify-only exec of a task that always verifies (the `verify` task). */
export function verifyScript(verify: string): string {
  return `${PREAMBLE}\n${verify}\n`;
}

/** Runs a run's restore.sh now (edge's own automatic rollback or `edge rollback`), saying who asked. */
export function restoreCommand(runId: string, by: 'auto' | 'rollback', lock: { lock: string; unlock: string }): string {
  return `${PREAMBLE}${lock.lock}EDGE_RESTORED_BY=${by} bash ${shQuote(`${snapshotDir(runId)}/restore.sh`)}\n${lock.unlock}`;
}

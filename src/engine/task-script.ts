import type { Facts } from '../facts/types.js';
import { PREAMBLE } from '../render/shell.js';
import { shComment, shQuote } from '../ssh/quote.js';
import type { Change } from '../tasks/contract.js';
import { armScript } from './deadman.js';
import { extendSnapshot, pruneScript, snapshotDir, snapshotMkdir, writeManifestScript, type SnapshotManifest } from './snapshot.js';

export interface TaskScriptInput {
  manifest: SnapshotManifest;
  facts: Facts;
  changes: Change[];
  verify?: string;
  /** First exec of the run on this host: prune old snapshots too. */
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
 * yet), write the manifest and restore.sh, mark the host "applying", apply the changes, verify, and
 * record the state. The snapshot is complete on the host before the first change runs.
 */
export function taskScript(input: TaskScriptInput): string {
  const { manifest, facts, changes } = input;
  const dir = snapshotDir(manifest.runId);
  const save: string[] = [];
  for (const c of changes) {
    const sh = extendSnapshot(manifest, c.snapshot, facts);
    if (sh) save.push(sh);
  }
  const parts = [
    PREAMBLE,
    `# snapshot ${dir}: copies first, then the manifest that lists them`,
    snapshotMkdir(manifest.runId),
    ...save,
    writeManifestScript(manifest),
    // A host whose timer already restored it must not get the rest of the run on top of that.
    // (Not on the first exec: a resumed run finds its earlier attempt's rolled-back state there.)
    input.first
      ? ''
      : `[ "$(cat ${shQuote(`${dir}/state`)} 2>/dev/null)" = rolled-back ] && edge_fail ${shQuote(`the host restored itself during run ${manifest.runId} (dead-man timer); not applying more`)}`,
    `echo applying > ${shQuote(`${dir}/state`)}`,
    // While this exec runs the timer covers its whole budget; at its end it is re-armed to count
    // the confirm timeout from there. So a slow task never races its own timer.
    input.deadmanSeconds ? armScript(manifest.runId, input.deadmanSeconds + (input.execBudgetSeconds ?? 0)) : '',
    input.first ? pruneScript(input.keepSnapshots, manifest.runId) : '',
    ...changes.map((c, i) => `# change ${i + 1}: ${shComment(c.summary)}\n${c.apply}`),
    input.verify ? `# verify\n${input.verify}` : '',
    input.deadmanSeconds && input.execBudgetSeconds ? armScript(manifest.runId, input.deadmanSeconds) : '',
    `echo ${input.finalState} > ${shQuote(`${dir}/state`)}`,
  ];
  return parts.filter(Boolean).join('\n') + '\n';
}

/** The verify-only exec of a task that always verifies (the `verify` task). */
export function verifyScript(verify: string): string {
  return `${PREAMBLE}\n${verify}\n`;
}

export function restoreCommand(runId: string): string {
  return `${PREAMBLE}\nbash ${shQuote(`${snapshotDir(runId)}/restore.sh`)}\n`;
}

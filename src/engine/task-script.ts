import type { Facts } from '../facts/types.js';
import { PREAMBLE } from '../render/shell.js';
import { shComment, shQuote } from '../ssh/quote.js';
import { changeScope, changeShell } from '../tasks/change-ops.js';
import type { Change } from '../tasks/contract.js';
import { installBootHookScript } from './boot-hook.js';
import { armScript, armUnderLeaseScript, LEASE_LIB, leaseScript } from './deadman.js';
import { BOOT_GENERATOR, HOST_LIB, PENDING_FILE, snapshotDir } from './host-layout.js';
import { ORDER_LIB, recordOrderScript } from './run-order.js';
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
  /** The confirm timeout: the timer fires this long after the exec ends, unless confirmed. */
  confirmSeconds: number;
  /** The exec's lease (execLeaseSeconds of its command timeout): the timer cannot fire while it runs. */
  leaseSeconds: number;
}

/**
 * One task = one exec: snapshot what the task's changes replace (only what this run has not saved
 * yet), write the manifest and restore.sh, and only when all of that is on disk, change the host.
 * The first exec also makes the run the host's pending change and installs the boot hook, in that
 * order: a cut anywhere before the first change leaves the host as it was (at worst with a pending
 * mark that the boot hook or the next run settles), and from the first change on, a timer, a reboot
 * or the next edge that takes the host over restores it. The exec holds the run's lease on the host
 * from its start (deadman.ts): no restore starts while it lives. Pause points for the reboot tests:
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
  const arm = armUnderLeaseScript(manifest.runId, input.confirmSeconds, input.leaseSeconds);
  const parts = [
    PREAMBLE,
    HOST_LIB,
    SNAPSHOT_LIB,
    LEASE_LIB,
    input.first ? ORDER_LIB : '',
    `# snapshot ${dir}: saved items first, then the manifest that lists them`,
    snapshotMkdir(manifest.runId, input.first),
    leaseScript(manifest.runId, input.leaseSeconds, input.first),
    input.first ? recordOrderScript(manifest.runId) : '',
    // Pushed beyond this exec's lease before anything else happens: the timer the last exec left
    // counting the confirm timeout must not fire while this one snapshots. (The first exec has no
    // timer yet, nor a restore.sh to arm one with, until its manifest is written.)
    input.first ? '' : arm,
    ...save,
    writeManifestScript(manifest),
    `sync -f "$D" 2>/dev/null || sync`,
    hold('snapshot'),
    input.first ? arm : '',
    input.first ? `edge_put ${PENDING_FILE} ${shQuote(manifest.runId)}` : '',
    input.first ? installBootHookScript() : '',
    input.first ? `edge_put ${state} applying; edge_event "$D" applying` : '',
    input.first ? pruneScript(input.keepSnapshots, manifest.runId) : '',
    ...changes.map((c, i) => `${hold(`change-${i + 1}`)}\n# change ${i + 1}: ${shComment(c.summary)}\n${changeShell(c)}`),
    input.verify ? `${hold('verify')}\n# verify\n${input.verify}` : '',
    hold('done'),
    // Applied: from here the confirm timeout counts.
    armScript(manifest.runId, input.confirmSeconds),
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

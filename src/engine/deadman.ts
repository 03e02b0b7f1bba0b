import { PREAMBLE } from '../render/shell.js';
import { shQuote } from '../encode/index.js';
import { PENDING_FILE, snapshotDir } from './host-layout.js';
import { lockScript, unlockScript, type LockHolder } from './host-lock.js';

/**
 * Commit-confirmed, the JunOS way: before a host is changed, a transient systemd timer ON THE HOST
 * is armed to run the run's restore.sh after N seconds. It does not depend on the SSH session, on
 * edge, or on the operator's machine: if nothing disarms it, the host restores itself.
 * Every changing exec re-arms it, so the countdown starts from the last thing edge did, and a long
 * task (apt) never races its own timer.
 */
export const DEADMAN_PREFIX = 'edge-confirm-';

export function deadmanUnit(runId: string): string {
  return `${DEADMAN_PREFIX}${runId}`;
}

export function armScript(runId: string, seconds: number): string {
  const unit = deadmanUnit(runId);
  const restore = `${snapshotDir(runId)}/restore.sh`;
  return [
    `systemctl stop ${shQuote(`${unit}.timer`)} 2>/dev/null || true`,
    `systemctl reset-failed ${shQuote(`${unit}.service`)} ${shQuote(`${unit}.timer`)} 2>/dev/null || true`,
    `systemd-run --quiet --unit=${shQuote(unit)} --on-active=${Math.round(seconds)}s --timer-property=AccuracySec=1s ` +
      `--description=${shQuote(`edge: restore run ${runId} unless confirmed`)} /bin/bash ${shQuote(restore)}`,
    `date -u -d "+${Math.round(seconds)} seconds" +%Y-%m-%dT%H:%M:%SZ > ${shQuote(`${snapshotDir(runId)}/deadline`)}`,
  ].join('\n');
}

/**
 * Disarms the timer and records the confirmation; fails if the host already restored itself.
 * The timer is stopped before the last look at the state, so no restore can start after it: a
 * restore that ran (state rolled-back) or is running (its service active) is seen, never
 * overwritten with "confirmed". A run that did not finish applying is refused with its timer left
 * armed (a half-applied host is not something to keep). The commit point is the state file
 * becoming "confirmed" (written crash-safe): the pending mark is cleared after it, and a reboot in
 * between finds a confirmed run and keeps it.
 */
export function confirmScript(runId: string, holder: LockHolder): string {
  const dir = snapshotDir(runId);
  const unit = deadmanUnit(runId);
  const state = shQuote(`${dir}/state`);
  return `${PREAMBLE}${lockScript(holder)}
[ -d ${shQuote(dir)} ] || edge_fail "no snapshot of run ${runId} on this host"
state=$(cat ${state} 2>/dev/null || echo unknown)
case "$state" in
  applied|confirmed|rolled-back) ;;
  *) edge_fail "run ${runId} did not finish applying on this host (state $state): not confirmed; its dead-man timer restores it, or roll it back now: edge rollback ${runId}" ;;
esac
systemctl stop ${shQuote(`${unit}.timer`)} 2>/dev/null || true
if systemctl is-active --quiet ${shQuote(`${unit}.service`)}; then edge_fail "the host is restoring itself right now (run ${runId}): too late to confirm"; fi
state=$(cat ${state} 2>/dev/null || echo unknown)
if [ "$state" = rolled-back ]; then edge_fail "the host already restored itself (run ${runId} is rolled back): too late to confirm"; fi
edge_hold confirm
if [ "$state" != confirmed ]; then edge_put ${state} confirmed; edge_event ${shQuote(dir)} confirmed; fi
[ "$(cat ${PENDING_FILE} 2>/dev/null)" = ${shQuote(runId)} ] && rm -f ${PENDING_FILE}
sync 2>/dev/null || true
${unlockScript(holder)}echo confirmed
`;
}

/**
 * What a host says about a run, one word per line: its state, the timer's deadline (or "-"), who
 * restored it (or "-"), and the host's boot id, so edge can tell that a host it lost came back
 * from a reboot.
 */
export function stateScript(runId: string): string {
  const dir = snapshotDir(runId);
  return `cat ${shQuote(`${dir}/state`)} 2>/dev/null || echo unknown; cat ${shQuote(`${dir}/deadline`)} 2>/dev/null || echo -; cat ${shQuote(`${dir}/restored-by`)} 2>/dev/null || echo -; cat /proc/sys/kernel/random/boot_id`;
}

export interface RunStateOnHost {
  state: string;
  deadline?: string;
  restoredBy?: string;
  bootId?: string;
}

export function parseStateOutput(stdout: string): RunStateOnHost {
  const [state, deadline, restoredBy, bootId] = stdout.split('\n').map((l) => l.trim());
  const opt = (v: string | undefined) => (v && v !== '-' ? v : undefined);
  return { state: state || 'unknown', deadline: opt(deadline), restoredBy: opt(restoredBy), bootId: opt(bootId) };
}

/** Stops the timer without confirming (a failed run kept as it is with --no-rollback). */
export function disarmScript(runId: string): string {
  return `systemctl stop ${shQuote(`${deadmanUnit(runId)}.timer`)} 2>/dev/null || true`;
}

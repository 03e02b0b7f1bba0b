import { PREAMBLE } from '../render/shell.js';
import { shQuote } from '../ssh/quote.js';
import { snapshotDir } from './snapshot.js';

/**
 * Commit-confirmed, the JunOS way: before a host is changed, a transient systemd timer ON THE HOST
 * is armed to run the run's restore.sh after N seconds. It does not depend on the SSH session, on
 * edge, or on the operator's machine: if nothing disarms it, the host restores itself.
 * Every changing exec re-arms it, so the countdown starts from the last thing edge did, and a long
 * task (apt) never races its own timer.
 */
export function deadmanUnit(runId: string): string {
  return `edge-confirm-${runId}`;
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

/** Disarms the timer and records the confirmation; fails if the host already restored itself. */
export function confirmScript(runId: string): string {
  const dir = snapshotDir(runId);
  const unit = deadmanUnit(runId);
  return `${PREAMBLE}
[ -d ${shQuote(dir)} ] || edge_fail "no snapshot of run ${runId} on this host"
state=$(cat ${shQuote(`${dir}/state`)} 2>/dev/null || echo unknown)
[ "$state" = rolled-back ] && edge_fail "the host already restored itself (run ${runId} is rolled back)"
systemctl stop ${shQuote(`${unit}.timer`)} 2>/dev/null || true
systemctl is-active --quiet ${shQuote(`${unit}.service`)} && edge_fail "the restore of run ${runId} is running right now"
echo confirmed > ${shQuote(`${dir}/state`)}
echo confirmed
`;
}

/** Reads what a host says about a run: its state word and the timer's deadline. */
export function stateScript(runId: string): string {
  const dir = snapshotDir(runId);
  return `cat ${shQuote(`${dir}/state`)} 2>/dev/null || echo unknown; cat ${shQuote(`${dir}/deadline`)} 2>/dev/null || true`;
}

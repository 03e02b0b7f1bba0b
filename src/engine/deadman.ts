import { PREAMBLE } from '../render/shell.js';
import { remoteLifetimeMs } from '../ssh/exec.js';
import { shQuote } from '../encode/index.js';
import { PENDING_FILE, runIdWord, snapshotDir } from './host-layout.js';
import { lockScript, unlockScript, type LockHolder } from './host-lock.js';

/**
 * Commit-confirmed, the JunOS way: before a host is changed, a transient systemd timer ON THE HOST
 * is armed to run the run's restore.sh after N seconds. It does not depend on the SSH session, on
 * edge, or on the operator's machine: if nothing disarms it, the host restores itself.
 *
 * The rule that keeps the timer from racing edge: no restore starts while an exec of the same run
 * is live. Each changing exec holds a LEASE on the router for as long as it may live (its command
 * timeout, enforced on the router by timeout(1), see withRemoteTimeout): it takes the lease first
 * (leaseScript), then pushes the timer beyond it (armUnderLeaseScript: lease + LEASE_MARGIN_SEC +
 * confirm timeout), and when it has applied it re-arms the timer to count the confirm timeout from
 * its end (armScript). restore.sh, whoever runs it (the timer, edge, another edge taking the host
 * over), waits for a live lease holder to end, and ends it itself should it outlive its lease.
 */
export const DEADMAN_PREFIX = 'edge-confirm-';

/** Between the end of an exec's lease and the earliest moment its timer may fire. */
export const LEASE_MARGIN_SEC = 10;

export function deadmanUnit(runId: string): string {
  return `${DEADMAN_PREFIX}${runIdWord(runId)}`;
}

/** The lease of a changing exec run with this command timeout: the longest it can live on the router. */
export function execLeaseSeconds(commandTimeoutMs: number): number {
  return Math.ceil(remoteLifetimeMs(commandTimeoutMs) / 1000);
}

/** Seconds from arming to the timer's deadline while an exec holds its lease. */
export function deadlineUnderLease(confirmSec: number, leaseSec: number): number {
  return leaseSec + LEASE_MARGIN_SEC + confirmSec;
}

/** (Re)arms the timer to fire `seconds` from now; the deadline is recorded for `edge runs` and a takeover's message. */
export function armScript(runId: string, seconds: number): string {
  const unit = deadmanUnit(runId);
  const restore = `${snapshotDir(runId)}/restore.sh`;
  return [
    `systemctl stop ${shQuote(`${unit}.timer`)} 2>/dev/null || true`,
    // A restore already started (the timer fired) is never replaced: systemd-run fails on its unit.
    `systemctl reset-failed ${shQuote(`${unit}.service`)} ${shQuote(`${unit}.timer`)} 2>/dev/null || true`,
    `systemd-run --quiet --unit=${shQuote(unit)} --on-active=${Math.round(seconds)}s --timer-property=AccuracySec=1s ` +
      `--description=${shQuote(`edge: restore run ${runId} unless confirmed`)} /bin/bash ${shQuote(restore)}`,
    `date -u -d "+${Math.round(seconds)} seconds" +%Y-%m-%dT%H:%M:%SZ > ${shQuote(`${snapshotDir(runId)}/deadline`)}`,
  ].join('\n');
}

/** Arms the timer beyond the lease of the exec that runs this (plus the margin and the confirm timeout). */
export function armUnderLeaseScript(runId: string, confirmSec: number, leaseSec: number): string {
  return armScript(runId, deadlineUnderLease(confirmSec, leaseSec));
}

/**
 * Shell library of the lease ($D is the run's snapshot dir; HOST_LIB comes first). The lease file
 * holds the exec's process (edge_proc) and when its lease ends (epoch seconds).
 *
 * edge_lease_take SECONDS STATES WHY: under the run's restore lock (the one restore.sh holds for
 * its whole run), refuses with WHY unless the run's state is one of STATES (space-separated; "none"
 * for no state), then records this shell as the lease holder. So either a restore is already under way and the
 * exec is refused, or the lease is in place before any restore can look at it.
 *
 * edge_lease_wait: restore.sh's first step, under its lock: while the lease holder lives, wait; one
 * that outlives its lease by LEASE_MARGIN_SEC (it cannot, under timeout(1), unless something is
 * badly wrong) is killed with its process group first. Logged in restore.log either way.
 */
export const LEASE_LIB = `edge_lease_take() {
  local s
  exec 7>>"$D/.restore.lock"
  flock -w 10 7 || edge_fail "a restore of run $(basename "$D") is under way on this host: not applying more"
  s=$(cat "$D/state" 2>/dev/null || echo none)
  case " $2 " in *" $s "*) ;; *) edge_fail "$3 (state $s)" ;; esac
  edge_put "$D/lease" "$(edge_proc $$) $(( $(date +%s) + $1 ))"
  flock -u 7; exec 7>&-
}
edge_lease_wait() {
  local holder until t0 now pg
  read -r holder until < "$D/lease" 2>/dev/null || return 0
  edge_alive "$holder" || return 0
  t0=$(date +%s)
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) - waiting for exec \${holder%%:*} of this run to end (its lease runs to $(date -u -d "@$until" +%H:%M:%SZ))" >> "$D/restore.log"
  while edge_alive "$holder"; do
    now=$(date +%s)
    if [ "$now" -gt $((until + ${LEASE_MARGIN_SEC})) ]; then
      pg=$(sed 's/.*) //' "/proc/\${holder%%:*}/stat" 2>/dev/null | cut -d' ' -f3)
      # Its group only if it is the one timeout(1) made for the exec: never a group it merely shares.
      if [ -n "$pg" ] && [ "$(cat "/proc/$pg/comm" 2>/dev/null)" = timeout ]; then kill -KILL -- "-$pg" 2>/dev/null || true; fi
      kill -KILL "\${holder%%:*}" 2>/dev/null || true
      echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) - exec \${holder%%:*} outlived its lease: killed" >> "$D/restore.log"
    fi
    sleep 0.2
  done
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) - exec \${holder%%:*} ended after $(( $(date +%s) - t0 )) s of waiting" >> "$D/restore.log"
}
`;

/**
 * The start of a changing exec (after snapshotMkdir set $D): takes the lease for `leaseSec`. The
 * first exec of a run expects no state (or a rolled-back earlier attempt that is resumed); every
 * later one expects "applying": a host whose timer restored it must not get the rest of the run.
 */
export function leaseScript(runId: string, leaseSec: number, first: boolean): string {
  return first
    ? `edge_lease_take ${leaseSec} 'none rolled-back pruned' ${shQuote(`run ${runId} is already applied on this host (or being restored); not applying it again`)}`
    : `edge_lease_take ${leaseSec} applying ${shQuote(`the host restored itself during run ${runId} (dead-man timer, reboot or takeover); not applying more`)}`;
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

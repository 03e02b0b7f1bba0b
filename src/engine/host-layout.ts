import { EdgeError } from '../errors.js';
import { RUN_ID_RE } from './run-id.js';
/**
 * Where edge keeps its bookkeeping on a host, and the small shell library every edge script that
 * touches it uses (task scripts, restore.sh, confirm, the lock, the boot hook). One place, so the
 * commit point of a change is written the same way everywhere.
 *
 *   /var/lib/edge/pending            the run whose change is not confirmed (or whose restore is under
 *                                    way); restored at boot if the host restarts before it is settled
 *   /var/lib/edge/snapshots/RUN/     one run's snapshot: manifest, saved items, restore.sh, state,
 *                                    events (the host's own history of the run), restore.log
 *   /var/lib/edge/baseline/          the state before edge's first change, item by item; never pruned
 *   /var/lib/edge/lock               who holds the host (run id, user, controller, start, boot id,
 *                                    and the sequence number the host gave this holding)
 *   /var/lib/edge/seq                the last sequence number the host gave: the host's own order of
 *                                    its runs, whatever the controllers' clocks say
 */
export const EDGE_VAR = '/var/lib/edge';
export const SNAPSHOT_ROOT = `${EDGE_VAR}/snapshots`;
export const PENDING_FILE = `${EDGE_VAR}/pending`;
export const BASELINE_DIR = `${EDGE_VAR}/baseline`;
export const LOCK_FILE = `${EDGE_VAR}/lock`;
export const SEQ_FILE = `${EDGE_VAR}/seq`;
/** The boot hook: a systemd generator (one file, written atomically) that orders the restore early. */
export const BOOT_GENERATOR = '/etc/systemd/system-generators/edge-boot-restore';
/** The name `pending` holds while the baseline is being restored. */
export const BASELINE_ID = 'baseline';
/**
 * Test-only pause points: a script reaching `edge_hold NAME` waits while /run/edge-test/hold names
 * NAME (and says so in /run/edge-test/held). /run is a tmpfs, so no hold survives a reboot, and on a
 * host without the file the hook is one `[ -f ]` per step.
 */
export const HOLD_DIR = '/run/edge-test';

/**
 * A run id about to become part of a path or unit name on a router: the baseline's name or the exact
 * shape of RUN_ID_RE, else refused (whatever validated it before, a tampered journal included).
 */
export function runIdWord(runId: string): string {
  if (runId !== BASELINE_ID && !RUN_ID_RE.test(runId)) throw new EdgeError('USAGE', `refusing to use ${JSON.stringify(runId)} as a run id on a host: expected the shape 20261123T204501Z-1a2b3c4d`);
  return runId;
}

export function snapshotDir(runId: string): string {
  return runId === BASELINE_ID ? BASELINE_DIR : `${SNAPSHOT_ROOT}/${runIdWord(runId)}`;
}

/**
 * edge_put FILE VALUE: a small value written the crash-safe way (temp, fsync, rename, fsync of the
 * directory): after a power cut the file holds the old value or the new one, never a torn one.
 * edge_event DIR TEXT: one line of a run's history on the host.
 * edge_hold NAME: the test pause point (see HOLD_DIR).
 * edge_proc PID: the process's identity, PID:START (its start time in ticks since boot), so a pid
 * reused by another process is not taken for it; edge_alive PID:START: that process still runs (a
 * zombie has ended: only its parent has not looked yet).
 */
export const HOST_LIB = `edge_put() {
  printf '%s\\n' "$2" > "$1.tmp.$$" && { sync "$1.tmp.$$" 2>/dev/null || true; } &&
    mv -f -- "$1.tmp.$$" "$1" && { sync "$(dirname -- "$1")" 2>/dev/null || true; }
}
edge_event() { printf '%s %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$2" >> "$1/events" 2>/dev/null || true; }
edge_hold() {
  [ -f ${HOLD_DIR}/hold ] || return 0
  [ "$(cat ${HOLD_DIR}/hold 2>/dev/null)" = "$1" ] || return 0
  printf '%s\\n' "$1" > ${HOLD_DIR}/held
  while [ -f ${HOLD_DIR}/hold ]; do sleep 0.1; done
}
edge_proc() { echo "$1:$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20)"; }
edge_alive() {
  [ "$1" != none ] && [ "$(edge_proc "\${1%%:*}")" = "$1" ] && [ "$(sed 's/.*) //' "/proc/\${1%%:*}/stat" 2>/dev/null | cut -c1)" != Z ]
}
`;

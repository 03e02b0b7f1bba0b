import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { lastLines } from '../errors.js';
import { shQuote } from '../encode/index.js';
import { BASELINE_DIR, BASELINE_ID, EDGE_VAR, HOST_LIB, LOCK_FILE, PENDING_FILE, SEQ_FILE, SNAPSHOT_ROOT } from './host-layout.js';
import { RUN_ID_CASE } from './run-id.js';

/**
 * The per-router lock, held ON THE ROUTER for a whole apply (facts to confirm), a rollback or a
 * confirm. It is a holder record (LOCK_FILE) changed only under flock, so two edges 0.3 s apart
 * cannot both take it. Every exec of the holder presents its token and renews it; anyone else is
 * refused at once, told the holder's run id, user, controller host and start time.
 *
 * A lock is stale, and taken over, when the host has rebooted since (boot id), when the SSH
 * connection it was taken over is gone (the sshd process serving it, by pid and start time: a
 * killed controller's connection closes at once), or when its lease ran out (a controller cut off
 * without a FIN: the lease is an exec's lease (deadman.ts) plus the confirm timeout plus a margin).
 * --check and status never take it: they change nothing.
 */
export interface LockHolder {
  token: string;
  runId: string;
  purpose: 'run' | 'rollback' | 'confirm';
  user: string;
  controller: string;
  startedAt: string;
  leaseSec: number;
}

/** Exit code of a script refused because another holder has the host (EX_TEMPFAIL). */
export const LOCKED_EXIT = 75;

/** Why a lock script exited LOCKED_EXIT: the holder it named, on its last line of stderr. */
export function lockRefusal(stderr: string): string {
  return lastLines(stderr, 1).replace(/^edge: /, '');
}

export function newHolder(runId: string, purpose: LockHolder['purpose'], leaseSec: number): LockHolder {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry: keep $USER */
  }
  return { token: randomBytes(8).toString('hex'), runId, purpose, user, controller: hostname(), startedAt: new Date().toISOString(), leaseSec: Math.ceil(leaseSec) };
}

const LIB = `type edge_fail >/dev/null 2>&1 || edge_fail() { echo "edge: $*" >&2; exit 1; }
edge_conn() {
  local p=$$ c
  while [ "$p" -gt 1 ] 2>/dev/null; do
    c=$(cat /proc/$p/comm 2>/dev/null) || break
    case "$c" in sshd|sshd-session) edge_proc "$p"; return ;; esac
    p=$(sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -d' ' -f2) || break
  done
  echo none
}
edge_holder() { sed -n "s/^$1=//p" ${LOCK_FILE} 2>/dev/null | head -n 1; }
edge_lock() {
  mkdir -p ${EDGE_VAR} && chmod 0700 ${EDGE_VAR}
  exec 9>${EDGE_VAR}/.lock.flock
  flock -w 10 9 || edge_fail "could not take ${LOCK_FILE} within 10 s"
  local boot now why started seq=''
  boot=$(cat /proc/sys/kernel/random/boot_id); now=$(date +%s); started=$3
  if [ -f ${LOCK_FILE} ]; then
    if [ "$(edge_holder token)" = "$1" ]; then started=$(edge_holder started); seq=$(edge_holder seq)
    else
      why=''
      if [ "$(edge_holder boot)" != "$boot" ]; then why='the host rebooted since'
      elif ! edge_alive "$(edge_holder conn)"; then why="its controller's connection is gone"
      elif [ "$(edge_holder expires)" -lt "$now" ] 2>/dev/null; then why='its lease expired'
      fi
      if [ -z "$why" ]; then
        echo "edge: the host is locked by run $(edge_holder run) ($(edge_holder purpose)) of $(edge_holder user) on $(edge_holder controller), since $(edge_holder started)" >&2
        exit ${LOCKED_EXIT}
      fi
      [ ! -f ${PENDING_FILE} ] || echo "edge: took over the stale lock of run $(edge_holder run) ($(edge_holder user) on $(edge_holder controller), since $(edge_holder started)): $why" >&2
    fi
  fi
  # A new holding gets the host's next sequence number: the order of runs is the host's, never a clock's.
  if [ -z "$seq" ]; then seq=$(( $(cat ${SEQ_FILE} 2>/dev/null || echo 0) + 1 )); edge_put ${SEQ_FILE} "$seq"; fi
  printf 'run=%s\\ntoken=%s\\npurpose=%s\\nuser=%s\\ncontroller=%s\\nstarted=%s\\nboot=%s\\nconn=%s\\nexpires=%s\\nseq=%s\\n' \\
    "$2" "$1" "$4" "$5" "$6" "$started" "$boot" "$(edge_conn)" "$((now + $7))" "$seq" > ${LOCK_FILE}.tmp && mv -f ${LOCK_FILE}.tmp ${LOCK_FILE}
  flock -u 9; exec 9>&-
}
edge_unlock() {
  exec 9>${EDGE_VAR}/.lock.flock; flock -w 10 9 || return 0
  [ "$(edge_holder token)" = "$1" ] && rm -f ${LOCK_FILE}
  flock -u 9; exec 9>&-
}
`;

/**
 * Shell that takes (or renews) the lock for `h`; exits LOCKED_EXIT naming the holder if it is
 * someone else's and not stale. Brings HOST_LIB along (its pause point is lock:PURPOSE).
 */
export function lockScript(h: LockHolder): string {
  return `${LOCK_LIB}${lockCall(h)}`;
}

/** The lock's definitions alone (HOST_LIB's too): what lockCall needs defined first. */
export const LOCK_LIB = `${HOST_LIB}${LIB}`;

/** Takes (or renews) the lock for `h`, LOCK_LIB being defined. */
export function lockCall(h: LockHolder): string {
  const q = shQuote;
  return `edge_lock ${q(h.token)} ${q(h.runId)} ${q(h.startedAt)} ${q(h.purpose)} ${q(h.user)} ${q(h.controller)} ${h.leaseSec}\nedge_hold lock:${h.purpose}\n`;
}

export function unlockScript(h: LockHolder): string {
  return `${LIB}edge_unlock ${shQuote(h.token)}\n`;
}

/**
 * After taking the lock for a new change: a change another run left unsettled must not be built
 * upon. Confirmed or rolled back: only its mark is left, cleared. Its timer still counting down
 * (--confirm manual, or its controller gone a moment ago): refused, with what to do. No timer (the
 * host rebooted before the boot hook existed, or the timer was lost): restored now, as the boot
 * hook would have. Output goes to stderr so it never mixes with the facts on stdout.
 */
export function settlePendingScript(): string {
  return `${SETTLE_LIB}edge_settle_pending\n`;
}

/** edge_settle_pending's definition (settlePendingScript). */
export const SETTLE_LIB = `edge_settle_pending() {
  local p d s
  p=$(cat ${PENDING_FILE} 2>/dev/null) || return 0
  case "$p" in
    ${BASELINE_ID}) d=${BASELINE_DIR} ;;
    ${RUN_ID_CASE}) d=${SNAPSHOT_ROOT}/$p ;;
    *) edge_fail "${PENDING_FILE} holds no run id (it is not edge's): remove it once you know who wrote it" ;;
  esac
  s=$(cat "$d/state" 2>/dev/null || true)
  case "$s" in confirmed|rolled-back) rm -f ${PENDING_FILE}; return 0 ;; esac
  if systemctl is-active --quiet "edge-confirm-$p.timer" 2>/dev/null || systemctl is-active --quiet "edge-confirm-$p.service" 2>/dev/null; then
    echo "edge: run $p is not confirmed on this host (state $s): it restores itself at $(cat "$d/deadline" 2>/dev/null || echo '?') unless confirmed (edge confirm $p) or rolled back (edge rollback $p)" >&2
    exit ${LOCKED_EXIT}
  fi
  [ -f "$d/restore.sh" ] || { rm -f ${PENDING_FILE}; return 0; }
  echo "edge: run $p was left unsettled (state \${s:-none}, no timer: its controller or the host went down): restoring it first" >&2
  EDGE_RESTORED_BY=takeover bash "$d/restore.sh" >&2 || edge_fail "the restore of unsettled run $p failed: see $d/restore.log"
}
`;

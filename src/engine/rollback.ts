import { EdgeError, errorMessage } from '../errors.js';
import { base64Heredoc, PREAMBLE } from '../render/shell.js';
import type { SshConnection } from '../ssh/connection.js';
import { shQuote } from '../encode/index.js';
import { DEADMAN_PREFIX, deadmanUnit } from './deadman.js';
import { BASELINE_DIR, BASELINE_ID, LOCK_FILE, PENDING_FILE, SNAPSHOT_ROOT, snapshotDir } from './host-layout.js';
import { LOCKED_EXIT, lockRefusal, lockScript, newHolder, unlockScript, type LockHolder } from './host-lock.js';
import { newestFirst, ORDER_LIB, orderKeyOf } from './run-order.js';
import { cacheHost, CacheRecord, CLEAR_CACHE } from './script-cache.js';
import { awaitHostSettled, BOOT_ID_ECHO, parseBootId, sessionCutOff, SETTLE_MARGIN_MS, type SettleView } from './host-settle.js';
import { BOOT_RESTORE_TIMEOUT_S } from './boot-hook.js';
import { removedPackagesNote } from './pkg-snapshot.js';
import { baselineManifest, restoreScript, type BaselineItem } from './snapshot.js';

export interface RollbackResult {
  host: string;
  /** restored-at-boot: the host rebooted during the rollback and finished the restore at boot. */
  status: 'rolled-back' | 'restored-at-boot' | 'already-rolled-back' | 'failed' | 'unreachable' | 'no-snapshot' | 'pruned' | 'locked';
  message: string;
  durationMs: number;
}

/** Statuses after which `edge rollback` exits non-zero: the host is not where the operator asked. */
export const ROLLBACK_FAILED: ReadonlySet<RollbackResult['status']> = new Set(['failed', 'unreachable', 'pruned', 'locked']);

/**
 * Rollback is a history, not a set of independent snapshots. A run is undone only when no later run
 * (later in the host's own order, run-order.ts) is still applied on the host (its snapshot holds what the run it follows left), and only once: a
 * run already rolled back is a no-op that says so, so no sequence of rollbacks can write back a
 * configuration a later rollback removed. A pruned run cannot be undone (the baseline can). The
 * host's lock is held throughout; the restore itself is resumable (see restoreScript).
 */
function rollbackScript(runId: string, holder: LockHolder): string {
  const dir = shQuote(snapshotDir(runId));
  return `${PREAMBLE}${BOOT_ID_ECHO}${lockScript(holder)}
[ -d ${dir} ] || { echo NO-SNAPSHOT; exit 0; }
state=$(cat ${dir}/state 2>/dev/null || true)
case "$state" in
  pruned) echo PRUNED; ${unlockScript(holder).trim()}; exit 0 ;;
  rolled-back) echo "ALREADY $(cat ${dir}/restored-by 2>/dev/null || echo edge) $(grep ' rolled-back' ${dir}/events 2>/dev/null | tail -n 1 | cut -d' ' -f1)"; ${unlockScript(holder).trim()}; exit 0 ;;
esac
[ -f ${dir}/restore.sh ] || { echo NO-SNAPSHOT; exit 0; }
${ORDER_LIB}newer=''; mine=${orderKeyOf(runId)}
for d in ${SNAPSHOT_ROOT}/*/; do n=\${d%/}; n=\${n##*/}
  [[ "$(edge_order "\${d%/}")" > "$mine" ]] || continue
  case "$(cat "$d/state" 2>/dev/null)" in rolled-back|pruned|'') ;; *) newer="$newer $n" ;; esac
done
[ -z "$newer" ] || { echo "NEWER$newer"; exit 0; }
systemctl stop ${shQuote(`${deadmanUnit(runId)}.timer`)} 2>/dev/null || true
EDGE_RESTORED_BY=rollback bash ${dir}/restore.sh
${unlockScript(holder)}`;
}

/** Lists the baseline's items, one JSON line each. */
const BASELINE_ITEMS = `cat ${BASELINE_DIR}/items/* 2>/dev/null || true`;

/**
 * Back to the state before edge's first change on the host: the baseline's restore script is made
 * from its items (every item any run saved first), written next to them and run; pending timers of
 * unconfirmed runs are stopped first. It marks every run rolled back, and removes the boot hook and
 * the scripts edge keeps on the host by hash.
 */
function baselineScript(items: BaselineItem[], host: string, holder: LockHolder): string {
  const dir = shQuote(BASELINE_DIR);
  return `${PREAMBLE}${BOOT_ID_ECHO}${lockScript(holder)}
systemctl list-units --all --plain --no-legend '${DEADMAN_PREFIX}*.timer' 2>/dev/null | awk '{print $1}' | while read -r t; do systemctl stop "$t" 2>/dev/null || true; done
base64 -d > ${dir}/restore.sh.tmp ${base64Heredoc(restoreScript(baselineManifest(items, host)))}
chmod 0700 ${dir}/restore.sh.tmp && mv -f -- ${dir}/restore.sh.tmp ${dir}/restore.sh && sync -f ${dir} 2>/dev/null || true
EDGE_RESTORED_BY=baseline bash ${dir}/restore.sh
${CLEAR_CACHE}${unlockScript(holder)}`;
}

/**
 * Restores a run's snapshot on one host (or, with runId BASELINE_ID, the host's baseline). Never
 * reports a restore it did not make: each status comes from what the host said it did. A session
 * cut mid-restore (a reboot, a power cut, a lost link) is not the end: the restore is the host's
 * pending work, finished at boot, so edge waits for the host to answer again and reports how it
 * ended, as `edge run` does (`waiting` is told why).
 */
export async function rollbackHost(
  host: string,
  runId: string,
  connect: () => Promise<SshConnection>,
  timeoutMs: number,
  waiting: (why: string) => void = () => {},
): Promise<RollbackResult> {
  const t0 = performance.now();
  const done = (status: RollbackResult['status'], message: string): RollbackResult => ({
    host,
    status,
    message,
    durationMs: Math.round(performance.now() - t0),
  });
  let conn: SshConnection;
  try {
    conn = await connect();
  } catch (e) {
    return done('unreachable', errorMessage(e));
  }
  const holder = newHolder(runId, 'rollback', timeoutMs / 1000 + 60);
  let stderr = '';
  try {
    let script: string;
    if (runId === BASELINE_ID) {
      const listed = await conn.exec(BASELINE_ITEMS, { timeoutMs });
      const items = listed.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as BaselineItem);
      if (!items.length) return done('no-snapshot', 'edge has never changed this host: it is at its baseline');
      script = baselineScript(items, host, holder);
    } else script = rollbackScript(runId, holder);
    const res = await conn.exec(script, { timeoutMs, onStderr: (c) => void (stderr += c.toString()) });
    if (res.code === LOCKED_EXIT) return done('locked', lockRefusal(res.stderr));
    if (res.stdout.includes('NO-SNAPSHOT')) return done('no-snapshot', `no snapshot of run ${runId} on this host`);
    if (res.stdout.includes('PRUNED'))
      return done('pruned', `the snapshot of run ${runId} was pruned (edge_snapshots_keep); it cannot be undone alone. edge rollback --baseline returns the host to its state before edge`);
    const already = /^ALREADY (\S+) ?(\S*)$/m.exec(res.stdout);
    if (already) return done('already-rolled-back', `run ${runId} is already rolled back (by ${already[1]}${already[2] ? ` at ${already[2]}` : ''}); nothing done`);
    const newer = /^NEWER (.*)$/m.exec(res.stdout);
    if (newer) return done('failed', `later runs are still applied on this host (${newer[1]}): roll them back first, newest first`);
    const said = res.stderr.replace(/^EDGE-BOOT-ID .*\n?/m, '').trim();
    if (res.code !== 0) throw new EdgeError('ROLLBACK', said || `restore exited ${res.code}`, { host });
    forgetCache(host, conn);
    return done('rolled-back', `restored ${stateBefore(runId)}${removedPackagesNote(res.stdout)}`);
  } catch (e) {
    if (!sessionCutOff(conn, e)) return done('failed', errorMessage(e));
    waiting(`the session was lost during the rollback (${errorMessage(e)}); waiting for the host to answer again and say how its restore ended`);
    const ended = await awaitRollbackEnd(runId, connect, parseBootId(stderr)?.bootId);
    if (ended.status === 'rolled-back') forgetCache(host, conn);
    return done(ended.status, ended.message);
  } finally {
    conn.close();
  }
}

/**
 * A rollback may take the script cache with it (the baseline always; the run that made
 * /var/lib/edge, that directory): the controller forgets what it left there rather than miss
 * every reference once.
 */
function forgetCache(host: string, conn: SshConnection): void {
  new CacheRecord().forget(cacheHost(host, conn.hostKeyFingerprint));
}

const stateBefore = (runId: string) => (runId === BASELINE_ID ? 'the state from before edge first changed this host' : `the state from before run ${runId}`);

/**
 * How a rollback whose session was cut ended, as the host says (awaitHostSettled): restored (by
 * this rollback before the cut, or at boot when the host rebooted during it), or not — after a
 * reboot the host's word is final (the boot-time restore ran before it answered); without one,
 * the restore may still be running, so edge keeps asking until the boot restore's own time limit.
 */
export async function awaitRollbackEnd(
  runId: string,
  connect: () => Promise<SshConnection>,
  bootId: string | undefined,
): Promise<{ status: 'rolled-back' | 'restored-at-boot' | 'failed'; message: string }> {
  const seen = await awaitHostSettled(connect, runId, { bootId, dueBy: Date.now() + BOOT_RESTORE_TIMEOUT_S * 1000 }, (st) => rollbackOutcome(runId, st));
  return (
    seen.value ?? {
      status: 'failed',
      message: `the host did not say how the rollback of run ${runId} ended within ${BOOT_RESTORE_TIMEOUT_S + SETTLE_MARGIN_MS / 1000} s (last seen: ${seen.last}); check it out of band, then: edge rollback ${runId} (a restore resumes where it stopped)`,
    }
  );
}

/** What the host's answer says about a cut rollback of `runId`, or undefined while it may still change (pure). */
export function rollbackOutcome(runId: string, st: SettleView): { status: 'rolled-back' | 'restored-at-boot' | 'failed'; message: string } | undefined {
  const again = runId === BASELINE_ID ? 'edge rollback --baseline' : `edge rollback ${runId}`;
  if (st.state === 'rolled-back') {
    if (st.restoredBy === 'boot') return { status: 'restored-at-boot', message: `the host rebooted during the rollback and finished restoring ${stateBefore(runId)} at boot; it is reachable again` };
    // Said as the host says it: this rollback may have finished before the cut, or an earlier one.
    return { status: 'rolled-back', message: `the host is back on ${stateBefore(runId)} (restored by ${st.restoredBy ?? 'edge'}); the session was lost on the way` };
  }
  if (!st.rebooted) return undefined;
  if (st.state === 'restoring') return { status: 'failed', message: `the host rebooted during the rollback and its boot-time restore did not finish (state restoring); finish it with: ${again}` };
  return { status: 'failed', message: `the host rebooted before the rollback changed anything: run ${runId} is still ${st.state} on it; roll it back with: ${again}` };
}

/** A run as its host knows it (see remoteRunsScript). */
export interface RemoteRun {
  runId: string;
  /** What the host says, in one word (describeRemoteRun). */
  state: string;
  /** More of it for people: who restored it and when, which run superseded it. */
  detail?: string;
}

/**
 * One exec: per snapshot, its state word, who restored it, whether its timer or restore is running,
 * its last event; then the pending mark and the lock holder (run and whether its connection lives).
 */
function remoteRunsScript(): string {
  return `${ORDER_LIB}for d in ${SNAPSHOT_ROOT}/*/; do [ -d "$d" ] || continue; n=\${d%/}; n=\${n##*/}
  s=$(cat "$d/state" 2>/dev/null || echo none); b=$(cat "$d/restored-by" 2>/dev/null || echo -)
  t=-; systemctl is-active --quiet "${DEADMAN_PREFIX}$n.timer" 2>/dev/null && t=timer
  systemctl is-active --quiet "${DEADMAN_PREFIX}$n.service" 2>/dev/null && t=restoring
  e=$(tail -n 1 "$d/events" 2>/dev/null || true)
  printf 'run\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$n" "$s" "$b" "$t" "$e" "$(edge_order "\${d%/}" | cut -d' ' -f1)"
done
printf 'pending\\t%s\\n' "$(cat ${PENDING_FILE} 2>/dev/null || true)"
printf 'lock\\t%s\\n' "$(sed -n 's/^run=//p' ${LOCK_FILE} 2>/dev/null || true)"
`;
}

interface RawRun {
  runId: string;
  state: string;
  restoredBy: string;
  activity: string;
  lastEvent: string;
  /** The host's sequence number of the run (0: a snapshot from before edge numbered runs). */
  seq: number;
}

const RESTORED_BY: Record<string, string> = {
  boot: 'restored-at-boot',
  timer: 'restored-by-timer',
  takeover: 'restored-by-next-run',
  baseline: 'rolled-back',
  rollback: 'rolled-back',
  auto: 'rolled-back',
};

/**
 * The host's word for each run, newest first in the host's own order. Pure, from what remoteRunsScript printed:
 * confirmed (the current configuration), superseded (confirmed, a later run is applied on top),
 * armed (applied, its timer counting), applying (in progress), unsettled (left part-way with no
 * timer: restored at the next boot or by the next edge that takes the host), rolled-back,
 * restored-at-boot, restored-by-timer, restored-by-next-run, restoring, pruned, not-started.
 */
export function describeRemoteRuns(raw: RawRun[], pending: string, lockRun: string): RemoteRun[] {
  const sorted = [...raw].sort((a, b) => b.seq - a.seq || b.runId.localeCompare(a.runId));
  let current: string | undefined;
  return sorted.map((r) => {
    const when = r.lastEvent.split(' ')[0];
    let state: string;
    let detail: string | undefined;
    if (r.state === 'confirmed') {
      state = current ? 'superseded' : 'confirmed';
      if (current) detail = `superseded by ${current}`;
    } else if (r.state === 'applied' || r.state === 'applying') {
      state = r.activity === 'timer' ? (r.state === 'applied' ? 'armed' : 'applying') : lockRun === r.runId ? 'applying' : 'unsettled';
      if (state === 'unsettled') detail = 'left part-way with no timer: restored at the next boot, or by the next edge run on this host';
    } else if (r.state === 'restoring') {
      state = r.activity === 'restoring' || lockRun === r.runId ? 'restoring' : 'unsettled';
      if (state === 'unsettled') detail = 'its restore was cut: finished at the next boot, or by the next edge run on this host';
    } else if (r.state === 'rolled-back') {
      state = RESTORED_BY[r.restoredBy] ?? 'rolled-back';
      detail = `${r.restoredBy === '-' ? 'restored' : `restored by ${r.restoredBy}`}${when ? ` at ${when}` : ''}`;
    } else if (r.state === 'pruned') state = 'pruned';
    else state = pending === r.runId ? 'unsettled' : 'not-started';
    if (['confirmed', 'armed', 'applying', 'unsettled'].includes(state) && !current) current = r.runId;
    return detail ? { runId: r.runId, state, detail } : { runId: r.runId, state };
  });
}

/** The runs whose snapshots a host keeps, newest first, with the state each left the host in. */
export async function listRemoteRuns(conn: SshConnection, timeoutMs: number): Promise<RemoteRun[]> {
  const res = await conn.exec(remoteRunsScript(), { timeoutMs });
  const raw: RawRun[] = [];
  let pending = '';
  let lockRun = '';
  for (const line of res.stdout.split('\n')) {
    const [kind, ...f] = line.split('\t');
    if (kind === 'run') raw.push({ runId: f[0] ?? '', state: f[1] ?? 'none', restoredBy: f[2] ?? '-', activity: f[3] ?? '-', lastEvent: f[4] ?? '', seq: Number(f[5] ?? 0) || 0 });
    else if (kind === 'pending') pending = f[0] ?? '';
    else if (kind === 'lock') lockRun = f[0] ?? '';
  }
  return describeRemoteRuns(raw, pending, lockRun);
}

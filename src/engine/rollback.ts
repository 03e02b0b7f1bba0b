import { EdgeError, errorMessage } from '../errors.js';
import { PREAMBLE } from '../render/shell.js';
import type { SshConnection } from '../ssh/connection.js';
import { shQuote } from '../ssh/quote.js';
import { DEADMAN_PREFIX } from './deadman.js';
import { SNAPSHOT_ROOT, snapshotDir } from './snapshot.js';

export interface RollbackResult {
  host: string;
  status: 'rolled-back' | 'failed' | 'unreachable' | 'no-snapshot';
  message: string;
  durationMs: number;
}

/**
 * Restores a run's snapshot on one host by running the restore.sh the run left there. The script
 * sets every saved item to its saved state, so rolling back twice gives the same host.
 */
export async function rollbackHost(
  host: string,
  runId: string,
  connect: () => Promise<SshConnection>,
  timeoutMs: number,
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
  try {
    const dir = snapshotDir(runId);
    // Snapshots stack: run B's snapshot holds what run A left. Undoing A while B is still in place
    // would put A's "before" under B's files, so newer runs that are still applied come first.
    const res = await conn.exec(
      `${PREAMBLE}
[ -f ${shQuote(`${dir}/restore.sh`)} ] || { echo NO-SNAPSHOT; exit 0; }
newer=''
for d in ${SNAPSHOT_ROOT}/*/; do n=\${d%/}; n=\${n##*/}
  [[ "$n" > ${shQuote(runId)} ]] || continue
  case "$(cat "$d/state" 2>/dev/null)" in rolled-back|'') ;; *) newer="$newer $n" ;; esac
done
[ -z "$newer" ] || { echo "NEWER$newer"; exit 0; }
bash ${shQuote(`${dir}/restore.sh`)}
`,
      { timeoutMs },
    );
    if (res.stdout.includes('NO-SNAPSHOT')) return done('no-snapshot', `no snapshot of run ${runId} on this host`);
    const newer = /^NEWER (.*)$/m.exec(res.stdout);
    if (newer)
      return done('failed', `later runs are still applied on this host (${newer[1]}): roll them back first, newest first`);
    if (res.code !== 0) throw new EdgeError('ROLLBACK', res.stderr.trim() || `restore exited ${res.code}`, { host });
    return done('rolled-back', `restored the state from before run ${runId}`);
  } catch (e) {
    return done('failed', errorMessage(e));
  } finally {
    conn.close();
  }
}

export interface RemoteRun {
  runId: string;
  state: string;
  createdAt?: string;
}

/**
 * The runs whose snapshots a host keeps, newest first, with the state each left the host in. An
 * applied run whose dead-man timer is still counting down is "armed" (--confirm manual, or edge
 * gone before it could confirm): it restores itself unless someone confirms it.
 */
export async function listRemoteRuns(conn: SshConnection, timeoutMs: number): Promise<RemoteRun[]> {
  const res = await conn.exec(
    `for d in ${SNAPSHOT_ROOT}/*/; do [ -d "$d" ] || continue; n=\${d%/}; n=\${n##*/}; ` +
      `s=$(cat "$d/state" 2>/dev/null || echo unknown); ` +
      `if [ "$s" = applied ] && systemctl is-active --quiet "${DEADMAN_PREFIX}$n.timer" 2>/dev/null; then s=armed; fi; ` +
      `printf '%s\\t%s\\n' "$n" "$s"; done`,
    { timeoutMs },
  );
  return res.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [runId, state] = l.split('\t');
      return { runId: runId ?? '', state: state ?? 'unknown' };
    })
    .sort((a, b) => b.runId.localeCompare(a.runId));
}

import { shQuote } from '../encode/index.js';
import { LOCK_FILE, snapshotDir } from './host-layout.js';

/**
 * The order of runs is the router's, never a controller's clock. A run gets the host's next sequence
 * number when it takes the host's lock (host-lock.ts), and its first change records it with the
 * host's boot id in the run's snapshot dir (`order`: "SEQ BOOT_ID"). "Later" (rollback refusals),
 * pruning and `edge runs` compare those numbers. A snapshot made before edge numbered runs has none
 * and counts as older than every numbered one (ordered by id among themselves).
 *
 * ORDER_LIB: edge_order DIR prints a run's sort key, "%012d NAME" (its sequence number, then its id),
 * so keys compare as strings and `sort` orders them oldest first.
 */
export const ORDER_LIB = `edge_order() {
  local o; o=$(cut -d' ' -f1 "$1/order" 2>/dev/null || true)
  case "$o" in ''|*[!0-9]*) o=0 ;; esac
  printf '%012d %s\\n' "$o" "$(basename -- "$1")"
}
`;

/**
 * The first changing exec of a run (after snapshotMkdir set $D): the run must still hold the host's
 * lock (a controller whose lease ran out may have been taken over), and records its sequence number
 * and the boot id from that lock.
 */
export function recordOrderScript(runId: string): string {
  return [
    `[ "$(sed -n 's/^run=//p' ${LOCK_FILE} 2>/dev/null)" = ${shQuote(runId)} ] || edge_fail ${shQuote(`run ${runId} no longer holds this host's lock (its lease ran out and another edge took the host): not applying`)}`,
    `edge_put "$D/order" "$(sed -n 's/^seq=//p' ${LOCK_FILE}) $(sed -n 's/^boot=//p' ${LOCK_FILE})"`,
  ].join('\n');
}

/** Shell: the sort key of run `runId` on this host (see ORDER_LIB). */
export function orderKeyOf(runId: string): string {
  return `"$(edge_order ${shQuote(snapshotDir(runId))})"`;
}

/**
 * Run ids newest first, across hosts: each host's own order (its sequence numbers) decides between
 * the runs it knows; runs no host orders against each other (or that hosts order differently, as two
 * rollouts crossing can) fall back on their ids. `perHost`: each host's run ids, newest first.
 */
export function newestFirst(runIds: Iterable<string>, perHost: string[][]): string[] {
  const left = new Set(runIds);
  // newer.get(x): the runs some host lists just before x, i.e. newer than x.
  const newer = new Map<string, Set<string>>();
  for (const list of perHost) {
    for (let i = 1; i < list.length; i++) {
      const [a, b] = [list[i - 1]!, list[i]!];
      if (!left.has(a) || !left.has(b) || a === b) continue;
      if (!newer.has(b)) newer.set(b, new Set());
      newer.get(b)!.add(a);
    }
  }
  const out: string[] = [];
  while (left.size) {
    const ids = [...left].sort().reverse();
    const next = ids.find((id) => ![...(newer.get(id) ?? [])].some((n) => left.has(n))) ?? ids[0]!;
    out.push(next);
    left.delete(next);
  }
  return out;
}

import { shQuote } from '../encode/index.js';

export interface EdgeHealthPaths {
  routingConf: string;
  failoverConf: string;
  runDir: string;
}

/**
 * /usr/local/sbin/edge-health WAN: keepalived's check of one WAN. Every target is probed in
 * parallel with one ping carrying the WAN's mark and source address, so the probe is routed by that
 * WAN's own table whatever the main table says (defect 8); the check passes when at least
 * SUCCESS_THRESHOLD targets answer. One round costs one probe timeout, well inside keepalived's
 * script timeout (defect 9). The result is recorded in RUN_DIR/WAN.health for `edge-failover status`.
 */
export function renderEdgeHealthScript(p: EdgeHealthPaths): string {
  return `#!/bin/bash
# Managed by edge: health check of one WAN, run by keepalived (and by edge's verify).
#
#   edge-health wan1|wan2    exit 0 when at least SUCCESS_THRESHOLD targets answer through that WAN
#
# Each target gets one ping with the WAN's mark (-m) and source address (-I): ip rules send both to
# the WAN's own table, never to another WAN or the main table. All targets are probed at once, so a
# check takes one PROBE_TIMEOUT. The result goes to RUN_DIR/WAN.health ("pass 3/3 EPOCH").
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ROUTING_CONF=\${EDGE_ROUTING_CONF:-${shQuote(p.routingConf)}}
FAILOVER_CONF=\${EDGE_FAILOVER_CONF:-${shQuote(p.failoverConf)}}
RUN_DIR=\${EDGE_RUN_DIR:-${shQuote(p.runDir)}}

fail_usage() { echo "edge-health: $*" >&2; exit 2; }

wan=\${1:-}
case "$wan" in
  wan1) n=1 ;;
  wan2) n=2 ;;
  *) fail_usage "usage: edge-health wan1|wan2" ;;
esac
# shellcheck source=/dev/null
. "$ROUTING_CONF" || fail_usage "cannot read $ROUTING_CONF"
# shellcheck source=/dev/null
. "$FAILOVER_CONF" || fail_usage "cannot read $FAILOVER_CONF"
ifvar="WAN\${n}_IF" markvar="M$n" targetsvar="WAN\${n}_TARGETS"
IF=\${!ifvar} MARK=\${!markvar}
read -r -a TARGETS <<<"\${!targetsvar}"
[[ $IF =~ ^[A-Za-z0-9_.:@-]{1,15}$ ]] || fail_usage "bad $ifvar in $ROUTING_CONF"
[[ $MARK =~ ^0x[0-9a-f]+$ ]] || fail_usage "bad $markvar in $ROUTING_CONF"
[[ $PROBE_TIMEOUT =~ ^[0-9]+(\\.[0-9]+)?$ ]] || fail_usage "bad PROBE_TIMEOUT in $FAILOVER_CONF"
[[ $SUCCESS_THRESHOLD =~ ^[0-9]+$ ]] || fail_usage "bad SUCCESS_THRESHOLD in $FAILOVER_CONF"
[ "\${#TARGETS[@]}" -gt 0 ] || fail_usage "no targets for $wan in $FAILOVER_CONF"
for t in "\${TARGETS[@]}"; do [[ $t =~ ^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$ ]] || fail_usage "bad target $t"; done

record() {
  local tmp
  mkdir -p "$RUN_DIR" 2>/dev/null || return 0
  tmp=$(mktemp "$RUN_DIR/.health.XXXXXX" 2>/dev/null) || return 0
  printf '%s %s/%s %s\\n' "$1" "$2" "\${#TARGETS[@]}" "$(date +%s)" >"$tmp" && mv -f "$tmp" "$RUN_DIR/$wan.health"
}

addr=$(ip -4 -o addr show dev "$IF" scope global 2>/dev/null | awk 'NR == 1 { split($4, a, "/"); print a[1] }')
if [ -z "$addr" ]; then
  record fail 0
  echo "edge-health: $wan ($IF) has no IPv4 address" >&2
  exit 1
fi

# ping wants the mark in decimal.
mark_dec=$((MARK))
pids=()
for t in "\${TARGETS[@]}"; do
  ping -n -q -c 1 -W "$PROBE_TIMEOUT" -m "$mark_dec" -I "$addr" "$t" >/dev/null 2>&1 &
  pids+=("$!")
done
ok=0
for pid in "\${pids[@]}"; do
  if wait "$pid"; then ok=$((ok + 1)); fi
done

summary="$wan ($IF, $addr, mark $MARK): $ok of \${#TARGETS[@]} targets answered, $SUCCESS_THRESHOLD needed"
if [ "$ok" -ge "$SUCCESS_THRESHOLD" ]; then
  record pass "$ok"
  echo "edge-health: $summary"
  exit 0
fi
record fail "$ok"
echo "edge-health: $summary" >&2
exit 1
`;
}

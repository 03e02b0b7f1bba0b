#!/bin/bash
# Managed by edge: health check of one WAN, run by keepalived (and by edge's verify).
#
#   edge-health wan1|wan2    exit 0 when at least SUCCESS_THRESHOLD targets answer through that WAN
#
# Each target gets one ping with the WAN's mark (-m) and source address (-I): ip rules send both to
# the WAN's own table, never to another WAN or the main table. All targets are probed at once, so a
# check takes one PROBE_TIMEOUT. The result goes to RUN_DIR/WAN.health ("pass 3/3 EPOCH").
PROG=edge-health
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${BASH_SOURCE[0]%/*}/lib.sh" # edge bundles the library here

fail_usage() { echo "edge-health: $*" >&2; exit 2; }

wan=${1:-}
case "$wan" in
  wan1) n=1 ;;
  wan2) n=2 ;;
  *) fail_usage "usage: edge-health wan1|wan2" ;;
esac
load_conf "$ROUTING_CONF" "$FAILOVER_CONF" || fail_usage "cannot read the configuration"
ifvar="WAN${n}_IF" markvar="M$n" targetsvar="WAN${n}_TARGETS"
IF=${!ifvar} MARK=${!markvar}
read -r -a TARGETS <<<"${!targetsvar}"
[[ $IF =~ $IFNAME_RE ]] || fail_usage "bad $ifvar in $ROUTING_CONF"
[[ $MARK =~ $MARK_RE ]] || fail_usage "bad $markvar in $ROUTING_CONF"
[[ $PROBE_TIMEOUT =~ $NUM_RE ]] || fail_usage "bad PROBE_TIMEOUT in $FAILOVER_CONF"
[[ $SUCCESS_THRESHOLD =~ $UINT_RE ]] || fail_usage "bad SUCCESS_THRESHOLD in $FAILOVER_CONF"
[ "${#TARGETS[@]}" -gt 0 ] || fail_usage "no targets for $wan in $FAILOVER_CONF"
for t in "${TARGETS[@]}"; do [[ $t =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail_usage "bad target $t"; done

record() {
  mkdir -p "$RUN_DIR" 2>/dev/null || return 0
  write_atomic "$RUN_DIR/$wan.health" "$1 $2/${#TARGETS[@]} $(printf '%(%s)T' -1)" 2>/dev/null || true
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
for t in "${TARGETS[@]}"; do
  ping -n -q -c 1 -W "$PROBE_TIMEOUT" -m "$mark_dec" -I "$addr" "$t" >/dev/null 2>&1 &
  pids+=("$!")
done
ok=0
for pid in "${pids[@]}"; do
  if wait "$pid"; then ok=$((ok + 1)); fi
done

summary="$wan ($IF, $addr, mark $MARK): $ok of ${#TARGETS[@]} targets answered, $SUCCESS_THRESHOLD needed"
if [ "$ok" -ge "$SUCCESS_THRESHOLD" ]; then
  record pass "$ok"
  echo "edge-health: $summary"
  exit 0
fi
record fail "$ok"
echo "edge-health: $summary" >&2
exit 1

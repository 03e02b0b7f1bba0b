#!/bin/bash
# Managed by edge: continuous health probing of both WANs, and the switcher that acts on it.
#
#   edge-probe run     probe both WANs until stopped (what edge-probe.service runs)
#   edge-probe show    each WAN's last decision and why (RUN_DIR/WAN.probe)
#
# Per WAN: one ping per target, every PROBE_INTERVAL s, with the WAN's mark and source address. A WAN
# is down as soon as fewer than SUCCESS_THRESHOLD targets answered within PROBE_TIMEOUT s, and up
# again once that many kept answering for RISE s without a break. It is degraded once its loss or
# round-trip time over QUALITY_WINDOW s passes DEGRADED_LOSS % or DEGRADED_RTT s, until both are
# within RECOVERY_LOSS % and RECOVERY_RTT s for RECOVERY_HOLD s (edge-probe.awk has the details).
# Decisions: RUN_DIR/WAN.probe ("up|degraded|down EPOCH why") and RUN_DIR/WAN.track (1 = down, else
# 0: keepalived's track_file); each decision is also a
# line to `edge-failover switcher`, a child of this service, which switches the preferred WAN at
# once (no process chain between a decision and the map) and feeds systemd's watchdog while both
# WANs' state machines beat. With translated IPv6 (routing.conf's V6_LAN_ADDR) each WAN's IPv6 is
# probed the same way, from its global IPv6 address to WANn_TARGETS6, by machines named wan1v6 and
# wan2v6 (their own decisions: IPv6 can fail alone). The process restarts itself (through systemd)
# when its configuration files change, and exits when any of its parts ends (systemd restarts it).
PROG=edge-probe
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${BASH_SOURCE[0]%/*}/lib.sh" # edge bundles the library here
# The state machine (mawk): its own file, so ps shows its arguments, not the program.
PROBE_AWK=${EDGE_PROBE_AWK:-/usr/local/lib/edge/edge-probe.awk}
SWITCHER=${EDGE_FAILOVER:-/usr/local/sbin/edge-failover}
TICK=0.25 # the clock; with pings running their own lines come every PROBE_INTERVAL per target
CHECK_TICKS=4 # address, pings and configuration are checked every CHECK_TICKS ticks (1 s)

load() {
  WAN1_IF='' WAN2_IF='' M1='' M2='' WAN1_TARGETS='' WAN2_TARGETS='' PROBE_INTERVAL='' PROBE_TIMEOUT='' RISE='' SUCCESS_THRESHOLD=''
  WAN1_TARGETS6='' WAN2_TARGETS6='' V6_LAN_ADDR=''
  QUALITY_WINDOW='' DEGRADED_LOSS='' RECOVERY_LOSS='' DEGRADED_RTT='' RECOVERY_RTT='' RECOVERY_HOLD=''
  load_conf "$ROUTING_CONF" "$FAILOVER_CONF" || return 1
  FAMILIES=4
  [ -z "$V6_LAN_ADDR" ] || [ -z "$WAN1_TARGETS6" ] || [ -z "$WAN2_TARGETS6" ] || FAMILIES='4 6'
  valid "$IFNAME_RE" "$WAN1_IF" WAN1_IF && valid "$IFNAME_RE" "$WAN2_IF" WAN2_IF &&
    valid "$MARK_RE" "$M1" M1 && valid "$MARK_RE" "$M2" M2 &&
    valid '^[0-9.]+( [0-9.]+)*$' "$WAN1_TARGETS" WAN1_TARGETS && valid '^[0-9.]+( [0-9.]+)*$' "$WAN2_TARGETS" WAN2_TARGETS &&
    valid "$NUM_RE" "$PROBE_INTERVAL" PROBE_INTERVAL && valid "$NUM_RE" "$PROBE_TIMEOUT" PROBE_TIMEOUT &&
    valid "$NUM_RE" "$RISE" RISE && valid "$UINT_RE" "$SUCCESS_THRESHOLD" SUCCESS_THRESHOLD &&
    valid "$NUM_RE" "$QUALITY_WINDOW" QUALITY_WINDOW && valid "$NUM_RE" "$RECOVERY_HOLD" RECOVERY_HOLD &&
    valid "$NUM_RE" "$DEGRADED_LOSS" DEGRADED_LOSS && valid "$NUM_RE" "$RECOVERY_LOSS" RECOVERY_LOSS &&
    valid "$NUM_RE" "$DEGRADED_RTT" DEGRADED_RTT && valid "$NUM_RE" "$RECOVERY_RTT" RECOVERY_RTT &&
    valid '^([0-9a-f:]+( [0-9a-f:]+)*)?$' "$WAN1_TARGETS6" WAN1_TARGETS6 && valid '^([0-9a-f:]+( [0-9a-f:]+)*)?$' "$WAN2_TARGETS6" WAN2_TARGETS6
}

# wan_addr 4|6 IF: the first global IPv4 address of IF, or its first global IPv6 address that is
# the ISP's (not a ULA) and usable (not tentative, not deprecated); empty without one.
wan_addr() {
  local _i _d fam a
  if [ "$1" = 4 ]; then
    addr4 "$2"
    printf '%s' "$ADDR4"
    return 0
  fi
  while read -r _i _d fam a _; do
    [ "$fam" = inet6 ] || continue
    case "$a" in [fF][cCdD]*) continue ;; esac
    printf '%s' "${a%/*}"
    return 0
  done < <(ip -6 -o addr show dev "$2" scope global -tentative -deprecated 2>/dev/null)
}

# producer N 4|6: the event stream of WAN N's family on stdout: the clock, address changes, and the
# pings' own lines.
producer() {
  local n=$1 fam=$2 ifvar="WAN$1_IF" markvar="M$1" tvar="WAN$1_TARGETS${2#4}"
  local ifname=${!ifvar} mark=$((${!markvar})) addr='' new t i=0 sleep_fd pid dead carrier had=''
  local -a targets pids=()
  read -r -a targets <<<"${!tvar}"
  # A pipe nobody writes to: read -t on it sleeps without starting a process.
  exec {sleep_fd}<> <(:)
  trap 'kill "${pids[@]}" 2>/dev/null; wait; exit 0' TERM INT HUP
  trap 'kill "${pids[@]}" 2>/dev/null' EXIT
  while :; do
    if [ $((i % CHECK_TICKS)) = 0 ]; then
      if [ "$ROUTING_CONF" -nt "$STARTED" ] || [ "$FAILOVER_CONF" -nt "$STARTED" ]; then
        log "configuration changed: restarting"
        kill -TERM "$MAIN_PID" 2>/dev/null
        exit 0
      fi
      new=$(wan_addr "$fam" "$ifname") dead=no
      for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || dead=yes; done
      if [ "$new" != "$addr" ] || [ "$dead" = yes ]; then
        [ "${#pids[@]}" = 0 ] || kill "${pids[@]}" 2>/dev/null
        pids=() addr=$new
        mono
        printf 'addr %s %s\n' "$MONO" "${addr:--}"
        if [ -n "$addr" ]; then
          for t in "${targets[@]}"; do
            ping "-$fam" -n -D -O -i "$PROBE_INTERVAL" -m "$mark" -I "$addr" "$t" 2>/dev/null &
            pids+=("$!")
          done
        fi
      fi
    fi
    # sysfs, with a builtin read: a lost carrier is seen within a tick, without starting a process
    carrier=0
    read -r carrier 2>/dev/null <"/sys/class/net/$ifname/carrier" || carrier=0
    mono
    if [ "$carrier" != "$had" ]; then printf 'carrier %s %s\n' "$MONO" "$carrier"; had=$carrier; fi
    printf 'tick %s %s\n' "$MONO" "$EPOCHREALTIME"
    read -r -t "$TICK" -u "$sleep_fd" _ || true
    i=$((i + 1))
  done
}

machine() { # NAME N 4|6
  local ifvar="WAN$2_IF" tvar="WAN$2_TARGETS${3#4}" grace
  # A WAN never measured (at boot, DHCP may still be asking) gets the rise period to answer.
  grace=$(mawk -v a="$RISE" -v b="$PROBE_TIMEOUT" 'BEGIN { print (a > b ? a : b) }')
  exec mawk -W interactive -v wan="$1" -v ifname="${!ifvar}" -v targets="${!tvar}" -v timeout="$PROBE_TIMEOUT" \
    -v rise="$RISE" -v need="$SUCCESS_THRESHOLD" -v grace="$grace" -v run_dir="$RUN_DIR" -v family="IPv$3" \
    -v interval="$PROBE_INTERVAL" -v window="$QUALITY_WINDOW" -v dloss="$DEGRADED_LOSS" -v rloss="$RECOVERY_LOSS" \
    -v drtt="$DEGRADED_RTT" -v rrtt="$RECOVERY_RTT" -v hold="$RECOVERY_HOLD" -f "$PROBE_AWK"
}

run() {
  # systemd signals every process of the service; a stop from inside (a producer that saw the
  # configuration change) signals this shell alone, and it ends every ping and state machine
  # (they share this process group) and waits for them, exiting last. Set before the first child
  # starts, so no stop finds this shell without it.
  trap "trap '' TERM INT; kill 0 2>/dev/null; wait; exit 0" TERM INT
  load || exit 1
  mkdir -p "$RUN_DIR" || exit 1
  MAIN_PID=$$ STARTED="$RUN_DIR/probe.started"
  : >"$STARTED"
  [ -r "$PROBE_AWK" ] || { log "cannot read $PROBE_AWK"; exit 1; }
  local n f name fifo="$RUN_DIR/switcher.fifo" sw
  # Both state machines write to the switcher through one FIFO, which this shell also holds open:
  # the switcher sees its input end only when the service ends. Read-write, so the open never
  # waits for a reader (a stop can end the switcher before it opened its end).
  rm -f "$fifo" && mkfifo -m 0600 "$fifo" || exit 1
  "$SWITCHER" switcher <"$fifo" &
  exec {sw}<>"$fifo"
  for f in $FAMILIES; do
    for n in 1 2; do
      name=wan$n
      [ "$f" = 4 ] || name+=v6
      producer "$n" "$f" | machine "$name" "$n" "$f" >&"$sw" &
    done
  done
  wait -n
  log "a WAN's prober or the switcher ended; exiting so that systemd restarts edge-probe"
  kill 0 2>/dev/null
  exit 1
}

show() {
  local w s at why
  for w in wan1 wan2 wan1v6 wan2v6; do
    [ -e "$RUN_DIR/$w.probe" ] || [ "${w%v6}" = "$w" ] || continue
    s='' at='' why=''
    [ -r "$RUN_DIR/$w.probe" ] && read -r s at why <"$RUN_DIR/$w.probe"
    printf '%s %s %s %s\n' "$w" "${s:-unknown}" "${at:--}" "${why:-}"
  done
}

case "${1:-}" in
  run) run ;;
  show) show ;;
  *) echo "usage: edge-probe run|show" >&2; exit 2 ;;
esac

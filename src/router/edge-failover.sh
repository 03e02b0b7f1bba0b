#!/bin/bash
# Managed by edge: switches new flows between WANs from edge-probe's decisions.
#
#   edge-failover switcher  the long-running switcher inside edge-probe.service: reads edge-probe's
#                           lines on stdin, and keeps systemd's watchdog fed while both WANs' state
#                           machines beat
#   edge-failover sync      make the preferred WAN follow the decisions now (after a ruleset load)
#   edge-failover notify INSTANCE NAME STATE [PRIORITY]   keepalived's notify handler: records
#                           keepalived's state and syncs (a second, independent path)
#   edge-failover link      create keepalived's private link and missing track files (idempotent)
#   edge-failover prepare   the same, as keepalived's ExecStartPre
#   edge-failover status    preferred WAN, each WAN's decision, last check, keepalived, flows
#   edge-failover history [N]   the last N switches (default 20): when, from, to, how long, why
#
# Level-triggered: whatever wakes it (a decision, a beat, a notification, a sync after a ruleset
# load), the preferred WAN is computed from the current decisions of BOTH WANs (RUN_DIR/WAN.probe,
# edge-probe's) and applied if it differs; no message carries a transition, so a late or reordered
# one cannot win. Preferred: wan1 when wan1 is up; wan2 when wan1 is down and wan2 is not known to
# be down; otherwise unchanged (an unknown WAN right after boot never causes a switch).
#
# One nft transaction sets the map element and the set of dead WAN marks (TCP_RESET=yes: the LAN
# client's next packet on a flow pinned to a WAN that was left for being down gets a TCP reset;
# other flows of that WAN are deleted from conntrack, so UDP is re-pinned by its next packet). The
# router's own traffic that is not bound to a WAN (no WAN source address, no mark) follows: ip rule
# PRIO+40 "iif lo lookup TABLE" (edge-routes keeps it matching the map).
PROG=edge-failover
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${BASH_SOURCE[0]%/*}/lib.sh" # edge bundles the library here
# Lines kept in the switch history (it is trimmed to this when it grows to twice as many).
SWITCH_LOG_KEEP=1000

load() {
  LAN_IF='' M1='' M2='' T1='' T2='' T1_NAME='' T2_NAME='' PRIO='' NFT_FAMILY='' NFT_TABLE='' NFT_MAP='' NFT_DEAD_SET=''
  NFT_AVOID_MAP='' NFT_DOWN_SET='' V6_LAN_ADDR=''
  FLUSH_CONNTRACK=no TCP_RESET=no SWITCH_LOG='' KA_A='' KA_B='' KA_ADDR_A='' KA_ADDR_B=''
  load_conf "$ROUTING_CONF" "$FAILOVER_CONF" || return 1
  valid "$IFNAME_RE" "$LAN_IF" LAN_IF && valid "$MARK_RE" "$M1" M1 && valid "$MARK_RE" "$M2" M2 &&
    valid "$UINT_RE" "$T1" T1 && valid "$UINT_RE" "$T2" T2 && valid "$UINT_RE" "$PRIO" PRIO &&
    valid "$NAME_RE" "$T1_NAME" T1_NAME && valid "$NAME_RE" "$T2_NAME" T2_NAME &&
    valid "$NAME_RE" "$NFT_TABLE" NFT_TABLE && valid "$NAME_RE" "$NFT_MAP" NFT_MAP && valid '^(inet|ip)$' "$NFT_FAMILY" NFT_FAMILY &&
    valid "$NAME_RE" "$NFT_DEAD_SET" NFT_DEAD_SET && valid "$NAME_RE" "$NFT_AVOID_MAP" NFT_AVOID_MAP &&
    valid "$NAME_RE" "$NFT_DOWN_SET" NFT_DOWN_SET && valid '^(yes|no)$' "$TCP_RESET" TCP_RESET &&
    valid '^(yes|no)$' "$FLUSH_CONNTRACK" FLUSH_CONNTRACK && valid '^/[^[:space:]]+$' "$SWITCH_LOG" SWITCH_LOG &&
    valid "$IFNAME_RE" "$KA_A" KA_A && valid "$IFNAME_RE" "$KA_B" KA_B &&
    valid '^[0-9./]+$' "$KA_ADDR_A" KA_ADDR_A && valid '^[0-9./]+$' "$KA_ADDR_B" KA_ADDR_B &&
    valid '^([0-9a-f:]+/[0-9]+)?$' "$V6_LAN_ADDR" V6_LAN_ADDR
  # The environment wins for tests and for running this by hand.
  SWITCH_LOG=${EDGE_SWITCH_LOG:-$SWITCH_LOG}
}

# probe_state WAN: S = edge-probe's last decision about WAN (up|down|unknown), WHY = its reason.
# AT = when it was made (epoch, for people).
probe_state() {
  local st='' at='' why=''
  [ -r "$RUN_DIR/$1.probe" ] && read -r st at why <"$RUN_DIR/$1.probe"
  case "$st" in up | down) S=$st ;; *) S=unknown ;; esac
  WHY=${why:-no decision recorded by edge-probe} AT=${at%.*}
}

mark_of() { if [ "$1" = wan1 ]; then echo "$M1"; else echo "$M2"; fi; }

# current_state: CUR = the WAN new LAN flows use now, from the map element (empty if the map or
# element is missing), CUR_DEAD = the mark in the dead set (empty if none), CUR_STEER = the avoid
# map's and the down set's elements (marks as numbers). One nft process.
current_state() {
  local text m re
  CUR='' CUR_DEAD=''
  # The whole table: nft 1.0.6 cannot batch several list commands (nft -f answers ENOENT).
  text=$(nft list table "$NFT_FAMILY" "$NFT_TABLE" 2>/dev/null)
  re="\"$LAN_IF\" : (0x[0-9a-f]+)"
  if [[ $text =~ $re ]]; then
    m=${BASH_REMATCH[1]}
    if [ "$((m))" = "$((M1))" ]; then CUR=wan1; elif [ "$((m))" = "$((M2))" ]; then CUR=wan2; fi
  fi
  re="set $NFT_DEAD_SET [^}]*elements = \{ (0x[0-9a-f]+)"
  if [[ $text =~ $re ]]; then
    m=${BASH_REMATCH[1]}
    if [ "$((m))" = "$((M1))" ]; then CUR_DEAD=$M1; elif [ "$((m))" = "$((M2))" ]; then CUR_DEAD=$M2; fi
  fi
  elements map "$NFT_AVOID_MAP" "$text"
  CUR_STEER="$ELEMS|"
  elements set "$NFT_DOWN_SET" "$text"
  CUR_STEER+=$ELEMS
}

# elements map|set NAME TEXT: ELEMS = the elements of NAME in nft's listing TEXT, each mark as a
# number ("1:2", "1,2"; empty without elements). No process.
elements() {
  local re="$1 $2 \{[^}]*elements = \{ ([^}]*) \}" s num='^([^0-9]*)(0x[0-9a-fA-F]+)(.*)$'
  ELEMS=''
  [[ $3 =~ $re ]] || return 0
  s=${BASH_REMATCH[1]}
  while [[ $s =~ $num ]]; do
    ELEMS+="${BASH_REMATCH[1]// /}$((BASH_REMATCH[2]))"
    s=${BASH_REMATCH[3]}
  done
  ELEMS+=${s// /}
}

# The router's own traffic that no WAN binds (source address, mark) uses WAN $1's table: the rule
# is added before the other one is removed, so there is never a moment without it.
local_rule_follow() {
  local lp=$((PRIO + 40)) cur t n ot on f
  if [ "$1" = wan1 ]; then t=$T1 n=$T1_NAME ot=$T2 on=$T2_NAME; else t=$T2 n=$T2_NAME ot=$T1 on=$T1_NAME; fi
  for f in -4 ${V6_LAN_ADDR:+-6}; do
    cur=$(ip "$f" rule show pref "$lp" 2>/dev/null)
    if ! [[ $cur =~ iif\ lo\ lookup\ ($t|$n)($|[[:space:]]) ]]; then
      ip "$f" rule add pref "$lp" iif lo lookup "$t" || log "could not add ip $f rule $lp (iif lo lookup $n)"
    fi
    if [[ $cur =~ iif\ lo\ lookup\ ($ot|$on)($|[[:space:]]) ]]; then
      ip "$f" rule del pref "$lp" iif lo lookup "$ot" 2>/dev/null || true
    fi
  done
}

# Append one switch to the history: EPOCH FROM TO HELD WHY, HELD = seconds FROM was preferred
# (since the previous switch; - when there is none).
record_switch() { # FROM TO WHY
  local now=${EPOCHREALTIME%???} prev='' held=- dir n # milliseconds, no process
  dir=$(dirname "$SWITCH_LOG")
  mkdir -p "$dir" 2>/dev/null || return 0
  [ -r "$SWITCH_LOG" ] && read -r prev _ < <(tail -n 1 "$SWITCH_LOG")
  [[ $prev =~ ^[0-9]+(\.[0-9]+)?$ ]] && held=$(awk -v a="$prev" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
  printf '%s %s %s %s %s\n' "$now" "${1:-none}" "$2" "$held" "$3" >>"$SWITCH_LOG"
  n=$(wc -l <"$SWITCH_LOG")
  if [ "$n" -gt $((2 * SWITCH_LOG_KEEP)) ]; then
    tail -n "$SWITCH_LOG_KEEP" "$SWITCH_LOG" | write_atomic_from "$SWITCH_LOG"
  fi
}

# decide CUR: WANT (and S1, S2, WHY1, DEAD) from the decisions of both WANs now. DEAD is the
# mark of the WAN new flows leave (or stay off) because it is down: its flows are to be told.
decide() {
  probe_state wan1; S1=$S WHY1=$WHY
  probe_state wan2; S2=$S
  if [ "$S1" = up ]; then WANT=wan1
  elif [ "$S1" = down ] && [ "$S2" != down ]; then WANT=wan2
  elif [ -n "$1" ]; then WANT=$1
  else WANT=wan1
  fi
  DEAD=''
  if [ "$WANT" = wan2 ] && [ "$S1" = down ]; then DEAD=$M1; elif [ "$WANT" = wan1 ] && [ "$S2" = down ]; then DEAD=$M2; fi
  [ "$TCP_RESET" = yes ] || DEAD=''
  steer
}

# steer: AVOID and DOWN, the elements of the steering rules' avoid map (a dead WAN -> the other,
# while the other is not dead) and down set (the dead WANs, ascending), marks as numbers; STEER is
# the same as current_state reads them back (CUR_STEER).
steer() {
  local d=() IFS=,
  AVOID=''
  if [ "$S1" = down ] && [ "$S2" != down ]; then AVOID="$((M1)) : $((M2))"; fi
  if [ "$S2" = down ] && [ "$S1" != down ]; then AVOID="$((M2)) : $((M1))"; fi
  [ "$S1" != down ] || d+=("$((M1))")
  [ "$S2" != down ] || d+=("$((M2))")
  [ "${#d[@]}" != 2 ] || [ "${d[0]}" -lt "${d[1]}" ] || d=("${d[1]}" "${d[0]}")
  DOWN="${d[*]}"
  STEER="${AVOID// /}|$DOWN"
}

# apply_locked: one transaction, the element and the dead set replaced atomically; nothing else in
# the ruleset is touched.
apply_locked() {
  local tx
  printf -v tx 'flush map %s %s %s\nadd element %s %s %s { "%s" : %s }\n' "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" \
    "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" "$LAN_IF" "$(mark_of "$WANT")"
  tx+="flush set $NFT_FAMILY $NFT_TABLE $NFT_DEAD_SET"$'\n'
  [ -z "$DEAD" ] || tx+="add element $NFT_FAMILY $NFT_TABLE $NFT_DEAD_SET { $DEAD }"$'\n'
  tx+="flush map $NFT_FAMILY $NFT_TABLE $NFT_AVOID_MAP"$'\n'"flush set $NFT_FAMILY $NFT_TABLE $NFT_DOWN_SET"$'\n'
  [ -z "$AVOID" ] || tx+="add element $NFT_FAMILY $NFT_TABLE $NFT_AVOID_MAP { $AVOID }"$'\n'
  [ -z "$DOWN" ] || tx+="add element $NFT_FAMILY $NFT_TABLE $NFT_DOWN_SET { $DOWN }"$'\n'
  if ! nft -f - <<<"$tx"; then
    log "could not switch new flows to $WANT: is table $NFT_FAMILY $NFT_TABLE loaded? (systemctl restart edge-nftables)"
    return 1
  fi
}

# sync_locked [CAUSE]: computes and applies the preferred WAN. With a CAUSE (a decision, a
# notification) a change is a switch and is recorded; without one it is a re-sync (after a
# ruleset load reset the map) and only logged.
sync_locked() {
  current_state
  decide "$CUR"
  [ "$WANT" != "$CUR" ] || [ "$DEAD" != "$CUR_DEAD" ] || [ "$STEER" != "$CUR_STEER" ] || { local_rule_follow "$WANT"; return 0; }
  apply_locked || return 1
  after_switch "$CUR" "$CUR_DEAD" "${1:-}"
}

# after_switch BEFORE DEAD_BEFORE CAUSE: what follows a switch, once the element is in place.
after_switch() {
  local why
  if [ "$WANT" != "$1" ]; then
    why="wan1 $S1: $WHY1" # both ways, WAN1's state is what made the choice
    # The record first: its time, taken before any process starts, is when the switch was applied.
    [ -z "$3" ] || record_switch "$1" "$WANT" "$why"
    log "new flows now use $WANT (before: ${1:-none}; wan1 $S1, wan2 $S2)${3:+ [$3]}: $why"
  fi
  local_rule_follow "$WANT"
  [ -z "$DEAD" ] || [ "$DEAD" = "$2" ] || retire_flows "$DEAD"
  [ -n "$DEAD" ] || [ "$FLUSH_CONNTRACK" != yes ] || [ "$WANT" = "$1" ] || [ -z "$1" ] || flush_left "$1"
}

# retire_flows MARK: the WAN with MARK is down and left. TCP flows pinned to it stay in conntrack:
# the next packet a LAN client sends on one gets a reset from the forward chain (its mark is in the
# dead set), so the application reconnects now, through the WAN new flows use. Every other flow of
# it is deleted, so its next packet starts a new flow on that WAN (UDP re-pinned). Both families:
# conntrack's default is IPv4 only, and translated IPv6 pins flows with the same marks.
retire_flows() {
  local f p out
  [ "$FLUSH_CONNTRACK" = yes ] || return 0
  for f in ipv4/udp ipv4/icmp ${V6_LAN_ADDR:+ipv6/udp ipv6/icmpv6}; do
    p=${f#*/}
    out=$(conntrack -D -f "${f%/*}" --mark "$1" -p "$p" 2>&1 >/dev/null) || true
    log "flows pinned to mark $1, ${f%/*} $p: ${out##*: }"
  done
}

# flush_left WAN (TCP_RESET=no): every flow pinned to the WAN left is deleted, as before resets.
flush_left() {
  local s out
  if [ "$1" = wan1 ]; then s=$S1; else s=$S2; fi
  [ "$s" = down ] || return 0
  out=$(conntrack -D --mark "$(mark_of "$1")" 2>&1 >/dev/null) || true
  log "flushed flows pinned to $1: ${out##*: }"
  [ -n "$V6_LAN_ADDR" ] || return 0
  out=$(conntrack -D -f ipv6 --mark "$(mark_of "$1")" 2>&1 >/dev/null) || true
  log "flushed IPv6 flows pinned to $1: ${out##*: }"
}

notify() {
  local type=${1:-} name=${2:-} state=${3:-} wan
  [ "$type" = INSTANCE ] || return 0
  case "$name" in
    edge_wan1) wan=wan1 ;;
    edge_wan2) wan=wan2 ;;
    *) return 0 ;;
  esac
  [ -d "$RUN_DIR" ] || mkdir -p "$RUN_DIR"
  write_atomic "$RUN_DIR/$wan.vrrp" "$state $(printf '%(%s)T' -1)"
  # Whatever the state says, the decision is edge-probe's, read now: the order in which
  # notifications arrive cannot matter.
  with_lock failover sync_locked "keepalived $wan $state"
}

# switcher: edge-probe's state machines write their decisions ("wan1 is DOWN: why") and a beat per
# WAN per second to its stdin. It holds the lock file open (one flock per sync, no subshell), and
# feeds systemd's watchdog while both machines beat: a wedged prober, producer or switcher stops
# the beats, and systemd restarts edge-probe.service.
switcher() {
  local line part='' b1=0 b2=0 lock_fd wake=0
  mkdir -p "$RUN_DIR" && exec {lock_fd}>"$RUN_DIR/failover.lock" || exit 1
  # The service's stderr is edge-probe's journal: decisions go there, as edge-probe's; what the
  # switcher does is edge-failover's, as when keepalived's notifications run it.
  log() { logger -t edge-failover -- "$*" 2>/dev/null || printf 'edge-failover: %s\n' "$*" >&2; }
  while :; do
    # bash's read -t keeps what it read of a line when it times out: that is the start of the next.
    if read -r -t 1 line; then
      line=$part$line part=''
      case "$line" in
        'beat wan1') mono; b1=$MONO_CS ;;
        'beat wan2') mono; b2=$MONO_CS ;;
        *) printf '%s\n' "$line" >&2; wake=1 ;;
      esac
    elif [ "$?" -le 128 ]; then
      log "edge-probe's state machines are gone"
      exit 1
    else
      part+=$line
    fi
    mono
    if [ "$wake" = 1 ] || [ $((MONO_CS - LAST_SYNC)) -ge 200 ]; then
      flock -w 5 "$lock_fd" || { log "timed out waiting for $RUN_DIR/failover.lock"; continue; }
      if [ "$wake" = 1 ]; then sync_locked "edge-probe"; else sync_locked; fi
      flock -u "$lock_fd"
      wake=0 LAST_SYNC=$MONO_CS
    fi
    if [ $((MONO_CS - b1)) -le 300 ] && [ $((MONO_CS - b2)) -le 300 ] && [ $((MONO_CS - LAST_BEAT)) -ge 100 ]; then
      [ -z "${NOTIFY_SOCKET:-}" ] || systemd-notify WATCHDOG=1 2>/dev/null || true
      LAST_BEAT=$MONO_CS
    fi
  done
}
LAST_SYNC=0 LAST_BEAT=0

link() {
  local w
  # keepalived 2.3 refuses a configuration whose track file is missing (its config test and its
  # start), and edge-probe writes one only at its first decision. Until then the file says "0":
  # keepalived's state is a lamp of edge-probe's decisions, and an unmeasured WAN shows no fault.
  # Created only where no file is (noclobber opens with O_EXCL): a decision edge-probe published
  # meanwhile is never overwritten.
  mkdir -p "$RUN_DIR" || { log "cannot create $RUN_DIR"; return 1; }
  for w in wan1 wan2; do
    (set -C; echo 0 >"$RUN_DIR/$w.track") 2>/dev/null || true
  done
  if ! ip link show dev "$KA_A" >/dev/null 2>&1; then
    ip link add "$KA_A" type veth peer name "$KA_B" || { log "cannot create $KA_A/$KA_B"; return 1; }
  fi
  if ! { ip addr replace "$KA_ADDR_A" dev "$KA_A" && ip addr replace "$KA_ADDR_B" dev "$KA_B" &&
    ip link set dev "$KA_A" up && ip link set dev "$KA_B" up; }; then
    log "cannot set up $KA_A/$KA_B"
    return 1
  fi
}

when() { [[ ${1:-} =~ ^[0-9]+$ ]] && date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ || echo unknown; }

status() {
  local w h ratio at v
  current_state
  echo "preferred=${CUR:-unknown}"
  for w in wan1 wan2; do
    h='' ratio='' at='' v=''
    probe_state "$w"
    [ -r "$RUN_DIR/$w.health" ] && read -r h ratio at <"$RUN_DIR/$w.health"
    [ -r "$RUN_DIR/$w.vrrp" ] && read -r v _ <"$RUN_DIR/$w.vrrp"
    echo "$w.state=$S"
    echo "$w.since=$(when "$AT")"
    echo "$w.keepalived=${v:-unknown}"
    echo "$w.health=${h:-unknown} ${ratio:-}"
    echo "$w.checked=$(when "$at")"
    echo "$w.why=$WHY"
    echo "$w.flows=$(conntrack -L --mark "$(mark_of "$w")" 2>/dev/null | wc -l)"
    echo "$w.flows6=$(conntrack -L -f ipv6 --mark "$(mark_of "$w")" 2>/dev/null | wc -l)"
  done
  echo "dead=${CUR_DEAD:-none}"
  echo "switches=$([ -r "$SWITCH_LOG" ] && wc -l <"$SWITCH_LOG" || echo 0)"
}

history() {
  local n=${1:-20}
  [[ $n =~ ^[0-9]+$ ]] || { echo "usage: edge-failover history [N]" >&2; return 2; }
  [ -r "$SWITCH_LOG" ] || { echo "no switch recorded ($SWITCH_LOG)"; return 0; }
  tail -n "$n" "$SWITCH_LOG" | while read -r at from to held why; do
    printf '%s  %s -> %s  (%s held %s s)  %s\n' "$(date -u -d "@${at%.*}" +%Y-%m-%dT%H:%M:%SZ)" "$from" "$to" "$from" "$held" "$why"
  done
}

case "${1:-}" in
  notify) shift; load || exit 1; notify "$@" ;;
  sync) load || exit 1; with_lock failover sync_locked ;;
  switcher) load || exit 1; switcher ;;
  link | prepare) load || exit 1; link ;;
  status) load || exit 1; status ;;
  history) shift; load || exit 1; history "$@" ;;
  *) echo "usage: edge-failover switcher|sync|notify|link|prepare|status|history" >&2; exit 2 ;;
esac

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
#   edge-failover status    preferred WAN, each WAN's decision, last check, keepalived, flows (and
#                           with translated IPv6 the same for IPv6)
#   edge-failover history [N]   the last N switches (default 20): when, from, to, how long, why
#
# Level-triggered: whatever wakes it (a decision, a beat, a notification, a sync after a ruleset
# load), the preferred WAN is computed from the current decisions of BOTH WANs (RUN_DIR/WAN.probe,
# edge-probe's; in the switcher, the last decision line of each, which comes before the file) and
# applied if it differs; no message carries a transition, so a late or reordered
# one cannot win. Preferred: wan1 when wan1 is up; wan2 when wan1 is down and wan2 is not known to
# be down, or when wan1 is degraded and wan2 is up and good (its quality within the recovery
# thresholds now, RUN_DIR/wan2.health: a WAN as bad as wan1 is no better); otherwise unchanged (an
# unknown WAN right after boot, or both WANs degraded, never causes a switch).
#
# One nft transaction sets the map element and the set of dead WAN marks (TCP_RESET=yes: the LAN
# client's next packet on a flow pinned to a WAN that was left for being down gets a TCP reset;
# other flows of that WAN are deleted from conntrack, so UDP is re-pinned by its next packet). The
# router's own traffic that is not bound to a WAN (no WAN source address, no mark) follows: ip rule
# PRIO+40 "iif lo lookup TABLE" (edge-routes keeps it matching the map).
#
# Translated IPv6 (routing.conf's V6_LAN_ADDR): IPv6 flows have their own map and dead set, chosen
# the same way from the IPv6 probes' decisions (RUN_DIR/wan1v6.probe, wan2v6.probe), in the same
# transaction: a WAN whose IPv6 fails while its IPv4 works moves IPv6 alone. Steering rules and
# balance follow each family's own decisions. Native IPv6 (routing.conf's V6_MODE): LAN flows keep
# the WAN of their source prefix, so the switch is told to the hosts instead: the router
# advertisements deprecate the prefix they must not use (native_follow).
PROG=edge-failover
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${BASH_SOURCE[0]%/*}/lib.sh" # edge bundles the library here
# Lines kept in the switch history (it is trimmed to this when it grows to twice as many).
SWITCH_LOG_KEEP=1000

load() {
  LAN_IF='' M1='' M2='' T1='' T2='' T1_NAME='' T2_NAME='' PRIO='' NFT_FAMILY='' NFT_TABLE='' NFT_MAP='' NFT_DEAD_SET=''
  NFT_AVOID_MAP='' NFT_DOWN_SET='' V6_LAN_ADDR='' NFT_MAP6='' NFT_DEAD_SET6='' NFT_AVOID_MAP6='' NFT_DOWN_SET6=''
  V6_MODE='' V6_LAN_PREFER=''
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
    valid '^([0-9a-f:]+/[0-9]+)?$' "$V6_LAN_ADDR" V6_LAN_ADDR &&
    valid '^([A-Za-z0-9_]+)?$' "$NFT_MAP6" NFT_MAP6 && valid '^([A-Za-z0-9_]+)?$' "$NFT_DEAD_SET6" NFT_DEAD_SET6 &&
    valid '^([A-Za-z0-9_]+)?$' "$NFT_AVOID_MAP6" NFT_AVOID_MAP6 && valid '^([A-Za-z0-9_]+)?$' "$NFT_DOWN_SET6" NFT_DOWN_SET6 &&
    valid '^(translated|native)?$' "$V6_MODE" V6_MODE && valid '^(one|both)?$' "$V6_LAN_PREFER" V6_LAN_PREFER
  # Translated IPv6 has its own map, dead set, avoid map and down set, decided by the IPv6 probes
  # (wan1v6, wan2v6).
  V6=''
  [ -z "$V6_LAN_ADDR" ] || [ -z "$NFT_MAP6" ] || [ -z "$NFT_DEAD_SET6" ] || [ -z "$NFT_AVOID_MAP6" ] || [ -z "$NFT_DOWN_SET6" ] || V6=yes
  # The environment wins for tests and for running this by hand.
  SWITCH_LOG=${EDGE_SWITCH_LOG:-$SWITCH_LOG}
}

# probe_state WAN: S = edge-probe's last decision about WAN (up|degraded|down|unknown), WHY = its reason.
# AT = when it was made (epoch, for people; empty in the switcher). The switcher uses the last
# decision line it read from the WAN's machine, which comes before the file is renamed into place.
probe_state() {
  local st='' at='' why=''
  if [ -n "${DECIDED[$1]:-}" ]; then
    S=${DECIDED[$1]} WHY=${DECIDED_WHY[$1]} AT=''
    return 0
  fi
  [ -r "$RUN_DIR/$1.probe" ] && read -r st at why <"$RUN_DIR/$1.probe"
  case "$st" in up | degraded | down) S=$st ;; *) S=unknown ;; esac
  WHY=${why:-no decision recorded by edge-probe} AT=${at%.*}
}
declare -A DECIDED=() DECIDED_WHY=()

# good WAN: G = 1 when edge-probe's last second found WAN's quality within the recovery thresholds
# (the health line's last field), else 0. No process.
good() {
  local hf=()
  G=0
  [ -r "$RUN_DIR/$1.health" ] && IFS=" " read -r -a hf <"$RUN_DIR/$1.health"
  [ "${hf[9]:-0}" != 1 ] || G=1
}

# wan_mark WAN: MARK = WAN's mark (no process, unlike a command substitution).
wan_mark() { if [ "$1" = wan1 ]; then MARK=$M1; else MARK=$M2; fi; }

# current_state: CUR = the WAN new LAN flows use now, from the map element (empty if the map or
# element is missing), CUR_DEAD = the mark in the dead set (empty if none), CUR6 and CUR_DEAD6 the
# same for IPv6 (V6), CUR_STEER = the avoid map's and the down set's elements (marks as numbers;
# with V6 then IPv6's).
# One nft process.
current_state() {
  local text
  # The whole table: nft 1.0.6 cannot batch several list commands (nft -f answers ENOENT).
  text=$(nft list table "$NFT_FAMILY" "$NFT_TABLE" 2>/dev/null)
  map_wan "$NFT_MAP" "$text"; CUR=$WAN_OF
  set_mark "$NFT_DEAD_SET" "$text"; CUR_DEAD=$MARK_OF
  CUR6='' CUR_DEAD6=''
  if [ -n "$V6" ]; then
    map_wan "$NFT_MAP6" "$text"; CUR6=$WAN_OF
    set_mark "$NFT_DEAD_SET6" "$text"; CUR_DEAD6=$MARK_OF
  fi
  elements map "$NFT_AVOID_MAP" "$text"
  CUR_STEER="$ELEMS|"
  elements set "$NFT_DOWN_SET" "$text"
  CUR_STEER+=$ELEMS
  [ -n "$V6" ] || return 0
  elements map "$NFT_AVOID_MAP6" "$text"
  CUR_STEER+="|$ELEMS|"
  elements set "$NFT_DOWN_SET6" "$text"
  CUR_STEER+=$ELEMS
}

# The state the last sync under the lock found in the ruleset or applied to it, in
# RUN_DIR/failover.applied ("CUR CUR_DEAD CUR_STEER CUR6 CUR_DEAD6", - for empty): what the
# switcher compares a decision with, so that a switch costs one nft process, not two. Every sync
# under the lock writes it; a failed apply empties it; a ruleset load is followed by a sync that
# lists the ruleset again (edge-nftables), and the switcher's periodic sync lists it every 2 s.
save_applied() { # CUR CUR_DEAD CUR_STEER CUR6 CUR_DEAD6
  printf '%s %s %s %s %s\n' "${1:--}" "${2:--}" "${3:--}" "${4:--}" "${5:--}" 2>/dev/null >"$RUN_DIR/failover.applied" || true
}

# load_applied: CUR, CUR_DEAD, CUR_STEER, CUR6 and CUR_DEAD6 from RUN_DIR/failover.applied; fails
# when it is missing, empty or not as save_applied writes it.
load_applied() {
  local c='' d='' st='' c6='' d6='' wan='^(wan1|wan2|-)$' mark='^(0x[0-9a-f]+|-)$'
  read -r c d st c6 d6 2>/dev/null <"$RUN_DIR/failover.applied" || return 1
  [[ $c =~ $wan && $c6 =~ $wan && $d =~ $mark && $d6 =~ $mark && $st =~ ^[0-9:,|]+$ ]] || return 1
  CUR=${c#-} CUR_DEAD=${d#-} CUR_STEER=$st CUR6=${c6#-} CUR_DEAD6=${d6#-}
}

# The router's own traffic that no WAN binds (source address, mark) uses WAN $1's table: the rule
# is added before the other one is removed, so there is never a moment without it.
local_rule_follow() { # -4|-6 WAN
  local lp=$((PRIO + 40)) cur t n ot on
  if [ "$2" = wan1 ]; then t=$T1 n=$T1_NAME ot=$T2 on=$T2_NAME; else t=$T2 n=$T2_NAME ot=$T1 on=$T1_NAME; fi
  cur=$(ip "$1" rule show pref "$lp" 2>/dev/null)
  if ! [[ $cur =~ iif\ lo\ lookup\ ($t|$n)($|[[:space:]]) ]]; then
    ip "$1" rule add pref "$lp" iif lo lookup "$t" || log "could not add ip $1 rule $lp (iif lo lookup $n)"
  fi
  if [[ $cur =~ iif\ lo\ lookup\ ($ot|$on)($|[[:space:]]) ]]; then
    ip "$1" rule del pref "$lp" iif lo lookup "$ot" 2>/dev/null || true
  fi
}

# Append one switch to the history: EPOCH FROM TO HELD WHY, HELD = seconds FROM was preferred
# (since the family's previous switch; - when there is none). An IPv6 switch's WHY starts "IPv6 ".
record_switch() { # FROM TO WHY
  local now=${EPOCHREALTIME%???} held=- dir=${SWITCH_LOG%/*}/ n # milliseconds, no process
  [ -d "$dir" ] || mkdir -p "$dir" 2>/dev/null || return 0
  [ ! -r "$SWITCH_LOG" ] || held=$(awk -v six="${3%% *}" -v now="$now" '
    ($5 == "IPv6") == (six == "IPv6") && $1 ~ /^[0-9]+(\.[0-9]+)?$/ { prev = $1 }
    END { if (prev == "") print "-"; else printf "%.1f", now - prev }' "$SWITCH_LOG")
  printf '%s %s %s %s %s\n' "$now" "${1:-none}" "$2" "$held" "$3" >>"$SWITCH_LOG"
  n=$(wc -l <"$SWITCH_LOG")
  if [ "$n" -gt $((2 * SWITCH_LOG_KEEP)) ]; then
    tail -n "$SWITCH_LOG_KEEP" "$SWITCH_LOG" | write_atomic_from "$SWITCH_LOG"
  fi
}

# decide: WANT (and S1, S2, WHY1, DEAD) from the decisions of both WANs now; with V6 the same for
# IPv6 from the IPv6 probes (WANT6, S1_6, S2_6, WHY1_6, DEAD6), each family on its own.
decide() {
  probe_state wan1; S1=$S WHY1=$WHY
  probe_state wan2; S2=$S
  # each WAN's health line read once per sync: choose, steer and the switcher's news all use it
  good wan1; G1=$G
  good wan2; G2=$G
  choose "$CUR" "$S1" "$S2" "$G2"; WANT=$CHOSEN DEAD=$LEFT_DEAD
  WANT6='' DEAD6=''
  if [ -n "$V6" ]; then
    probe_state wan1v6; S1_6=$S WHY1_6=$WHY
    probe_state wan2v6; S2_6=$S
    good wan1v6; G1_6=$G
    good wan2v6; G2_6=$G
    choose "$CUR6" "$S1_6" "$S2_6" "$G2_6"; WANT6=$CHOSEN DEAD6=$LEFT_DEAD
  fi
  steer
}

# choose CUR S1 S2 G2: CHOSEN = the WAN new flows use, from both WANs' states and whether WAN2 is
# good (see the header), and LEFT_DEAD = the mark of the WAN they leave (or stay off) because it is
# down: its flows are to be told (TCP_RESET). A degraded WAN's flows are not: they still work.
choose() {
  if [ "$2" = up ]; then CHOSEN=wan1
  elif [ "$2" = down ] && [ "$3" != down ]; then CHOSEN=wan2
  elif [ "$2" = degraded ] && [ "$3" = down ]; then CHOSEN=wan1
  # once on wan2 for a degraded wan1, stay while wan2 is up: it need not stay good
  elif [ "$2" = degraded ] && [ "$3" = up ] && { [ "$4" = 1 ] || [ "$1" = wan2 ]; }; then CHOSEN=wan2
  elif [ -n "$1" ]; then CHOSEN=$1
  else CHOSEN=wan1
  fi
  LEFT_DEAD=''
  if [ "$CHOSEN" = wan2 ] && [ "$2" = down ]; then LEFT_DEAD=$M1; elif [ "$CHOSEN" = wan1 ] && [ "$3" = down ]; then LEFT_DEAD=$M2; fi
  [ "$TCP_RESET" = yes ] || LEFT_DEAD=''
}

# steer: (from S1, S2, G1, G2) AVOID and DOWN, the elements of the steering rules' avoid map (a dead WAN -> the other,
# while the other is not dead; a degraded WAN -> the other while that one is up and good, and
# after, while it stays up) and down set (the dead WANs, ascending), marks as numbers; with V6 the
# same for IPv6 (AVOID6, DOWN6 from S1_6, S2_6, G1_6, G2_6). STEER is all of them as
# current_state reads them back (CUR_STEER: "avoid|down", with V6 "avoid|down|avoid6|down6").
steer() {
  local held6=''
  steer_family "$S1" "$S2" "$G1" "$G2" "${CUR_STEER%%|*}"
  STEER="${AVOID// /}|$DOWN" AVOID6='' DOWN6=''
  [ -n "$V6" ] || return 0
  [[ $CUR_STEER != *'|'*'|'* ]] || { held6=${CUR_STEER#*|*|}; held6=${held6%%|*}; }
  local a4=$AVOID d4=$DOWN
  steer_family "$S1_6" "$S2_6" "$G1_6" "$G2_6" "$held6"
  AVOID6=$AVOID DOWN6=$DOWN AVOID=$a4 DOWN=$d4
  STEER+="|${AVOID6// /}|$DOWN6"
}

# steer_family S1 S2 G1 G2 HELD: AVOID and DOWN (see steer) for one family; HELD is its avoid
# element in force now ("1:2" or empty).
steer_family() {
  local d=() IFS=,
  AVOID=''
  if [ "$1" = down ] && [ "$2" != down ]; then AVOID="$((M1)) : $((M2))"; fi
  if [ "$2" = down ] && [ "$1" != down ]; then AVOID="$((M2)) : $((M1))"; fi
  if [ "$1" = degraded ] && [ "$2" = up ] && { [ "$4" = 1 ] || [ "$5" = "$((M1)):$((M2))" ]; }; then AVOID="$((M1)) : $((M2))"; fi
  if [ "$2" = degraded ] && [ "$1" = up ] && { [ "$3" = 1 ] || [ "$5" = "$((M2)):$((M1))" ]; }; then AVOID="$((M2)) : $((M1))"; fi
  [ "$1" != down ] || d+=("$((M1))")
  [ "$2" != down ] || d+=("$((M2))")
  [ "${#d[@]}" != 2 ] || [ "${d[0]}" -lt "${d[1]}" ] || d=("${d[1]}" "${d[0]}")
  DOWN="${d[*]}"
}

# apply_locked: one transaction, the element and the dead set replaced atomically; nothing else in
# the ruleset is touched.
apply_locked() {
  local tx
  wan_mark "$WANT"
  printf -v tx 'flush map %s %s %s\nadd element %s %s %s { "%s" : %s }\n' "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" \
    "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" "$LAN_IF" "$MARK"
  tx+="flush set $NFT_FAMILY $NFT_TABLE $NFT_DEAD_SET"$'\n'
  [ -z "$DEAD" ] || tx+="add element $NFT_FAMILY $NFT_TABLE $NFT_DEAD_SET { $DEAD }"$'\n'
  tx+="flush map $NFT_FAMILY $NFT_TABLE $NFT_AVOID_MAP"$'\n'"flush set $NFT_FAMILY $NFT_TABLE $NFT_DOWN_SET"$'\n'
  [ -z "$AVOID" ] || tx+="add element $NFT_FAMILY $NFT_TABLE $NFT_AVOID_MAP { $AVOID }"$'\n'
  [ -z "$DOWN" ] || tx+="add element $NFT_FAMILY $NFT_TABLE $NFT_DOWN_SET { $DOWN }"$'\n'
  if [ -n "$V6" ]; then
    wan_mark "$WANT6"
    tx+="flush map $NFT_FAMILY $NFT_TABLE $NFT_MAP6"$'\n'
    tx+="add element $NFT_FAMILY $NFT_TABLE $NFT_MAP6 { \"$LAN_IF\" : $MARK }"$'\n'
    tx+="flush set $NFT_FAMILY $NFT_TABLE $NFT_DEAD_SET6"$'\n'
    [ -z "$DEAD6" ] || tx+="add element $NFT_FAMILY $NFT_TABLE $NFT_DEAD_SET6 { $DEAD6 }"$'\n'
    tx+="flush map $NFT_FAMILY $NFT_TABLE $NFT_AVOID_MAP6"$'\n'"flush set $NFT_FAMILY $NFT_TABLE $NFT_DOWN_SET6"$'\n'
    [ -z "$AVOID6" ] || tx+="add element $NFT_FAMILY $NFT_TABLE $NFT_AVOID_MAP6 { $AVOID6 }"$'\n'
    [ -z "$DOWN6" ] || tx+="add element $NFT_FAMILY $NFT_TABLE $NFT_DOWN_SET6 { $DOWN6 }"$'\n'
  fi
  if ! nft -f - <<<"$tx"; then
    : 2>/dev/null >"$RUN_DIR/failover.applied"
    log "could not switch new flows to $WANT: is table $NFT_FAMILY $NFT_TABLE loaded? (systemctl restart edge-nftables)"
    return 1
  fi
}

# sync_locked [CAUSE [recorded]]: computes and applies the preferred WAN. With a CAUSE (a decision,
# a notification) a change is a switch and is recorded; without one it is a re-sync (after a
# ruleset load reset the map) and only logged. With "recorded" (the switcher, woken by a decision)
# the state before is the one the last sync saved, when there is one, not the ruleset listed.
sync_locked() {
  local cause=${1:-} seen
  if [ "${2:-}" != recorded ] || ! load_applied; then current_state; fi
  decide
  # with whether each WAN is good: that can move flows off a degraded one without a decision
  seen="$S1 $S2 ${S1_6:-} ${S2_6:-} $G1$G2${G1_6:-}${G2_6:-}"
  # A decision that changed since the switcher's last sync is news whichever wake-up finds it first
  # (the periodic re-sync can read a decision file before its line arrives): its switch is recorded.
  if [ -z "$cause" ] && [ -n "$SEEN" ] && [ "$SEEN" != "$seen" ]; then cause=edge-probe; fi
  SEEN=$seen
  if [ "$WANT" = "$CUR" ] && [ "$DEAD" = "$CUR_DEAD" ] && [ "$STEER" = "$CUR_STEER" ] &&
    [ "$WANT6" = "$CUR6" ] && [ "$DEAD6" = "$CUR_DEAD6" ]; then
    save_applied "$CUR" "$CUR_DEAD" "$CUR_STEER" "$CUR6" "$CUR_DEAD6"
    local_rule_follow -4 "$WANT"
    [ -z "$V6" ] || local_rule_follow -6 "$WANT6"
    native_follow
    return 0
  fi
  apply_locked || return 1
  save_applied "$WANT" "$DEAD" "$STEER" "$WANT6" "$DEAD6"
  native_follow
  after_switch "" "$CUR" "$WANT" "$CUR_DEAD" "$DEAD" "$S1" "$S2" "$WHY1" "$cause"
  [ -z "$V6" ] || after_switch 6 "$CUR6" "$WANT6" "$CUR_DEAD6" "$DEAD6" "$S1_6" "$S2_6" "$WHY1_6" "$cause"
}

# native_follow: native IPv6 moves new LAN flows by router advertisements (RFC 8475): the prefix of
# a WAN they must not use is deprecated. Right after the nft transaction, before the history and
# conntrack work, so hosts hear of a switch as early as the ruleset does. A radvd that is not
# running is said once per change: no host hears of the switch.
native_follow() {
  [ -n "$V6" ] && [ "$V6_MODE" = native ] || return 0
  native_choice "$WANT6" "$DOWN6"
  radvd_follow "$CHOICE"
  [ "$?" != 2 ] || log "edge-radvd is not running: LAN hosts are not told to use $CHOICE's IPv6 prefix (systemctl status edge-radvd)"
}
SEEN='' # the decisions the last sync of this process saw (the switcher's: it lives on)

# after_switch FAMILY BEFORE NOW DEAD_BEFORE DEAD S1 S2 WHY1 CAUSE: what follows a switch of one
# family ("" IPv4, 6 IPv6), once the elements are in place.
after_switch() {
  local f=$1 why tag=${1:+IPv6 }
  if [ "$3" != "$2" ]; then
    why="${tag}wan1 $6: $8" # both ways, WAN1's state is what made the choice
    # The record first: its time, taken before any process starts, is when the switch was applied.
    [ -z "$9" ] || record_switch "$2" "$3" "$why"
    log "new ${tag}flows now use $3 (before: ${2:-none}; wan1 $6, wan2 $7)${9:+ [$9]}: $why"
  fi
  local_rule_follow "-${f:-4}" "$3"
  [ -z "$5" ] || [ "$5" = "$4" ] || retire_flows "${f:-4}" "$5"
  [ -n "$5" ] || [ "$FLUSH_CONNTRACK" != yes ] || [ "$3" = "$2" ] || [ -z "$2" ] || flush_left "${f:-4}" "$2" "$6" "$7"
}

# retire_flows 4|6 MARK: the WAN with MARK is down and left by that family. TCP flows pinned to it
# stay in conntrack: the next packet a LAN client sends on one gets a reset from the forward chain
# (its mark is in the family's dead set), so the application reconnects now, through the WAN new
# flows use. Every other flow of it is deleted, so its next packet starts a new flow on that WAN
# (UDP re-pinned).
retire_flows() {
  local p out ps=(udp icmp) fam=ipv4
  [ "$FLUSH_CONNTRACK" = yes ] || return 0
  [ "$1" = 4 ] || ps=(udp icmpv6) fam=ipv6
  for p in "${ps[@]}"; do
    out=$(conntrack -D -f "$fam" --mark "$2" -p "$p" 2>&1 >/dev/null) || true
    log "flows pinned to mark $2, $fam $p: ${out##*: }"
  done
}

# flush_left 4|6 WAN S1 S2 (TCP_RESET=no): every flow of the family pinned to the WAN left is
# deleted, as before resets.
flush_left() {
  local s out fam=ipv4
  [ "$1" = 4 ] || fam=ipv6
  if [ "$2" = wan1 ]; then s=$3; else s=$4; fi
  [ "$s" = down ] || return 0
  wan_mark "$2"
  out=$(conntrack -D -f "$fam" --mark "$MARK" 2>&1 >/dev/null) || true
  log "flushed $fam flows pinned to $2: ${out##*: }"
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
# WAN (and per WAN's IPv6 with translated IPv6) per second to its stdin. It holds the lock file open (one flock per sync, no subshell), and
# feeds systemd's watchdog while both machines beat: a wedged prober, producer or switcher stops
# the beats, and systemd restarts edge-probe.service.
switcher() {
  local line part='' b1=0 b2=0 b3=0 b4=0 lock_fd wake=0
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
        'beat wan1v6') mono; b3=$MONO_CS ;;
        'beat wan2v6') mono; b4=$MONO_CS ;;
        *)
          printf '%s\n' "$line" >&2
          if [[ $line =~ ^(wan[12](v6)?)\ is\ (UP|DEGRADED|DOWN):\ (.*)$ ]]; then
            DECIDED[${BASH_REMATCH[1]}]=${BASH_REMATCH[3],,} DECIDED_WHY[${BASH_REMATCH[1]}]=${BASH_REMATCH[4]}
          fi
          wake=1
          ;;
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
      if [ "$wake" = 1 ]; then sync_locked edge-probe recorded; else sync_locked; fi
      flock -u "$lock_fd"
      wake=0 LAST_SYNC=$MONO_CS
    fi
    # without translated IPv6 no IPv6 machine runs: their beats are not awaited
    [ -n "$V6" ] || b3=$MONO_CS b4=$MONO_CS
    if [ $((MONO_CS - b1)) -le 300 ] && [ $((MONO_CS - b2)) -le 300 ] && [ $((MONO_CS - b3)) -le 300 ] &&
      [ $((MONO_CS - b4)) -le 300 ] && [ $((MONO_CS - LAST_BEAT)) -ge "$BEAT_EVERY" ]; then
      [ -z "${NOTIFY_SOCKET:-}" ] || systemd-notify WATCHDOG=1 2>/dev/null || true
      LAST_BEAT=$MONO_CS
    fi
  done
}
LAST_SYNC=0 LAST_BEAT=0
# The watchdog is fed a fifth of its timeout apart (systemd passes it as WATCHDOG_USEC; 1 s without
# one): each feed is a process, once a second is more than a timeout of 10 s needs, and a feed may
# wait up to 5 s more behind a sync held up by the lock (flock -w 5).
BEAT_EVERY=100
[[ ! ${WATCHDOG_USEC:-} =~ ^[0-9]{1,12}$ ]] || BEAT_EVERY=$((10#$WATCHDOG_USEC / 50000))

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
  local w h ratio at v loss rtt gd
  current_state
  echo "preferred=${CUR:-unknown}"
  for w in wan1 wan2; do
    h='' ratio='' at='' v=''
    probe_state "$w"
    loss='' rtt='' gd=''
    [ -r "$RUN_DIR/$w.health" ] && read -r h ratio at _ _ _ _ loss rtt gd _ <"$RUN_DIR/$w.health"
    [ -r "$RUN_DIR/$w.vrrp" ] && read -r v _ <"$RUN_DIR/$w.vrrp"
    echo "$w.state=$S"
    echo "$w.since=$(when "$AT")"
    echo "$w.keepalived=${v:-unknown}"
    echo "$w.health=${h:-unknown} ${ratio:-}"
    echo "$w.quality=${loss:--} ${rtt:--} ${gd:-0}"
    echo "$w.checked=$(when "$at")"
    echo "$w.why=$WHY"
    wan_mark "$w"
    echo "$w.flows=$(conntrack -L --mark "$MARK" 2>/dev/null | wc -l)"
    echo "$w.flows6=$(conntrack -L -f ipv6 --mark "$MARK" 2>/dev/null | wc -l)"
  done
  echo "dead=${CUR_DEAD:-none}"
  if [ -n "$V6" ]; then
    echo "preferred6=${CUR6:-unknown}"
    for w in wan1 wan2; do
      probe_state "${w}v6"
      echo "$w.v6.state=$S"
      echo "$w.v6.since=$(when "$AT")"
      echo "$w.v6.why=$WHY"
    done
    echo "dead6=${CUR_DEAD6:-none}"
  fi
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

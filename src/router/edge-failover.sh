#!/bin/bash
# Managed by edge: records each WAN's state from keepalived and switches new flows between WANs.
#
#   edge-failover notify INSTANCE NAME STATE [PRIORITY]   keepalived's notify handler
#   edge-failover sync      make the preferred WAN follow the recorded states (after a ruleset load)
#   edge-failover link      create keepalived's private link and missing track files (idempotent)
#   edge-failover prepare   the same, as keepalived's ExecStartPre
#   edge-failover status    preferred WAN, each WAN's state, last change, last check, flows
#   edge-failover history [N]   the last N switches (default 20): when, from, to, how long, why
#
# States live in RUN_DIR: WAN.state ("up|down EPOCH"), WAN.vrrp (keepalived's last state),
# WAN.probe (edge-probe's last decision and why), WAN.health (its last second's result).
#
# Preferred WAN: wan1 when wan1 is up; wan2 when wan1 is down and wan2 is not known to be down;
# otherwise unchanged (an unknown WAN right after boot never causes a switch). The router's own
# traffic that is not bound to a WAN (no WAN source address, no mark) follows it: ip rule PRIO+40
# "iif lo lookup TABLE" (edge-routes keeps it matching the map).
PROG=edge-failover
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${BASH_SOURCE[0]%/*}/lib.sh" # edge bundles the library here
# Lines kept in the switch history (it is trimmed to this when it grows to twice as many).
SWITCH_LOG_KEEP=1000

load() {
  LAN_IF='' M1='' M2='' T1='' T2='' T1_NAME='' T2_NAME='' PRIO='' NFT_FAMILY='' NFT_TABLE='' NFT_MAP=''
  FLUSH_CONNTRACK=no SWITCH_LOG='' KA_A='' KA_B='' KA_ADDR_A='' KA_ADDR_B=''
  load_conf "$ROUTING_CONF" "$FAILOVER_CONF" || return 1
  valid "$IFNAME_RE" "$LAN_IF" LAN_IF && valid "$MARK_RE" "$M1" M1 && valid "$MARK_RE" "$M2" M2 &&
    valid "$UINT_RE" "$T1" T1 && valid "$UINT_RE" "$T2" T2 && valid "$UINT_RE" "$PRIO" PRIO &&
    valid "$NAME_RE" "$T1_NAME" T1_NAME && valid "$NAME_RE" "$T2_NAME" T2_NAME &&
    valid "$NAME_RE" "$NFT_TABLE" NFT_TABLE && valid "$NAME_RE" "$NFT_MAP" NFT_MAP && valid '^(inet|ip)$' "$NFT_FAMILY" NFT_FAMILY &&
    valid '^(yes|no)$' "$FLUSH_CONNTRACK" FLUSH_CONNTRACK && valid '^/[^[:space:]]+$' "$SWITCH_LOG" SWITCH_LOG &&
    valid "$IFNAME_RE" "$KA_A" KA_A && valid "$IFNAME_RE" "$KA_B" KA_B &&
    valid '^[0-9./]+$' "$KA_ADDR_A" KA_ADDR_A && valid '^[0-9./]+$' "$KA_ADDR_B" KA_ADDR_B
  # The environment wins for tests and for running this by hand.
  SWITCH_LOG=${EDGE_SWITCH_LOG:-$SWITCH_LOG}
}

state_of() { # up | down | unknown
  local s=''
  [ -r "$RUN_DIR/$1.state" ] && read -r s _ <"$RUN_DIR/$1.state"
  case "$s" in up | down) echo "$s" ;; *) echo unknown ;; esac
}

# Why edge-probe decided what it did about WAN $1 (its last decision, without state and time).
probe_why() {
  local s='' at='' why=''
  [ -r "$RUN_DIR/$1.probe" ] && read -r s at why <"$RUN_DIR/$1.probe"
  printf '%s' "${why:-no decision recorded by edge-probe}"
}

mark_of() { if [ "$1" = wan1 ]; then echo "$M1"; else echo "$M2"; fi; }

# The WAN new LAN flows use now, from the map element (empty if the map or element is missing).
current_wan() {
  local text m re
  text=$(nft list map "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" 2>/dev/null)
  re="\"$LAN_IF\" : (0x[0-9a-f]+)"
  [[ $text =~ $re ]] || return 0
  m=${BASH_REMATCH[1]}
  if [ "$((m))" = "$((M1))" ]; then echo wan1; elif [ "$((m))" = "$((M2))" ]; then echo wan2; fi
}

# The router's own traffic that no WAN binds (source address, mark) uses WAN $1's table: the rule
# is added before the other one is removed, so there is never a moment without it.
local_rule_follow() {
  local lp=$((PRIO + 40)) cur t n ot on
  if [ "$1" = wan1 ]; then t=$T1 n=$T1_NAME ot=$T2 on=$T2_NAME; else t=$T2 n=$T2_NAME ot=$T1 on=$T1_NAME; fi
  cur=$(ip -4 rule show pref "$lp" 2>/dev/null)
  if ! [[ $cur =~ iif\ lo\ lookup\ ($t|$n)($|[[:space:]]) ]]; then
    ip rule add pref "$lp" iif lo lookup "$t" || log "could not add ip rule $lp (iif lo lookup $n)"
  fi
  if [[ $cur =~ iif\ lo\ lookup\ ($ot|$on)($|[[:space:]]) ]]; then
    ip rule del pref "$lp" iif lo lookup "$ot" 2>/dev/null || true
  fi
}

# Append one switch to the history: EPOCH FROM TO HELD WHY, HELD = seconds FROM was preferred
# (since the previous switch; - when there is none).
record_switch() { # FROM TO WHY
  local now prev='' held=- dir n
  now=$(date +%s.%3N)
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

sync_locked() { # [WHY]: a state change caused this (recorded as a switch); none: a re-sync
  local s1 s2 cur want
  s1=$(state_of wan1) s2=$(state_of wan2) cur=$(current_wan)
  if [ "$s1" = up ]; then want=wan1
  elif [ "$s1" = down ] && [ "$s2" != down ]; then want=wan2
  elif [ -n "$cur" ]; then want=$cur
  else want=wan1
  fi
  if [ "$want" != "$cur" ]; then
    # One transaction: the element is replaced atomically, nothing else in the ruleset is touched.
    if printf 'flush map %s %s %s\nadd element %s %s %s { "%s" : %s }\n' "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" \
      "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" "$LAN_IF" "$(mark_of "$want")" | nft -f -; then
      log "new flows now use $want (before: ${cur:-none}; wan1 $s1, wan2 $s2)${1:+: $1}"
      [ -z "${1:-}" ] || record_switch "$cur" "$want" "$1"
    else
      log "could not switch new flows to $want: is table $NFT_FAMILY $NFT_TABLE loaded? (systemctl restart edge-nftables)"
      return 1
    fi
  fi
  local_rule_follow "$want"
}

# The switch comes first, the journal after: every process started before it delays the switch.
# Records WAN's new state and switches; fails when the WAN was already in that state (no news).
went_locked() { # WAN up|down WHY
  local prev why
  prev=$(state_of "$1")
  write_atomic "$RUN_DIR/$1.state" "$2 $(printf '%(%s)T' -1)"
  [ "$prev" = "$2" ] && { sync_locked; return 1; }
  why=$(probe_why "$1")
  sync_locked "$1 $2: $why"
  log "$1 is ${2^^} ($3; was $prev): $why"
}

went_up_locked() { # WAN WHY
  went_locked "$1" up "$2" || true
}

went_down_locked() { # WAN WHY
  local out
  went_locked "$1" down "$2" || return 0
  if [ "$FLUSH_CONNTRACK" = yes ]; then
    # Flows pinned to the dead WAN are reset so clients reconnect at once (through the other WAN).
    out=$(conntrack -D --mark "$(mark_of "$1")" 2>&1 >/dev/null) || true
    log "flushed flows pinned to $1: ${out##*: }"
  fi
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
  case "$state" in
    MASTER) with_lock failover went_up_locked "$wan" "keepalived MASTER" ;;
    FAULT)
      # Not a measurement before edge-probe's first decision for this WAN (link's placeholder says
      # "no fault", so this is keepalived's own start-up, not the WAN).
      if [ -e "$RUN_DIR/$wan.probe" ]; then with_lock failover went_down_locked "$wan" "keepalived FAULT"; fi
      ;;
    BACKUP)
      # Not a measurement at a (re)start; after FAULT it means edge-probe found the WAN healthy again.
      if [ "$(state_of "$wan")" = down ]; then with_lock failover went_up_locked "$wan" "keepalived left FAULT"; fi
      ;;
    *) ;; # STOP and anything else: not a measurement
  esac
}

link() {
  local w
  # keepalived 2.3 refuses a configuration whose track file is missing (its config test and its
  # start), and edge-probe writes one only at its first decision. Until then the file says "0"
  # (no fault): an unmeasured WAN must not raise a FAULT, because keepalived reports a state only
  # when it changes — a FAULT ignored as "not measured yet" would never be reported again once
  # edge-probe finds that WAN down (a router booting with WAN1 dead would stay on WAN1). Created
  # only where no file is (noclobber opens with O_EXCL): a decision edge-probe published
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
  local w s since h ratio at v cur
  cur=$(current_wan)
  echo "preferred=${cur:-unknown}"
  for w in wan1 wan2; do
    s='' since='' h='' ratio='' at='' v=''
    [ -r "$RUN_DIR/$w.state" ] && read -r s since <"$RUN_DIR/$w.state"
    [ -r "$RUN_DIR/$w.health" ] && read -r h ratio at <"$RUN_DIR/$w.health"
    [ -r "$RUN_DIR/$w.vrrp" ] && read -r v _ <"$RUN_DIR/$w.vrrp"
    echo "$w.state=$(state_of "$w")"
    echo "$w.since=$(when "$since")"
    echo "$w.keepalived=${v:-unknown}"
    echo "$w.health=${h:-unknown} ${ratio:-}"
    echo "$w.checked=$(when "$at")"
    echo "$w.why=$(probe_why "$w")"
    echo "$w.flows=$(conntrack -L --mark "$(mark_of "$w")" 2>/dev/null | wc -l)"
  done
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
  link | prepare) load || exit 1; link ;;
  status) load || exit 1; status ;;
  history) shift; load || exit 1; history "$@" ;;
  *) echo "usage: edge-failover notify|sync|link|prepare|status|history" >&2; exit 2 ;;
esac

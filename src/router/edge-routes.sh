#!/bin/bash
# Managed by edge: keeps the per-WAN routing tables and ip rules in place.
#
#   edge-routes reconcile   make rules and tables match the live state now (idempotent)
#   edge-routes check       show what reconcile would change; exit 1 if anything differs
#   edge-routes monitor     reconcile, then again after link/address/route/rule events (within 0.3 s)
#                           and every 60 s; what edge-routes.service runs
#   edge-routes stop6       remove the router's IPv6 LAN addresses (the service's stop)
#   edge-routes radvd       native IPv6, edge-radvd's ExecStartPre: put in place the router
#                           advertisements edge-failover's decisions call for now (lib.sh's
#                           native_choice, from the ruleset's preferred_wan6 and down6)
#
# For each WAN it reads the live state: the first global IPv4 address of WANn_IF, the gateway
# (WANn_GW, else the main table's default route via WANn_IF with the lowest metric) and the carrier.
# Table Tn holds "default via GW dev IF proto static src ADDR" while the WAN has all three, and is
# empty otherwise. A WAN that is down is never an error: its marked packets hit the unreachable guard.
#
# IPv6 (V6_LAN_ADDR set, translated or native): the same rules in the `ip -6 rule` space, table
# Tn's IPv6 route "default via GW dev IF proto static metric 1024" (GW: the main table's IPv6
# default route via WANn_IF, learned from the ISP's router advertisements), one source rule per
# global address of the WAN, and the router's LAN addresses V6_LAN_ADDR (and native, V6_LAN_ADDR2)
# on LAN_IF. Without V6_LAN_ADDR every IPv6 rule in edge's range and every IPv6 route of its tables
# is removed. An ISP that delegates another prefix than routing.conf was rendered with is followed
# (prefix6_follow, below): the ruleset's rules naming the old prefix, and native, the LAN address and
# the router advertisements, move to the new one until the next run renders it.
#
# set -u but not set -e: this runs for the life of the router; a failed ip command is logged and
# retried at the next event instead of ending the service.
set -u

# Stopping the monitor (the unit has KillMode=mixed: systemd sends SIGTERM to this shell only):
# bash runs the trap once the command in progress (a reconcile, a $(…)) has finished, and the trap
# kills AND reaps ip monitor before exiting, so no process of the service outlives this one. The
# trap is set before the first command that forks: a TERM that ends the shell while a child still
# runs would leave that child to systemd's final SIGKILL, perhaps half way through a change of
# routes. MONITOR_PID falls back to $! for a TERM between starting the monitor and
# recording its PID (nothing else here runs in the background).
MONITOR_PID=''
stop_monitor() {
  local pid=${MONITOR_PID:-${!:-}}
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  MONITOR_PID=''
}
[ "${1:-}" != monitor ] || trap 'stop_monitor; exit 0' TERM INT HUP
PROG=edge-routes
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${BASH_SOURCE[0]%/*}/lib.sh" # edge bundles the library here

load_routing() {
  WAN1_IF='' WAN2_IF='' LAN_IF='' M1='' M2='' T1='' T2='' T1_NAME='' T2_NAME='' PRIO='' WAN1_GW='' WAN2_GW='' NFT_FAMILY='' NFT_TABLE='' NFT_MAP='' NFT_MAP6='' V6_LAN_ADDR=''
  V6_MODE='' V6_LAN_ADDR2='' V6_LAN_PREFER='' NFT_DOWN_SET6='' V6_PD1='' V6_PD2='' V6_SUB1='' V6_SUB2='' V6_SUBNET_ID='' V6_SUBNET_LEN=''
  load_conf "$ROUTING_CONF" || return 1
  valid "$IFNAME_RE" "$WAN1_IF" WAN1_IF && valid "$IFNAME_RE" "$WAN2_IF" WAN2_IF &&
    valid "$MARK_RE" "$M1" M1 && valid "$MARK_RE" "$M2" M2 &&
    valid "$UINT_RE" "$T1" T1 && valid "$UINT_RE" "$T2" T2 && valid "$UINT_RE" "$PRIO" PRIO &&
    valid "$NAME_RE" "$T1_NAME" T1_NAME && valid "$NAME_RE" "$T2_NAME" T2_NAME &&
    valid '^([0-9.]+)?$' "$WAN1_GW" WAN1_GW && valid '^([0-9.]+)?$' "$WAN2_GW" WAN2_GW &&
    valid "$NAME_RE" "$NFT_TABLE" NFT_TABLE && valid "$NAME_RE" "$NFT_MAP" NFT_MAP && valid '^(inet|ip)$' "$NFT_FAMILY" NFT_FAMILY &&
    valid "$IFNAME_RE" "$LAN_IF" LAN_IF && valid '^([0-9a-f:]+/[0-9]+)?$' "$V6_LAN_ADDR" V6_LAN_ADDR &&
    valid '^([A-Za-z0-9_]+)?$' "$NFT_MAP6" NFT_MAP6 && valid '^([A-Za-z0-9_]+)?$' "$NFT_DOWN_SET6" NFT_DOWN_SET6 &&
    valid '^(translated|native)?$' "$V6_MODE" V6_MODE && valid '^([0-9a-f:]+/[0-9]+)?$' "$V6_LAN_ADDR2" V6_LAN_ADDR2 &&
    valid '^(one|both)?$' "$V6_LAN_PREFER" V6_LAN_PREFER &&
    valid '^([0-9a-f:]+/[0-9]+)?$' "$V6_PD1" V6_PD1 && valid '^([0-9a-f:]+/[0-9]+)?$' "$V6_PD2" V6_PD2 &&
    valid '^([0-9a-f:]+/[0-9]+)?$' "$V6_SUB1" V6_SUB1 && valid '^([0-9a-f:]+/[0-9]+)?$' "$V6_SUB2" V6_SUB2 &&
    valid '^([0-9]+)?$' "$V6_SUBNET_ID" V6_SUBNET_ID && valid '^([0-9]+)?$' "$V6_SUBNET_LEN" V6_SUBNET_LEN || return 1
  lan6_followed
}

# lan6_followed: native, the router's LAN addresses are in the subnets of the prefixes the ISPs
# delegate now (prefix6_followed), ::1 of each as the run renders them.
lan6_followed() {
  [ "$V6_MODE" = native ] || return 0
  prefix6_followed
  # a /64's network, as written, ends in "::"
  [ "$P6_SUB1" = "$V6_SUB1" ] || V6_LAN_ADDR="${P6_SUB1%/*}1/${P6_SUB1#*/}"
  [ "$P6_SUB2" = "$V6_SUB2" ] || V6_LAN_ADDR2="${P6_SUB2%/*}1/${P6_SUB2#*/}"
}

# The live state is read with one ip process per question and parsed by bash itself: the reconcile
# after a WAN regains its address starts as few processes as it can, each of which costs tens of
# milliseconds on a router whose CPUs are busy.

# default_gw -4|-6 IF: GW = the gateway of the main table's default route via IF with the lowest
# metric (empty without one): "default via GW …", or with a nexthop object (networkd on trixie)
# "default nhid N via GW …".
default_gw() {
  local line g m best=0 via=' via ([^ ]+)' metric=' metric ([0-9]+)'
  GW=''
  while read -r line; do
    [[ $line == default* && $line =~ $via ]] || continue
    g=${BASH_REMATCH[1]} m=0
    [[ $line =~ $metric ]] && m=${BASH_REMATCH[1]}
    if [ -z "$GW" ] || [ "$m" -lt "$best" ]; then GW=$g best=$m; fi
  done < <(ip "$1" route show table main default dev "$2" 2>/dev/null)
}

# wan_state N: sets W_IF, W_ADDR, W_GW and W_UP (yes/no) for WAN N from the live state.
wan_state() {
  local ifvar="WAN$1_IF" gwvar="WAN$1_GW" out flags=''
  W_IF=${!ifvar}
  addr4 "$W_IF"
  W_ADDR=$ADDR4
  W_GW=${!gwvar}
  if [ -z "$W_GW" ]; then
    default_gw -4 "$W_IF"
    W_GW=$GW
  fi
  out=$(ip -o link show dev "$W_IF" 2>/dev/null)
  [[ $out =~ \<([^>]*)\> ]] && flags=${BASH_REMATCH[1]}
  W_UP=no
  case ",$flags," in *,UP,*) case ",$flags," in *,LOWER_UP,*) W_UP=yes ;; esac ;; esac
}

# The rules edge wants, one per line, as "PRIO: spec" with edge's tables by id.
desired_rules() {
  printf '%s: from all lookup main suppress_prefixlength 0\n' "$PRIO"
  printf '%s: from all fwmark %s lookup %s\n' "$((PRIO + 10))" "$M1" "$T1"
  printf '%s: from all fwmark %s lookup %s\n' "$((PRIO + 11))" "$M2" "$T2"
  [ -z "$A1" ] || printf '%s: from %s lookup %s\n' "$((PRIO + 20))" "$A1" "$T1"
  [ -z "$A2" ] || printf '%s: from %s lookup %s\n' "$((PRIO + 21))" "$A2" "$T2"
  printf '%s: from all fwmark %s unreachable\n' "$((PRIO + 30))" "$M1"
  printf '%s: from all fwmark %s unreachable\n' "$((PRIO + 31))" "$M2"
  printf '%s: from all iif lo lookup %s\n' "$((PRIO + 40))" "$(local_table)"
}

# The router's own unbound traffic follows the WAN new LAN flows use: the preferred_wan map's mark
# (edge-failover switches it), WAN1's table when the map is missing.
local_table() {
  local m='' out
  out=$(nft list map "$NFT_FAMILY" "$NFT_TABLE" "${1:-$NFT_MAP}" 2>/dev/null)
  [[ $out =~ \"\ :\ (0x[0-9a-f]*) ]] && m=${BASH_REMATCH[1]}
  if [ -n "$m" ] && [ "$((m))" = "$((M2))" ]; then echo "$T2"; else echo "$T1"; fi
}

# current_rules ARRAY [-6]: ARRAY = the rules in edge's range PRIO..PRIO+99 now, in the same form,
# single-spaced, edge's tables by id (-6: the IPv6 ones). One ip process.
current_rules() {
  local -n rules=$1
  local -a f
  local i p
  rules=()
  while read -r -a f; do
    p=${f[0]:-}
    p=${p%:}
    if ! [[ $p =~ ^[0-9]+$ ]] || ((p < PRIO || p > PRIO + 99)); then continue; fi
    for ((i = 2; i < ${#f[@]}; i++)); do
      [ "${f[i - 1]}" = lookup ] || continue
      if [ "${f[i]}" = "$T1_NAME" ]; then f[i]=$T1; elif [ "${f[i]}" = "$T2_NAME" ]; then f[i]=$T2; fi
    done
    rules+=("${f[*]}")
  done < <(ip "${2:--4}" rule show)
}

# routes_of 4|6 TABLE: ROUTES = TABLE's routes, one per line, single-spaced (IPv6 without the
# " pref medium" ip adds by itself), as they are compared with the route wanted.
routes_of() {
  local -a f
  local line pref=' pref [a-z]+$'
  ROUTES=''
  while read -r -a f; do
    [ "${#f[@]}" -gt 0 ] || continue
    line="${f[*]}"
    [[ $1 == 4 || ! $line =~ $pref ]] || line=${line% pref *}
    ROUTES+="${ROUTES:+$'\n'}$line"
  done < <(ip "-$1" route show table "$2" 2>/dev/null)
}

in_list() {
  local x=$1 y
  shift
  for y in "$@"; do [ "$x" = "$y" ] && return 0; done
  return 1
}

# plan: fills STALE and MISSING (rule lines), and for N in 1 2: WANT_N (route or empty), NOW_N
# (the routes now, newline-separated), OK_N (yes/no) and the WAN's live state.
plan() {
  local n line want cur
  wan_state 1; A1=$W_ADDR; IF1=$W_IF; GW1=$W_GW; UP1=$W_UP
  wan_state 2; A2=$W_ADDR; IF2=$W_IF; GW2=$W_GW; UP2=$W_UP
  mapfile -t WANT < <(desired_rules)
  current_rules CUR
  STALE=() MISSING=()
  for line in "${CUR[@]}"; do in_list "$line" "${WANT[@]}" || STALE+=("$line"); done
  for line in "${WANT[@]}"; do in_list "$line" "${CUR[@]}" || MISSING+=("$line"); done
  for n in 1 2; do
    local t a gw dev up
    if [ "$n" = 1 ]; then t=$T1 a=$A1 gw=$GW1 dev=$IF1 up=$UP1; else t=$T2 a=$A2 gw=$GW2 dev=$IF2 up=$UP2; fi
    want=''
    if [ -n "$a" ] && [ -n "$gw" ] && [ "$up" = yes ]; then want="default via $gw dev $dev proto static src $a"; fi
    routes_of 4 "$t"
    cur=$ROUTES
    printf -v "WANT_$n" '%s' "$want"
    printf -v "NOW_$n" '%s' "$cur"
    if [ "$cur" = "$want" ]; then printf -v "OK_$n" yes; else printf -v "OK_$n" no; fi
  done
}

# rule_cmd add|del LINE [-6]
rule_cmd() {
  printf 'rule %s pref %s %s\n' "$1" "${2%%: *}" "${2#*: }" | ip "${3:--4}" -batch - >/dev/null
}

apply() {
  local rc=0 n line t want now dev
  for n in 1 2; do
    local okvar="OK_$n" wantvar="WANT_$n" nowvar="NOW_$n"
    [ "${!okvar}" = yes ] && continue
    if [ "$n" = 1 ]; then t=$T1 dev=$IF1; else t=$T2 dev=$IF2; fi
    want=${!wantvar} now=${!nowvar}
    if [ -n "$now" ]; then ip route flush table "$t" || rc=1; fi
    if [ -n "$want" ]; then
      # shellcheck disable=SC2086 # want is "default via GW dev IF proto static src ADDR", built above from validated words
      printf 'route replace table %s %s\n' "$t" "$want" | ip -batch - >/dev/null || { rc=1; log "table $t: could not add: $want"; continue; }
      log "table $t: $want"
    else
      log "table $t: emptied ($dev has no address, gateway or carrier)"
    fi
  done
  for line in "${STALE[@]}"; do
    if rule_cmd del "$line" || ip rule del pref "${line%%: *}" 2>/dev/null; then log "rule removed: $line"; else rc=1; log "could not remove rule: $line"; fi
  done
  for line in "${MISSING[@]}"; do
    if rule_cmd add "$line"; then log "rule added: $line"; else rc=1; log "could not add rule: $line"; fi
  done
  return "$rc"
}

# ---------------------------------------------------------------- IPv6 (translated or native)

# wan_state6 N: W6_GW (the lowest-metric IPv6 default via WANn_IF in main) and W6_ADDRS (its global addresses).
wan_state6() {
  local ifvar="WAN$1_IF"
  default_gw -6 "${!ifvar}"
  W6_GW=$GW
  # global, not ULA (fc00::/7): the addresses the ISP gave this WAN
  W6_ADDRS=$(ip -6 -o addr show dev "${!ifvar}" scope global 2>/dev/null | awk '{ split($4, a, "/"); if (a[1] !~ /^f[cd]/) print a[1] }' | sort -u)
}

desired_rules6() {
  [ -n "$V6_LAN_ADDR" ] || return 0
  local a
  printf '%s: from all lookup main suppress_prefixlength 0\n' "$PRIO"
  printf '%s: from all fwmark %s lookup %s\n' "$((PRIO + 10))" "$M1" "$T1"
  printf '%s: from all fwmark %s lookup %s\n' "$((PRIO + 11))" "$M2" "$T2"
  for a in $V6A1; do printf '%s: from %s lookup %s\n' "$((PRIO + 20))" "$a" "$T1"; done
  for a in $V6A2; do printf '%s: from %s lookup %s\n' "$((PRIO + 21))" "$a" "$T2"; done
  printf '%s: from all fwmark %s unreachable\n' "$((PRIO + 30))" "$M1"
  printf '%s: from all fwmark %s unreachable\n' "$((PRIO + 31))" "$M2"
  printf '%s: from all iif lo lookup %s\n' "$((PRIO + 40))" "$(local_table "${NFT_MAP6:-$NFT_MAP}")"
}


# plan6: STALE6, MISSING6, and for N in 1 2: WANT6_N, NOW6_N, OK6_N (as plan does for IPv4).
plan6() {
  local n line want cur up
  V6GW1='' V6A1='' V6GW2='' V6A2=''
  # without translated IPv6 only the removal of edge's IPv6 rules and routes is planned: no WAN state needed
  if [ -n "$V6_LAN_ADDR" ]; then
    wan_state6 1; V6GW1=$W6_GW; V6A1=$W6_ADDRS
    wan_state6 2; V6GW2=$W6_GW; V6A2=$W6_ADDRS
  fi
  mapfile -t WANT6 < <(desired_rules6)
  current_rules CUR6 -6
  STALE6=() MISSING6=()
  for line in "${CUR6[@]}"; do in_list "$line" "${WANT6[@]}" || STALE6+=("$line"); done
  for line in "${WANT6[@]}"; do in_list "$line" "${CUR6[@]}" || MISSING6+=("$line"); done
  for n in 1 2; do
    local t gw dev
    if [ "$n" = 1 ]; then t=$T1 gw=$V6GW1 dev=$IF1 up=$UP1; else t=$T2 gw=$V6GW2 dev=$IF2 up=$UP2; fi
    want=''
    if [ -n "$V6_LAN_ADDR" ] && [ -n "$gw" ] && [ "$up" = yes ]; then want="default via $gw dev $dev proto static metric 1024"; fi
    routes_of 6 "$t"
    cur=$ROUTES
    printf -v "WANT6_$n" '%s' "$want"
    printf -v "NOW6_$n" '%s' "$cur"
    if [ "$cur" = "$want" ]; then printf -v "OK6_$n" yes; else printf -v "OK6_$n" no; fi
  done
}

apply6() {
  local rc=0 n line t want now
  for n in 1 2; do
    local okvar="OK6_$n" wantvar="WANT6_$n" nowvar="NOW6_$n"
    [ "${!okvar}" = yes ] && continue
    if [ "$n" = 1 ]; then t=$T1; else t=$T2; fi
    want=${!wantvar} now=${!nowvar}
    if [ -n "$now" ]; then ip -6 route flush table "$t" || rc=1; fi
    if [ -n "$want" ]; then
      printf 'route replace table %s %s\n' "$t" "$want" | ip -6 -batch - >/dev/null || { rc=1; log "IPv6 table $t: could not add: $want"; continue; }
      log "IPv6 table $t: $want"
    else
      log "IPv6 table $t: emptied"
    fi
  done
  for line in "${STALE6[@]}"; do
    if rule_cmd del "$line" -6 || ip -6 rule del pref "${line%%: *}" 2>/dev/null; then log "IPv6 rule removed: $line"; else rc=1; log "could not remove IPv6 rule: $line"; fi
  done
  for line in "${MISSING6[@]}"; do
    if rule_cmd add "$line" -6; then log "IPv6 rule added: $line"; else rc=1; log "could not add IPv6 rule: $line"; fi
  done
  lan6_follow || rc=1
  return "$rc"
}

# lan6_follow: the router's addresses on the LAN's IPv6 prefixes are the ones routing.conf names
# (a link set down loses them), recorded. One put there under another configuration (IPv6 turned
# off, a prefix changed, the LAN moved) goes, or it would outlive every run.
lan6_follow() {
  local a want=() have=()
  for a in $V6_LAN_ADDR $V6_LAN_ADDR2; do want+=("$a $LAN_IF"); done
  lan6_recorded
  for a in $LAN6_ADDRS; do have+=("$a $LAN6_IF"); done
  [ "${have[*]}" = "${want[*]}" ] || [ "${#have[@]}" = 0 ] || lan6_remove
  [ "${#want[@]}" -gt 0 ] || return 0
  for a in $V6_LAN_ADDR $V6_LAN_ADDR2; do
    ip -6 -o addr show dev "$LAN_IF" | grep -q " $a " && continue
    ip -6 addr replace "$a" dev "$LAN_IF" nodad || return 1
    log "LAN address $a on $LAN_IF"
  done
  [ "${have[*]}" = "${want[*]}" ] || printf '%s\n' "${want[@]}" | write_atomic_from "$LAN6_FILE"
}

# The addresses edge-routes put on the LAN are recorded (RUN_DIR/lan6.addr) because routing.conf can
# no longer say them once a run or a rollback has replaced the file: what is removed is what was added.
LAN6_FILE=$RUN_DIR/lan6.addr

# lan6_recorded: LAN6_ADDRS (space-separated) and LAN6_IF from the record (both empty without one).
lan6_recorded() {
  local a i
  LAN6_ADDRS='' LAN6_IF=''
  [ -r "$LAN6_FILE" ] || return 0
  while read -r a i; do
    if [[ $a =~ ^[0-9a-f:]+/[0-9]+$ ]] && [[ $i =~ $IFNAME_RE ]]; then LAN6_ADDRS+="${LAN6_ADDRS:+ }$a" LAN6_IF=$i; fi
  done <"$LAN6_FILE"
}

# lan6_remove: the recorded addresses go, and with them what edge's radvd made on that LAN: the
# addresses a network manager configured from its advertisements (in the same prefixes) and the
# routes it learned from them. While edge's radvd still runs (a run stops it after its files have
# changed) its next advertisement brings those back: the record stays, and the stop that follows
# radvd's (the run restarts edge-routes) removes them again, for good.
lan6_remove() {
  local a own gone=''
  for own in $LAN6_ADDRS; do
    # edge's own address last: the kernel removes the prefix route with the last address that made it
    for a in $(ip -6 -o addr show dev "$LAN6_IF" to "$own" 2>/dev/null | awk -v own="$own" '$4 != own { print $4 }') "$own"; do
      ! ip -6 addr del "$a" dev "$LAN6_IF" 2>/dev/null || gone+=" $a"
    done
  done
  ip -6 route flush dev "$LAN6_IF" proto ra 2>/dev/null || true
  [ -z "$gone" ] || log "LAN addresses removed from $LAN6_IF:$gone"
  radvd_running || rm -f "$LAN6_FILE"
}

radvd_running() {
  local pid=''
  [ -r "$RUN_DIR/radvd.pid" ] && read -r pid <"$RUN_DIR/radvd.pid" && [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# ---------------------------------------------------------------- a new delegated IPv6 prefix

# prefix6_follow: an ISP that delegates another prefix than routing.conf was rendered with (V6_PDn;
# empty: a static prefix, never followed) is followed at once, as a new IPv4 gateway is. The LAN's
# subnet of it is computed as the run computes it (subnet6); every rule of edge's ruleset naming the
# old prefix or subnet (NPTv6's mapping, the leak guard, native IPv6's source map) names the new
# ones (prefix6_rules); native, the router's LAN address moves (lan6_followed, then lan6_follow)
# and the router advertisements announce the new subnet and deprecate the old (radvd_follow).
# RUN_DIR/prefix6 records it for edge-failover, edge status and the next run, which renders it. A
# prefix the LAN's subnet does not fit in is refused in the journal and nothing changes.
prefix6_follow() {
  local n ifname pd vpd delegated line rc=0 record=() changed=''
  [ -n "$V6_MODE" ] && [ -n "$V6_PD1$V6_PD2" ] || return 0
  prefix6_followed
  if prefix6_routed; then prefix6_rules; return; fi
  delegated=$(delegated_prefixes)
  for n in 1 2; do
    vpd="V6_PD$n"
    [ -n "${!vpd}" ] || continue
    if [ "$n" = 1 ]; then ifname=$WAN1_IF; else ifname=$WAN2_IF; fi
    pd=''
    while read -r line; do [ "${line%% *}" != "$ifname" ] || pd=${line#* }; done <<<"$delegated"
    prefix6_wan "$n" "$pd" || rc=1
    [ "$PD_CHANGED" != yes ] || changed=yes
    [ -z "$PD_RECORD" ] || record+=("$PD_RECORD")
  done
  if [ -n "$changed" ]; then
    printf '%s\n' "${record[@]}" | write_atomic_from "$RUN_DIR/prefix6" || rc=1
    lan6_followed
    [ "$V6_MODE" != native ] || with_lock failover prefix6_radvd || rc=1
  fi
  prefix6_rules || rc=1
  return "$rc"
}

# prefix6_routed: whether systemd-networkd routes exactly the delegated prefixes in use (it routes
# each delegation it holds as unreachable, proto dhcp): then nothing was delegated anew, known from
# one ip process instead of its journal. dhclient routes none: there the full look is taken.
prefix6_routed() {
  local dst rest seen=0 expected=0 routes
  routes=$(ip -6 route show type unreachable proto dhcp 2>/dev/null) || return 1
  while read -r dst rest; do
    [ "$dst" != unreachable ] || read -r dst rest <<<"$rest"
    [ -n "$dst" ] || continue
    [ "$dst" = "$P6_PD1" ] || [ "$dst" = "$P6_PD2" ] || return 1
    seen=$((seen + 1))
  done <<<"$routes"
  [ -z "$V6_PD1" ] || expected=$((expected + 1))
  [ -z "$V6_PD2" ] || expected=$((expected + 1))
  [ "$seen" -gt 0 ] && [ "$seen" = "$expected" ]
}

# prefix6_wan N PD: WAN N's ISP delegates PD now (empty: nothing delegated in this boot yet, the
# prefix in use stands). Sets P6_*N when it is new, PD_CHANGED (yes|no) and PD_RECORD (its
# RUN_DIR/prefix6 line, empty while the rendered prefix is the one in use).
prefix6_wan() {
  local n=$1 pd=$2 vpd="V6_PD$1" vsub="V6_SUB$1" cur="P6_PD$1" sub="P6_SUB$1" was="P6_WAS$1" earlier
  PD_CHANGED=no PD_RECORD=''
  if [ -n "$pd" ] && [ "$pd" != "${!cur}" ]; then
    if ! subnet6 "$pd" "$V6_SUBNET_LEN" "$V6_SUBNET_ID"; then
      log "IPv6: ISP$n now delegates $pd, which has no subnet $V6_SUBNET_ID of /$V6_SUBNET_LEN for the LAN: the LAN keeps ${!sub} (set edge_ipv6_subnet and run edge)"
      return 1
    fi
    log "IPv6: ISP$n now delegates $pd (was ${!cur}): the LAN's subnet of it is $SUBNET6 (was ${!sub})"
    earlier=${!was}
    [[ ,$earlier, == *",${!sub},"* || ${!sub} == "${!vsub}" ]] || earlier+="${earlier:+,}${!sub}"
    printf -v "$cur" '%s' "$pd"
    printf -v "$sub" '%s' "$SUBNET6"
    printf -v "$was" '%s' "$earlier"
    PD_CHANGED=yes
  fi
  [ "${!cur}" = "${!vpd}" ] || PD_RECORD="wan$n ${!vpd} ${!cur} ${!vsub} ${!sub} ${!was}"
}

# prefix6_radvd: native, the advertisements edge-failover's last decision chose, with the subnets now
# in use (under failover.lock, like every change of the choice).
prefix6_radvd() {
  local choice=''
  [ ! -r "$RUN_DIR/radvd.choice" ] || read -r choice _ <"$RUN_DIR/radvd.choice" || true
  [[ $choice =~ ^(wan1|wan2|both)$ ]] || return 0 # no radvd runs yet: its start chooses
  radvd_follow "$choice"
  [ "$?" != 1 ]
}

# prefix6_rules: every rule of edge's ruleset that names a prefix or subnet no longer in use (the
# rendered one, or one followed before) names the one in use instead: the rule as nft lists it, its
# counters included, put in its place, all in one transaction. No process while the rendered
# prefixes are the ones in use.
prefix6_rules() {
  local -A to=()
  local n x cur sub vpd vsub chain='' line rule handle w changed script='' count=0 err
  local -a words out
  for n in 1 2; do
    cur="P6_PD$n" sub="P6_SUB$n" x="P6_WAS$n" vpd="V6_PD$n" vsub="V6_SUB$n"
    [ -z "${!vpd}" ] || [ "${!vpd}" = "${!cur}" ] || to[${!vpd}]=${!cur}
    for w in ${!vsub} ${!x//,/ }; do [ "$w" = "${!sub}" ] || to[$w]=${!sub}; done
  done
  [ "${#to[@]}" -gt 0 ] || return 0
  while IFS= read -r line; do
    if [[ $line =~ ^[[:space:]]*chain\ ([A-Za-z0-9_-]+)\ \{ ]]; then chain=${BASH_REMATCH[1]}; continue; fi
    if [[ $line =~ ^[[:space:]]*\}$ ]]; then chain=''; continue; fi
    [[ -n $chain && $line =~ ^[[:space:]]*(.*)\ \#\ handle\ ([0-9]+)$ ]] || continue
    rule=${BASH_REMATCH[1]} handle=${BASH_REMATCH[2]} changed='' out=()
    read -ra words <<<"$rule"
    for w in "${words[@]}"; do
      x=${w%,}
      if [ -n "${to[$x]:-}" ]; then w=${to[$x]}${w#"$x"} changed=yes; fi
      out+=("$w")
    done
    # added after the old rule, then the old deleted: nft 1.0.6 cannot `replace` a rule holding an
    # anonymous interval set (an assertion aborts it)
    [ -n "$changed" ] || continue
    script+="add rule $NFT_FAMILY $NFT_TABLE $chain position $handle ${out[*]}"$'\n'
    script+="delete rule $NFT_FAMILY $NFT_TABLE $chain handle $handle"$'\n'
    count=$((count + 1))
  done < <(nft -a list table "$NFT_FAMILY" "$NFT_TABLE" 2>/dev/null)
  [ -n "$script" ] || return 0
  if ! err=$(printf '%s' "$script" | nft -f - 2>&1); then
    log "IPv6: could not make edge's ruleset name the delegated prefixes in use ($P6_PD1, $P6_PD2), it is left as it was: ${err//$'\n'/ }"
    return 1
  fi
  log "IPv6: $count rule(s) of edge's ruleset now name the delegated prefixes in use (WAN1 $P6_PD1 subnet $P6_SUB1, WAN2 $P6_PD2 subnet $P6_SUB2)"
}

# PREFIX_CHECK yes: a reconcile looks for a new delegated prefix too (prefix6_follow: a process or two
# more, so the monitor asks it only when a prefix may have changed). IPv4 comes first: a DHCP lease's
# new gateway must reach its table within a second.
PREFIX_CHECK=yes
reconcile_locked() {
  local rc=0
  load_routing || return 1
  { plan && apply; } || rc=1
  [ "$PREFIX_CHECK" != yes ] || prefix6_follow || rc=1
  { plan6 && apply6; } || rc=1
  return "$rc"
}
reconcile() { with_lock routes reconcile_locked; }

check() {
  local n okvar wantvar nowvar bad=0 line
  load_routing && plan || return 1
  for line in "${STALE[@]}"; do printf 'edge-routes: unexpected rule: %s\n' "$line" >&2; bad=1; done
  for line in "${MISSING[@]}"; do printf 'edge-routes: missing rule: %s\n' "$line" >&2; bad=1; done
  for n in 1 2; do
    okvar="OK_$n" wantvar="WANT_$n" nowvar="NOW_$n"
    if [ "${!okvar}" != yes ]; then
      printf 'edge-routes: table %s holds [%s], expected [%s]\n' "$([ "$n" = 1 ] && echo "$T1" || echo "$T2")" "${!nowvar}" "${!wantvar}" >&2
      bad=1
    fi
  done
  plan6 || return 1
  for line in "${STALE6[@]}"; do printf 'edge-routes: unexpected IPv6 rule: %s\n' "$line" >&2; bad=1; done
  for line in "${MISSING6[@]}"; do printf 'edge-routes: missing IPv6 rule: %s\n' "$line" >&2; bad=1; done
  for n in 1 2; do
    okvar="OK6_$n" wantvar="WANT6_$n" nowvar="NOW6_$n"
    if [ "${!okvar}" != yes ]; then
      printf 'edge-routes: IPv6 table %s holds [%s], expected [%s]\n' "$([ "$n" = 1 ] && echo "$T1" || echo "$T2")" "${!nowvar}" "${!wantvar}" >&2
      bad=1
    fi
  done
  return "$bad"
}

# ip monitor runs as this shell's own child (a process substitution, not a pipeline subshell) and
# is ended with it (stop_monitor above): stopping the service never leaves a monitor behind, and a
# stale monitor never keeps running an old version of this script. It starts before the first
# reconcile, so no event in between is missed.
monitor() {
  local start fd line last last_prefix
  exec {fd}< <(exec ip monitor link address route rule 2>/dev/null)
  MONITOR_PID=$!
  trap 'stop_monitor' EXIT
  reconcile || true
  PREFIX_CHECK=no
  mono
  last=$MONO_CS last_prefix=$MONO_CS
  while :; do
    if read -r -t 60 -u "$fd" line; then
      prefix_event "$line"
      if ! event_news "$line"; then
        # a refresh changes nothing; the reconcile a minute after the last one still comes
        mono
        [ $((MONO_CS - last)) -ge 6000 ] || continue
      else
        # Debounce, short: a WAN that regains its address must have its table and rules back within
        # a second. Events are gathered until 0.1 s passes without one, at most 0.3 s (monotonic
        # clock), then one reconcile; a burst that goes on is handled by the next round.
        mono
        start=$MONO_CS
        while read -r -t 0.1 -u "$fd" line; do
          prefix_event "$line"
          event_news "$line" || true # remembered: its refresh is not news later
          mono
          [ "$((MONO_CS - start))" -lt 30 ] || break
        done
      fi
    elif [ "$?" -le 128 ]; then
      break # ip monitor ended
    fi
    # a look for a new delegated prefix at least every minute, however many events come between:
    # a dhclient's new prefix makes none of its own
    mono
    [ $((MONO_CS - last_prefix)) -lt 6000 ] || PREFIX_CHECK=yes
    reconcile || true
    mono
    last=$MONO_CS
    [ "$PREFIX_CHECK" != yes ] || last_prefix=$MONO_CS
    PREFIX_CHECK=no
  done
  log "ip monitor ended; exiting so that systemd restarts edge-routes"
  return 1
}

# prefix_event LINE: a new delegated prefix may have come (systemd-networkd routes each delegated
# prefix as unreachable, proto dhcp): the next reconcile looks (PREFIX_CHECK).
prefix_event() {
  [[ $1 != *unreachable*proto\ dhcp* ]] || PREFIX_CHECK=yes
}

# event_news LINE: whether a line of ip monitor can change what a reconcile does. An ISP's router
# advertisements and DHCP renewals refresh the WANs' addresses and routes every few seconds to
# minutes, each refresh an event that differs from the last only in lifetimes ("valid_lft …
# preferred_lft …", a line of its own after the address's, or a route's "expires"). Such an event is
# no news if it was seen since the last event of any other kind (a link, a rule, a route without a
# lifetime, anything deleted), which makes every event news again.
declare -A SEEN_EVENTS=()
event_news() {
  local l=$1 lifetime=''
  case $l in valid_lft\ * | [[:space:]]*valid_lft\ *) return 1 ;; esac # read strips the indent
  while [ "${l% }" != "$l" ]; do l=${l% }; done
  [[ ! $l =~ ^(.*)\ expires\ [0-9]+sec(.*)$ ]] || l=${BASH_REMATCH[1]}${BASH_REMATCH[2]} lifetime=yes
  [[ ! $l =~ ^[0-9]+:\ [^\ ]+\ +inet6?\  ]] || lifetime=yes
  if [ -z "$lifetime" ] || [[ $l == Deleted\ * ]]; then
    SEEN_EVENTS=()
    return 0
  fi
  [ -z "${SEEN_EVENTS[$l]:-}" ] || return 1
  [ "${#SEEN_EVENTS[@]}" -lt 1024 ] || SEEN_EVENTS=()
  SEEN_EVENTS[$l]=1
}

# The LAN address is the one thing edge-routes adds that no snapshot holds: it leaves with the
# service (ExecStopPost), so a rollback that stops edge-routes leaves the LAN as it found it. A
# network manager that takes router advertisements on the LAN (systemd-networkd does unless its
# .network says IPv6AcceptRA=no) may have configured an address of the LAN prefix and routes from
# edge's own radvd before edge's input chain (which drops the router's own advertisements) was
# loaded; the snapshot does not hold them either: they go too (radvd is stopped first).
stop6() {
  lan6_recorded
  if [ -z "$LAN6_ADDRS" ] && load_routing && [ -n "$V6_LAN_ADDR" ]; then LAN6_ADDRS="$V6_LAN_ADDR${V6_LAN_ADDR2:+ $V6_LAN_ADDR2}" LAN6_IF=$LAN_IF; fi
  [ -z "$LAN6_ADDRS" ] || lan6_remove
}

# radvd: see the header. Before any decision (the ruleset just loaded) new flows use WAN1. Under
# the switcher's lock (failover.lock): a switch between reading the ruleset and writing the choice
# would otherwise be undone by it (seen: after a boot with WAN1 cut, flows on WAN2 and radvd
# advertising WAN1's prefix).
radvd_start() {
  local text
  load_routing || return 1
  [ "$V6_MODE" = native ] || { log "radvd: IPv6 is not native here (routing.conf V6_MODE '$V6_MODE'): nothing to choose"; return 1; }
  [ -d "$RUN_DIR" ] || mkdir -p "$RUN_DIR" || return 1
  text=$(nft list table "$NFT_FAMILY" "$NFT_TABLE" 2>/dev/null)
  map_wan "$NFT_MAP6" "$text"
  elements set "$NFT_DOWN_SET6" "$text"
  native_choice "$WAN_OF" "$ELEMS"
  # always copied: a run that changed the files restarts radvd with the same choice
  rm -f "$RUN_DIR/radvd.choice"
  radvd_follow "$CHOICE"
  [ "$?" != 1 ]
}

case "${1:-}" in
  reconcile) reconcile ;;
  stop6) stop6 ;;
  radvd) with_lock failover radvd_start ;;
  check) check ;;
  monitor) monitor ;;
  *) echo "usage: edge-routes reconcile|check|monitor|stop6|radvd" >&2; exit 2 ;;
esac

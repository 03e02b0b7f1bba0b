import { shQuote } from '../encode/index.js';
import { logFunction } from './shell.js';

export interface EdgeFailoverPaths {
  routingConf: string;
  failoverConf: string;
  runDir: string;
  /** Persistent history of switches (one line each), kept across reboots. */
  switchLog: string;
  /** Offset from PRIO of the ip rule that sends the router's own unbound traffic to the preferred WAN. */
  localRuleOffset: number;
  /** keepalived's private veth pair and its addresses. */
  link: { a: string; b: string; addrA: string; addrB: string };
  /** nft table (family, name) and map holding the preferred WAN. */
  nft: { family: string; table: string; map: string };
}

/** Lines kept in the switch history (it is trimmed to this when it grows to twice as many). */
export const SWITCH_LOG_KEEP = 1000;

/**
 * /usr/local/sbin/edge-failover: turns keepalived's state changes into the preferred WAN. keepalived
 * follows edge-probe's decisions (track_file): FAULT = the WAN is down, MASTER = up; BACKUP is not a
 * measurement at a (re)start and is ignored (defect 10), except right after FAULT (edge-probe found
 * the WAN healthy again). Switching is one atomic nft transaction on one map element, never a
 * ruleset reload, plus the ip rule that sends the router's own traffic the same way; flows pinned
 * to a WAN that went down are flushed by mark. Every switch is appended to the switch history.
 */
export function renderEdgeFailoverScript(p: EdgeFailoverPaths): string {
  const q = shQuote;
  return `#!/bin/bash
# Managed by edge: records each WAN's state from keepalived and switches new flows between WANs.
#
#   edge-failover notify INSTANCE NAME STATE [PRIORITY]   keepalived's notify handler
#   edge-failover sync      make the preferred WAN follow the recorded states (after a ruleset load)
#   edge-failover link      create keepalived's private link (idempotent)
#   edge-failover prepare   the same, as keepalived's ExecStartPre
#   edge-failover status    preferred WAN, each WAN's state, last change, last check, flows
#   edge-failover history [N]   the last N switches (default 20): when, from, to, how long, why
#
# States live in RUN_DIR: WAN.state ("up|down EPOCH"), WAN.vrrp (keepalived's last state),
# WAN.probe (edge-probe's last decision and why), WAN.health (its last second's result).
#
# Preferred WAN: wan1 when wan1 is up; wan2 when wan1 is down and wan2 is not known to be down;
# otherwise unchanged (an unknown WAN right after boot never causes a switch). The router's own
# traffic that is not bound to a WAN (no WAN source address, no mark) follows it: ip rule PRIO+${p.localRuleOffset}
# "iif lo lookup TABLE" (edge-routes keeps it matching the map).
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ROUTING_CONF=\${EDGE_ROUTING_CONF:-${q(p.routingConf)}}
FAILOVER_CONF=\${EDGE_FAILOVER_CONF:-${q(p.failoverConf)}}
RUN_DIR=\${EDGE_RUN_DIR:-${q(p.runDir)}}
SWITCH_LOG=\${EDGE_SWITCH_LOG:-${q(p.switchLog)}}
SWITCH_LOG_KEEP=${SWITCH_LOG_KEEP}
LOCAL_RULE_OFFSET=${p.localRuleOffset}
NFT_FAMILY=${q(p.nft.family)} NFT_TABLE=${q(p.nft.table)} NFT_MAP=${q(p.nft.map)}
KA_A=${q(p.link.a)} KA_B=${q(p.link.b)} KA_ADDR_A=${q(p.link.addrA)} KA_ADDR_B=${q(p.link.addrB)}

${logFunction('edge-failover')}

valid() { [[ $2 =~ $1 ]] || { log "configuration: $3 is not valid: '$2'"; return 1; }; }

load() {
  WAN1_IF='' WAN2_IF='' LAN_IF='' M1='' M2='' T1='' T2='' T1_NAME='' T2_NAME='' PRIO='' FLUSH_CONNTRACK=no
  # shellcheck source=/dev/null
  . "$ROUTING_CONF" || { log "cannot read $ROUTING_CONF"; return 1; }
  # shellcheck source=/dev/null
  . "$FAILOVER_CONF" || { log "cannot read $FAILOVER_CONF"; return 1; }
  valid '^[A-Za-z0-9_.:@-]{1,15}$' "$LAN_IF" LAN_IF && valid '^0x[0-9a-f]+$' "$M1" M1 && valid '^0x[0-9a-f]+$' "$M2" M2 &&
    valid '^[0-9]+$' "$T1" T1 && valid '^[0-9]+$' "$T2" T2 && valid '^[0-9]+$' "$PRIO" PRIO &&
    valid '^[A-Za-z][A-Za-z0-9_-]*$' "$T1_NAME" T1_NAME && valid '^[A-Za-z][A-Za-z0-9_-]*$' "$T2_NAME" T2_NAME &&
    valid '^(yes|no)$' "$FLUSH_CONNTRACK" FLUSH_CONNTRACK
}

# On the way to a switch every process started costs time on a loaded router: builtins where they do.
with_lock() {
  [ -d "$RUN_DIR" ] || mkdir -p "$RUN_DIR" || return 1
  (
    flock -w 30 9 || { log "timed out waiting for $RUN_DIR/failover.lock"; exit 1; }
    "$@"
  ) 9>"$RUN_DIR/failover.lock"
}

write_atomic() { # write_atomic FILE TEXT
  local tmp="$RUN_DIR/.state.$BASHPID.$RANDOM"
  printf '%s\\n' "$2" >"$tmp" && mv -f "$tmp" "$1"
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
  printf '%s' "\${why:-no decision recorded by edge-probe}"
}

mark_of() { if [ "$1" = wan1 ]; then echo "$M1"; else echo "$M2"; fi; }

# The WAN new LAN flows use now, from the map element (empty if the map or element is missing).
current_wan() {
  local text m re
  text=$(nft list map "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" 2>/dev/null)
  re="\\"$LAN_IF\\" : (0x[0-9a-f]+)"
  [[ $text =~ $re ]] || return 0
  m=\${BASH_REMATCH[1]}
  if [ "$((m))" = "$((M1))" ]; then echo wan1; elif [ "$((m))" = "$((M2))" ]; then echo wan2; fi
}

# The router's own traffic that no WAN binds (source address, mark) uses WAN $1's table: the rule
# is added before the other one is removed, so there is never a moment without it.
local_rule_follow() {
  local lp=$((PRIO + LOCAL_RULE_OFFSET)) cur t n ot on
  if [ "$1" = wan1 ]; then t=$T1 n=$T1_NAME ot=$T2 on=$T2_NAME; else t=$T2 n=$T2_NAME ot=$T1 on=$T1_NAME; fi
  cur=$(ip -4 rule show pref "$lp" 2>/dev/null)
  if ! [[ $cur =~ iif\\ lo\\ lookup\\ ($t|$n)($|[[:space:]]) ]]; then
    ip rule add pref "$lp" iif lo lookup "$t" || log "could not add ip rule $lp (iif lo lookup $n)"
  fi
  if [[ $cur =~ iif\\ lo\\ lookup\\ ($ot|$on)($|[[:space:]]) ]]; then
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
  [[ $prev =~ ^[0-9]+(\\.[0-9]+)?$ ]] && held=$(awk -v a="$prev" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
  printf '%s %s %s %s %s\\n' "$now" "\${1:-none}" "$2" "$held" "$3" >>"$SWITCH_LOG"
  n=$(wc -l <"$SWITCH_LOG")
  if [ "$n" -gt $((2 * SWITCH_LOG_KEEP)) ]; then
    tail -n "$SWITCH_LOG_KEEP" "$SWITCH_LOG" >"$SWITCH_LOG.new" && mv -f "$SWITCH_LOG.new" "$SWITCH_LOG"
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
    if printf 'flush map %s %s %s\\nadd element %s %s %s { "%s" : %s }\\n' "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" \\
      "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" "$LAN_IF" "$(mark_of "$want")" | nft -f -; then
      log "new flows now use $want (before: \${cur:-none}; wan1 $s1, wan2 $s2)\${1:+: $1}"
      [ -z "\${1:-}" ] || record_switch "$cur" "$want" "$1"
    else
      log "could not switch new flows to $want: is table $NFT_FAMILY $NFT_TABLE loaded? (systemctl restart edge-nftables)"
      return 1
    fi
  fi
  local_rule_follow "$want"
}

# The switch comes first, the journal after: every process started before it delays the switch.
went_up_locked() { # WAN WHY
  local prev why
  prev=$(state_of "$1")
  write_atomic "$RUN_DIR/$1.state" "up $(printf '%(%s)T' -1)"
  [ "$prev" = up ] && { sync_locked; return; }
  why=$(probe_why "$1")
  sync_locked "$1 up: $why"
  log "$1 is UP ($2; was $prev): $why"
}

went_down_locked() { # WAN WHY
  local prev out why
  prev=$(state_of "$1")
  write_atomic "$RUN_DIR/$1.state" "down $(printf '%(%s)T' -1)"
  [ "$prev" = down ] && { sync_locked; return; }
  why=$(probe_why "$1")
  sync_locked "$1 down: $why"
  log "$1 is DOWN ($2; was $prev): $why"
  if [ "$FLUSH_CONNTRACK" = yes ]; then
    # Flows pinned to the dead WAN are reset so clients reconnect at once (through the other WAN).
    out=$(conntrack -D --mark "$(mark_of "$1")" 2>&1 >/dev/null) || true
    log "flushed flows pinned to $1: \${out##*: }"
  fi
}

notify() {
  local type=\${1:-} name=\${2:-} state=\${3:-} wan
  [ "$type" = INSTANCE ] || return 0
  case "$name" in
    edge_wan1) wan=wan1 ;;
    edge_wan2) wan=wan2 ;;
    *) return 0 ;;
  esac
  [ -d "$RUN_DIR" ] || mkdir -p "$RUN_DIR"
  write_atomic "$RUN_DIR/$wan.vrrp" "$state $(printf '%(%s)T' -1)"
  case "$state" in
    MASTER) with_lock went_up_locked "$wan" "keepalived MASTER" ;;
    FAULT) with_lock went_down_locked "$wan" "keepalived FAULT" ;;
    BACKUP)
      # Not a measurement at a (re)start; after FAULT it means edge-probe found the WAN healthy again.
      if [ "$(state_of "$wan")" = down ]; then with_lock went_up_locked "$wan" "keepalived left FAULT"; fi
      ;;
    *) ;; # STOP and anything else: not a measurement
  esac
}

link() {
  if ! ip link show dev "$KA_A" >/dev/null 2>&1; then
    ip link add "$KA_A" type veth peer name "$KA_B" || { log "cannot create $KA_A/$KA_B"; return 1; }
  fi
  ip addr replace "$KA_ADDR_A" dev "$KA_A" && ip addr replace "$KA_ADDR_B" dev "$KA_B" &&
    ip link set dev "$KA_A" up && ip link set dev "$KA_B" up || { log "cannot set up $KA_A/$KA_B"; return 1; }
}

when() { [[ \${1:-} =~ ^[0-9]+$ ]] && date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ || echo unknown; }

status() {
  local w s since h ratio at v vat cur
  cur=$(current_wan)
  echo "preferred=\${cur:-unknown}"
  for w in wan1 wan2; do
    s='' since='' h='' ratio='' at='' v='' vat=''
    [ -r "$RUN_DIR/$w.state" ] && read -r s since <"$RUN_DIR/$w.state"
    [ -r "$RUN_DIR/$w.health" ] && read -r h ratio at <"$RUN_DIR/$w.health"
    [ -r "$RUN_DIR/$w.vrrp" ] && read -r v vat <"$RUN_DIR/$w.vrrp"
    echo "$w.state=$(state_of "$w")"
    echo "$w.since=$(when "$since")"
    echo "$w.keepalived=\${v:-unknown}"
    echo "$w.health=\${h:-unknown} \${ratio:-}"
    echo "$w.checked=$(when "$at")"
    echo "$w.why=$(probe_why "$w")"
    echo "$w.flows=$(conntrack -L --mark "$(mark_of "$w")" 2>/dev/null | wc -l)"
  done
  echo "switches=$([ -r "$SWITCH_LOG" ] && wc -l <"$SWITCH_LOG" || echo 0)"
}

history() {
  local n=\${1:-20}
  [[ $n =~ ^[0-9]+$ ]] || { echo "usage: edge-failover history [N]" >&2; return 2; }
  [ -r "$SWITCH_LOG" ] || { echo "no switch recorded ($SWITCH_LOG)"; return 0; }
  tail -n "$n" "$SWITCH_LOG" | while read -r at from to held why; do
    printf '%s  %s -> %s  (%s held %s s)  %s\\n' "$(date -u -d "@\${at%.*}" +%Y-%m-%dT%H:%M:%SZ)" "$from" "$to" "$from" "$held" "$why"
  done
}

case "\${1:-}" in
  notify) shift; load || exit 1; notify "$@" ;;
  sync) load || exit 1; with_lock sync_locked ;;
  link | prepare) link ;;
  status) load || exit 1; status ;;
  history) shift; history "$@" ;;
  *) echo "usage: edge-failover notify|sync|link|prepare|status|history" >&2; exit 2 ;;
esac
`;
}

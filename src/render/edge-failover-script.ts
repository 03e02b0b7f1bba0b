import { shQuote } from '../ssh/quote.js';
import { logFunction } from './shell.js';

export interface EdgeFailoverPaths {
  routingConf: string;
  failoverConf: string;
  runDir: string;
  healthScript: string;
  /** keepalived's private veth pair and its addresses. */
  link: { a: string; b: string; addrA: string; addrB: string };
  /** nft table (family, name) and map holding the preferred WAN. */
  nft: { family: string; table: string; map: string };
}

/**
 * /usr/local/sbin/edge-failover: turns keepalived's state changes into the preferred WAN for new
 * flows. MASTER = the WAN is up, FAULT = it is down; BACKUP and STOP are not measurements and are
 * ignored (defect 10), except BACKUP right after FAULT outside a (re)start, which keepalived only
 * enters once the WAN passed its rise checks. Switching is one atomic nft transaction on one map
 * element, never a ruleset reload; flows pinned to a WAN that went down are flushed by mark.
 */
export function renderEdgeFailoverScript(p: EdgeFailoverPaths): string {
  const q = shQuote;
  return `#!/bin/bash
# Managed by edge: records each WAN's state from keepalived and switches new flows between WANs.
#
#   edge-failover notify INSTANCE NAME STATE [PRIORITY]   keepalived's notify handler
#   edge-failover sync      make the preferred WAN follow the recorded states (after a ruleset load)
#   edge-failover link      create keepalived's private link (idempotent)
#   edge-failover prepare   link, and mark both WANs as "starting" (keepalived's ExecStartPre)
#   edge-failover status    preferred WAN, each WAN's state, last change, last check, flows
#
# States live in RUN_DIR: WAN.state ("up|down EPOCH"), WAN.vrrp (keepalived's last state),
# WAN.health (written by edge-health), WAN.starting (the time keepalived was started; present until
# the instance's first decisive state).
#
# Preferred WAN: wan1 when wan1 is up; wan2 when wan1 is down and wan2 is not known to be down;
# otherwise unchanged (an unknown WAN right after boot never causes a switch).
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ROUTING_CONF=\${EDGE_ROUTING_CONF:-${q(p.routingConf)}}
FAILOVER_CONF=\${EDGE_FAILOVER_CONF:-${q(p.failoverConf)}}
RUN_DIR=\${EDGE_RUN_DIR:-${q(p.runDir)}}
HEALTH=${q(p.healthScript)}
NFT_FAMILY=${q(p.nft.family)} NFT_TABLE=${q(p.nft.table)} NFT_MAP=${q(p.nft.map)}
KA_A=${q(p.link.a)} KA_B=${q(p.link.b)} KA_ADDR_A=${q(p.link.addrA)} KA_ADDR_B=${q(p.link.addrB)}

${logFunction('edge-failover')}

valid() { [[ $2 =~ $1 ]] || { log "configuration: $3 is not valid: '$2'"; return 1; }; }

load() {
  WAN1_IF='' WAN2_IF='' LAN_IF='' M1='' M2='' FLUSH_CONNTRACK=no FALL=1 INTERVAL=1
  # shellcheck source=/dev/null
  . "$ROUTING_CONF" || { log "cannot read $ROUTING_CONF"; return 1; }
  # shellcheck source=/dev/null
  . "$FAILOVER_CONF" || { log "cannot read $FAILOVER_CONF"; return 1; }
  valid '^[A-Za-z0-9_.:@-]{1,15}$' "$LAN_IF" LAN_IF && valid '^0x[0-9a-f]+$' "$M1" M1 && valid '^0x[0-9a-f]+$' "$M2" M2 &&
    valid '^(yes|no)$' "$FLUSH_CONNTRACK" FLUSH_CONNTRACK && valid '^[0-9]+$' "$FALL" FALL &&
    valid '^[0-9]+(\\.[0-9]+)?$' "$INTERVAL" INTERVAL
}

with_lock() {
  mkdir -p "$RUN_DIR" || return 1
  (
    flock -w 30 9 || { log "timed out waiting for $RUN_DIR/failover.lock"; exit 1; }
    "$@"
  ) 9>"$RUN_DIR/failover.lock"
}

write_atomic() { # write_atomic FILE TEXT
  local tmp
  tmp=$(mktemp "$RUN_DIR/.state.XXXXXX") || return 1
  printf '%s\\n' "$2" >"$tmp" && mv -f "$tmp" "$1"
}

state_of() { # up | down | unknown
  local s=''
  [ -r "$RUN_DIR/$1.state" ] && read -r s _ <"$RUN_DIR/$1.state"
  case "$s" in up | down) echo "$s" ;; *) echo unknown ;; esac
}

mark_of() { if [ "$1" = wan1 ]; then echo "$M1"; else echo "$M2"; fi; }

# The WAN new LAN flows use now, from the map element (empty if the map or element is missing).
current_wan() {
  local m
  m=$(nft list map "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" 2>/dev/null | awk -v k="\\"$LAN_IF\\" : " '{ i = index($0, k); if (i) { s = substr($0, i + length(k)); sub(/[^0-9a-fx].*/, "", s); print s; exit } }')
  [[ $m =~ ^0x[0-9a-f]+$ ]] || return 0
  if [ "$((m))" = "$((M1))" ]; then echo wan1; elif [ "$((m))" = "$((M2))" ]; then echo wan2; fi
}

sync_locked() {
  local s1 s2 cur want
  s1=$(state_of wan1) s2=$(state_of wan2) cur=$(current_wan)
  if [ "$s1" = up ]; then want=wan1
  elif [ "$s1" = down ] && [ "$s2" != down ]; then want=wan2
  elif [ -n "$cur" ]; then want=$cur
  else want=wan1
  fi
  [ "$want" = "$cur" ] && return 0
  # One transaction: the element is replaced atomically, nothing else in the ruleset is touched.
  if printf 'flush map %s %s %s\\nadd element %s %s %s { "%s" : %s }\\n' "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" \\
    "$NFT_FAMILY" "$NFT_TABLE" "$NFT_MAP" "$LAN_IF" "$(mark_of "$want")" | nft -f -; then
    log "new flows now use $want (before: \${cur:-none}; wan1 $s1, wan2 $s2)"
  else
    log "could not switch new flows to $want: is table $NFT_FAMILY $NFT_TABLE loaded? (systemctl restart edge-nftables)"
    return 1
  fi
}

went_up_locked() { # WAN WHY
  local prev
  prev=$(state_of "$1")
  write_atomic "$RUN_DIR/$1.state" "up $(date +%s)"
  [ "$prev" = up ] || log "$1 is UP ($2; was $prev)"
  sync_locked
}

went_down_locked() { # WAN WHY
  local prev out
  prev=$(state_of "$1")
  write_atomic "$RUN_DIR/$1.state" "down $(date +%s)"
  [ "$prev" = down ] || log "$1 is DOWN ($2; was $prev)"
  sync_locked
  if [ "$prev" != down ] && [ "$FLUSH_CONNTRACK" = yes ]; then
    # Flows pinned to the dead WAN are reset so clients reconnect at once (through the other WAN).
    out=$(conntrack -D --mark "$(mark_of "$1")" 2>&1 >/dev/null) || true
    log "flushed flows pinned to $1: \${out##*: }"
  fi
}

# After a keepalived (re)start an instance enters FAULT if its script's FIRST check fails (keepalived
# starts a script one failure away from failing); once a check has passed, FAULT takes FALL failed
# checks in a row, which cannot happen sooner than FALL x INTERVAL after the start. So a FAULT that
# comes sooner may rest on one check: unless the WAN was already down, confirm it with FALL - 1
# more checks, INTERVAL apart, before believing it (a restart must not flip the WAN, and at boot
# the first check may run before edge-routes has filled the WAN's table). A later FAULT is a real
# measurement and is acted on at once, so a WAN that dies just after a start is detected in time.
just_started() { # WAN: did keepalived start less than FALL x INTERVAL ago?
  local since=''
  read -r since _ 2>/dev/null <"$RUN_DIR/$1.starting" || true
  [[ $since =~ ^[0-9]+(\.[0-9]+)?$ ]] || return 0 # no time recorded: assume it did
  awk -v s="$since" -v n="$(date +%s.%N)" -v f="$FALL" -v i="$INTERVAL" 'BEGIN { exit !(n - s < f * i) }'
}

confirm_fault() {
  local i
  for ((i = 1; i < FALL; i++)); do
    sleep "$INTERVAL"
    if "$HEALTH" "$1" >/dev/null 2>&1; then return 1; fi
  done
  return 0
}

notify() {
  local type=\${1:-} name=\${2:-} state=\${3:-} wan
  [ "$type" = INSTANCE ] || return 0
  case "$name" in
    edge_wan1) wan=wan1 ;;
    edge_wan2) wan=wan2 ;;
    *) return 0 ;;
  esac
  mkdir -p "$RUN_DIR"
  write_atomic "$RUN_DIR/$wan.vrrp" "$state $(date +%s)"
  case "$state" in
    MASTER)
      rm -f "$RUN_DIR/$wan.starting"
      with_lock went_up_locked "$wan" "keepalived MASTER: health checks pass"
      ;;
    FAULT)
      if [ -e "$RUN_DIR/$wan.starting" ] && just_started "$wan" && [ "$(state_of "$wan")" != down ] && ! confirm_fault "$wan"; then
        rm -f "$RUN_DIR/$wan.starting"
        log "$wan: ignoring FAULT right after keepalived started; the WAN answers again"
        return 0
      fi
      rm -f "$RUN_DIR/$wan.starting"
      with_lock went_down_locked "$wan" "keepalived FAULT: health checks fail"
      ;;
    BACKUP)
      # Not a measurement at a (re)start; after FAULT it means the WAN passed its rise checks.
      if [ ! -e "$RUN_DIR/$wan.starting" ] && [ "$(state_of "$wan")" = down ]; then
        with_lock went_up_locked "$wan" "keepalived left FAULT: health checks pass again"
      fi
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

prepare() {
  local now
  now=$(date +%s.%N)
  link && mkdir -p "$RUN_DIR" && write_atomic "$RUN_DIR/wan1.starting" "$now" && write_atomic "$RUN_DIR/wan2.starting" "$now"
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
    echo "$w.flows=$(conntrack -L --mark "$(mark_of "$w")" 2>/dev/null | wc -l)"
  done
}

case "\${1:-}" in
  notify) shift; load || exit 1; notify "$@" ;;
  sync) load || exit 1; with_lock sync_locked ;;
  link) link ;;
  prepare) prepare ;;
  status) load || exit 1; status ;;
  *) echo "usage: edge-failover notify|sync|link|prepare|status" >&2; exit 2 ;;
esac
`;
}

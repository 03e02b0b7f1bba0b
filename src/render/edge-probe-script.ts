import { shQuote } from '../encode/index.js';
import { logFunction } from './shell.js';

export interface EdgeProbePaths {
  routingConf: string;
  failoverConf: string;
  runDir: string;
}

/**
 * The state machine of one WAN (mawk; edge-probe feeds it). Input lines, each with a time (epoch
 * seconds, from bash's EPOCHREALTIME or ping -D):
 *
 *   tick T                   the clock, 4 times a second, also while no ping runs
 *   carrier T 0|1            the link lost or regained its carrier (read from sysfs every tick)
 *   addr T ADDR|-            pings (re)started from ADDR, or stopped: the WAN has no IPv4 address
 *   [T] 64 bytes from X: …   a reply from target X (ping -D)
 *   [T] no answer yet …      ping -O: a probe went unanswered (a tick too)
 *
 * A target is answering while its last reply is at most TIMEOUT old. The WAN is healthy while at
 * least NEED targets answer, and never while it has no carrier or no address (that is certain at
 * once, no need to wait for the timeout). up → down at the first moment it is not healthy (damping: a flapping
 * WAN is out at its first down); down → up only once it has been healthy without a break for RISE
 * seconds. A WAN never measured (boot) gets GRACE seconds to answer before it counts as down.
 * Every decision goes to RUN_DIR/WAN.probe ("up|down EPOCH why"), then RUN_DIR/WAN.track (0 = up,
 * 1 = down), which keepalived watches (track_file, inotify); both by rename. Every second
 * RUN_DIR/WAN.health gets "pass|fail ANSWERING/TARGETS EPOCH".
 */
export const PROBE_MACHINE_AWK = String.raw`
BEGIN {
  nt = split(targets, tg, " ")
  for (i = 1; i <= nt; i++) last[tg[i]] = -1
  state = "unknown"; stable = -1; started = -1; now = 0; health_at = 0; addr = "-"; carrier = 1
  f = run_dir "/" wan ".probe"
  if ((getline line < f) > 0) { split(line, p, " "); if (p[1] == "up" || p[1] == "down") state = p[1] }
  close(f)
}
$1 == "tick" { clock($2); decide(); next }
$1 == "carrier" { clock($2); carrier = $3 + 0; decide(); next }
$1 == "addr" {
  clock($2)
  # Fresh pings from a new address: every target gets one TIMEOUT to answer from it.
  if ($3 != "-" && $3 != addr) for (i = 1; i <= nt; i++) last[tg[i]] = now
  addr = $3
  decide(); next
}
substr($1, 1, 1) == "[" {
  clock(substr($1, 2, length($1) - 2))
  if ($3 == "bytes" && $4 == "from") { x = $5; sub(/:$/, "", x); if (x in last) last[x] = now }
  decide(); next
}
function clock(t) { t += 0; if (t > now) now = t; if (started < 0) started = now }
function answering(   i, n) {
  if (!carrier || addr == "-") return 0
  n = 0
  for (i = 1; i <= nt; i++) if (last[tg[i]] >= 0 && now - last[tg[i]] <= timeout) n++
  return n
}
function decide(   n, healthy, tmp) {
  n = answering(); healthy = (n >= need)
  if (now - health_at >= 1) {
    tmp = run_dir "/" wan ".health"
    printf "%s %d/%d %d\n", (healthy ? "pass" : "fail"), n, nt, now > tmp; close(tmp)
    health_at = now
  }
  if (state == "up") { if (!healthy) publish("down", failed(n)); return }
  if (state == "unknown") {
    if (healthy) publish("up", sprintf("%d of %d targets answered (first measurement)", n, nt))
    else if (now - started >= grace) publish("down", failed(n) " (first measurement)")
    return
  }
  if (!healthy) { stable = -1; return }
  if (stable < 0) stable = now
  if (now - stable >= rise) publish("up", sprintf("%d of %d targets answered, healthy without a break for %.1f s", n, nt, now - stable))
}
function failed(n,   i, x, s) {
  if (!carrier) return sprintf("%s has no carrier (link down)", ifname)
  if (addr == "-") return sprintf("%s has no IPv4 address", ifname)
  s = sprintf("%d of %d targets answered within %.1f s (%d needed):", n, nt, timeout, need)
  for (i = 1; i <= nt; i++) {
    x = tg[i]
    s = s " " x (last[x] < 0 ? " never" : sprintf(" %.1f s ago", now - last[x])) (i < nt ? "," : "")
  }
  return s
}
function publish(st, why,   p, t) {
  state = st; stable = -1
  p = run_dir "/." wan ".probe.new"; t = run_dir "/." wan ".track.new"
  printf "%s %.3f %s\n", st, now, why > p; close(p)
  print (st == "up" ? 0 : 1) > t; close(t)
  # The reason first, then the value keepalived reacts to.
  system("mv -f '" p "' '" run_dir "/" wan ".probe' && mv -f '" t "' '" run_dir "/" wan ".track'")
  printf "%s is %s: %s\n", wan, (st == "up" ? "UP" : "DOWN"), why
  fflush()
}
`;

/**
 * /usr/local/sbin/edge-probe: the continuous health check of both WANs (edge-probe.service).
 *
 * Per WAN, one long-running `ping` per target carries the WAN's mark (-m) and source address (-I),
 * so every probe is routed by that WAN's own table whatever the main table says (defect 8), every
 * PROBE_INTERVAL seconds; their output and a clock feed one small state machine (mawk, above) that
 * decides up/down and hands the decision to keepalived through a track_file. No process is started
 * per probe: at the defaults the whole prober costs well under 1 % of a core.
 */
export function renderEdgeProbeScript(p: EdgeProbePaths): string {
  return `#!/bin/bash
# Managed by edge: continuous health probing of both WANs; keepalived reacts to its decisions.
#
#   edge-probe run     probe both WANs until stopped (what edge-probe.service runs)
#   edge-probe show    each WAN's last decision and why (RUN_DIR/WAN.probe)
#
# Per WAN: one ping per target, every PROBE_INTERVAL s, with the WAN's mark and source address. A WAN
# is down as soon as fewer than SUCCESS_THRESHOLD targets answered within PROBE_TIMEOUT s, and up
# again once that many kept answering for RISE s without a break. Decisions: RUN_DIR/WAN.probe
# ("up|down EPOCH why") and RUN_DIR/WAN.track (0/1, keepalived's track_file). The process restarts
# itself (through systemd) when its configuration files change.
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ROUTING_CONF=\${EDGE_ROUTING_CONF:-${shQuote(p.routingConf)}}
FAILOVER_CONF=\${EDGE_FAILOVER_CONF:-${shQuote(p.failoverConf)}}
RUN_DIR=\${EDGE_RUN_DIR:-${shQuote(p.runDir)}}
TICK=0.25 # the clock; with pings running their own lines come every PROBE_INTERVAL per target
CHECK_TICKS=4 # address, pings and configuration are checked every CHECK_TICKS ticks (1 s)

${logFunction('edge-probe')}

valid() { [[ $2 =~ $1 ]] || { log "configuration: $3 is not valid: '$2'"; return 1; }; }
num='^[0-9]+(\\.[0-9]+)?$'

load() {
  WAN1_IF='' WAN2_IF='' M1='' M2='' WAN1_TARGETS='' WAN2_TARGETS='' PROBE_INTERVAL='' PROBE_TIMEOUT='' RISE='' SUCCESS_THRESHOLD=''
  # shellcheck source=/dev/null
  . "$ROUTING_CONF" || { log "cannot read $ROUTING_CONF"; return 1; }
  # shellcheck source=/dev/null
  . "$FAILOVER_CONF" || { log "cannot read $FAILOVER_CONF"; return 1; }
  valid '^[A-Za-z0-9_.:@-]{1,15}$' "$WAN1_IF" WAN1_IF && valid '^[A-Za-z0-9_.:@-]{1,15}$' "$WAN2_IF" WAN2_IF &&
    valid '^0x[0-9a-f]+$' "$M1" M1 && valid '^0x[0-9a-f]+$' "$M2" M2 &&
    valid '^[0-9.]+( [0-9.]+)*$' "$WAN1_TARGETS" WAN1_TARGETS && valid '^[0-9.]+( [0-9.]+)*$' "$WAN2_TARGETS" WAN2_TARGETS &&
    valid "$num" "$PROBE_INTERVAL" PROBE_INTERVAL && valid "$num" "$PROBE_TIMEOUT" PROBE_TIMEOUT &&
    valid "$num" "$RISE" RISE && valid '^[0-9]+$' "$SUCCESS_THRESHOLD" SUCCESS_THRESHOLD
}

# The first global IPv4 address of interface $1 (empty without one).
wan_addr() {
  local out
  out=$(ip -4 -o addr show dev "$1" scope global 2>/dev/null)
  [[ $out =~ inet\\ ([0-9.]+)/ ]] && printf '%s' "\${BASH_REMATCH[1]}"
}

# The event stream of WAN $1 on stdout: the clock, address changes, and the pings' own lines.
producer() {
  local n=$1 ifvar="WAN$1_IF" markvar="M$1" tvar="WAN$1_TARGETS"
  local ifname=\${!ifvar} mark=$((\${!markvar})) addr='' new t i=0 sleep_fd pid dead carrier had=''
  local -a targets pids=()
  read -r -a targets <<<"\${!tvar}"
  # A pipe nobody writes to: read -t on it sleeps without starting a process.
  exec {sleep_fd}<> <(:)
  trap 'kill "\${pids[@]}" 2>/dev/null; wait; exit 0' TERM INT HUP
  trap 'kill "\${pids[@]}" 2>/dev/null' EXIT
  while :; do
    if [ $((i % CHECK_TICKS)) = 0 ]; then
      if [ "$ROUTING_CONF" -nt "$STARTED" ] || [ "$FAILOVER_CONF" -nt "$STARTED" ]; then
        log "configuration changed: restarting"
        kill -TERM "$MAIN_PID" 2>/dev/null
        exit 0
      fi
      new=$(wan_addr "$ifname") dead=no
      for pid in "\${pids[@]}"; do kill -0 "$pid" 2>/dev/null || dead=yes; done
      if [ "$new" != "$addr" ] || [ "$dead" = yes ]; then
        [ "\${#pids[@]}" = 0 ] || kill "\${pids[@]}" 2>/dev/null
        pids=() addr=$new
        printf 'addr %s %s\\n' "$EPOCHREALTIME" "\${addr:--}"
        if [ -n "$addr" ]; then
          for t in "\${targets[@]}"; do
            ping -n -D -O -i "$PROBE_INTERVAL" -m "$mark" -I "$addr" "$t" 2>/dev/null &
            pids+=("$!")
          done
        fi
      fi
    fi
    # sysfs, with a builtin read: a lost carrier is seen within a tick, without starting a process
    carrier=0
    read -r carrier 2>/dev/null <"/sys/class/net/$ifname/carrier" || carrier=0
    if [ "$carrier" != "$had" ]; then printf 'carrier %s %s\\n' "$EPOCHREALTIME" "$carrier"; had=$carrier; fi
    printf 'tick %s\\n' "$EPOCHREALTIME"
    read -r -t "$TICK" -u "$sleep_fd" _ || true
    i=$((i + 1))
  done
}

machine() { # WAN N
  local ifvar="WAN$2_IF" tvar="WAN$2_TARGETS" grace
  # A WAN never measured (at boot, DHCP may still be asking) gets the rise period to answer.
  grace=$(mawk -v a="$RISE" -v b="$PROBE_TIMEOUT" 'BEGIN { print (a > b ? a : b) }')
  exec mawk -W interactive -v wan="$1" -v ifname="\${!ifvar}" -v targets="\${!tvar}" -v timeout="$PROBE_TIMEOUT" \\
    -v rise="$RISE" -v need="$SUCCESS_THRESHOLD" -v grace="$grace" -v run_dir="$RUN_DIR" -f "$RUN_DIR/edge-probe.awk"
}

run() {
  load || exit 1
  mkdir -p "$RUN_DIR" || exit 1
  MAIN_PID=$$ STARTED="$RUN_DIR/probe.started"
  : >"$STARTED"
  # The state machine, as a file mawk reads (so ps shows its arguments, not the program).
  cat >"$RUN_DIR/edge-probe.awk" <<'EDGE_AWK' || exit 1
${PROBE_MACHINE_AWK.trim()}
EDGE_AWK
  local n
  for n in 1 2; do
    producer "$n" | machine "wan$n" "$n" &
  done
  # Stopping the service ends every ping and state machine (they share this process group), and
  # waits for them: this shell exits last, so a stop is over when systemd sees it exit.
  trap "trap '' TERM INT; kill 0 2>/dev/null; wait; exit 0" TERM INT
  wait -n
  log "a WAN's prober ended; exiting so that systemd restarts edge-probe"
  kill 0 2>/dev/null
  exit 1
}

show() {
  local w s at why
  for w in wan1 wan2; do
    s='' at='' why=''
    [ -r "$RUN_DIR/$w.probe" ] && read -r s at why <"$RUN_DIR/$w.probe"
    printf '%s %s %s %s\\n' "$w" "\${s:-unknown}" "\${at:--}" "\${why:-}"
  done
}

case "\${1:-}" in
  run) run ;;
  show) show ;;
  *) echo "usage: edge-probe run|show" >&2; exit 2 ;;
esac
`;
}

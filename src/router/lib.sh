# shellcheck shell=bash disable=SC2034 # the variables are for the programs that source this file
# Managed by edge: the library every edge router program shares (logging, configuration, atomic
# writes). It is not installed as a file of its own: edge puts it into each program in place of the
# line that sources it (src/render/router-programs.ts), so every program on a router is whole and a
# program and the library it was tested with can never be out of step.
#
# A program sets PROG (its log tag) and then sources this file.
#
# Files the programs share, in RUN_DIR (/run/edge, gone at reboot) unless said otherwise; each is
# replaced by rename, never written in place, so a reader sees the old line or the new one:
#
#   WAN.probe    edge-probe's last decision   "up|down EPOCH WHY"     (EPOCH: wall time, for people)
#   WAN.track    the same as keepalived reads it   "0" (up) | "1" (down)
#   WAN.health   edge-probe's last second     "pass|fail ANSWERING/TARGETS EPOCH FAILS ANSWERED LOST RTT_SUM"
#                (seconds failed in a row; replies, unanswered probes and the replies' RTT in s since it started)
#                (edge-health writes it too when run by hand or by edge's verify)
#   WAN.state    edge-failover's record of keepalived's view   "up|down EPOCH"
#   WAN.vrrp     keepalived's last notification for the WAN    "MASTER|BACKUP|FAULT|STOP EPOCH"
#   probe.started  touched when edge-probe starts (its configuration is newer: it restarts)
#   failover.applied  the state edge-failover's last sync found or applied (written under its lock)
#   lan6.addr    the IPv6 LAN addresses edge-routes put on LAN_IF, a line each   "ADDR/LEN IF"
#   radvd.conf   native IPv6: the copy of CONF_DIR/radvd-CHOICE.conf edge-radvd reads
#   radvd.choice native IPv6: its CHOICE and the two subnets it was made with   "wan1|wan2|both SUB1 SUB2"
#   prefix6      the delegated IPv6 prefixes edge-routes followed since routing.conf was rendered, a
#                line per WAN whose ISP delegated another prefix
#                "wanN RENDERED_PD PD RENDERED_SUBNET SUBNET [EARLIER_SUBNET,…]" (SUBNET: the part the
#                LAN uses; a line whose RENDERED_* are not routing.conf's V6_PDn, V6_SUBn is stale)
#   SWITCH_LOG (/var/lib/edge/failover/switches, kept across reboots): one line per switch of the
#                preferred WAN, "EPOCH FROM TO HELD WHY" (HELD: seconds FROM was preferred, or -)
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Where things live on a router (src/tasks/paths.ts names the same paths; a unit test holds them
# equal). The environment overrides them for tests and for running a program by hand.
ROUTING_CONF=${EDGE_ROUTING_CONF:-/etc/edge/routing.conf}
FAILOVER_CONF=${EDGE_FAILOVER_CONF:-/etc/edge/failover.conf}
RUN_DIR=${EDGE_RUN_DIR:-/run/edge}
CONF_DIR=${EDGE_CONF_DIR:-/etc/edge}

# log MESSAGE: each message reaches the journal exactly once, under PROG. A systemd service's stderr
# already goes to the journal (systemd sets JOURNAL_STREAM to its device:inode), so there stderr
# alone is used; anywhere else (keepalived's notify handler, whose output keepalived discards; a
# shell; an edge run) the message goes through logger, and to stderr for whoever watches.
if [ -n "${JOURNAL_STREAM:-}" ] && [ "$(stat -L -c '%d:%i' "/proc/$$/fd/2" 2>/dev/null)" = "$JOURNAL_STREAM" ]; then
  log() { printf '%s\n' "$*" >&2; }
else
  log() {
    logger -t "$PROG" -- "$*" 2>/dev/null || true
    printf '%s: %s\n' "$PROG" "$*" >&2
  }
fi

# mono: MONO = the monotonic clock in seconds since boot (10 ms steps), MONO_CS the same in
# hundredths, read with a builtin (no process). Every duration on a router is measured on it, never
# on the wall clock, which NTP or an operator may step by a day either way; wall time
# ($EPOCHREALTIME, printf %(%s)T) is only written for people to read.
mono() {
  read -r MONO _ </proc/uptime
  MONO_CS=$((10#${MONO/./}))
}

# addr4 IF: ADDR4 = IF's first global IPv4 address (empty without one); one ip process.
addr4() {
  local out
  ADDR4=''
  out=$(ip -4 -o addr show dev "$1" scope global 2>/dev/null)
  [[ $out =~ inet\ ([0-9.]+)/ ]] && ADDR4=${BASH_REMATCH[1]}
  return 0
}

# delegated_prefixes: "IF PREFIX" for each prefix an interface's DHCPv6 client was delegated in this
# boot, oldest first (the last line of an interface is its prefix now): systemd-networkd says it in
# its journal, dhclient in its lease file. edge's facts probe runs this same function.
delegated_prefixes() {
  local f i
  journalctl -b -u systemd-networkd -o cat --no-pager 2>/dev/null |
    sed -n 's/^\([A-Za-z0-9_.:@-]*\): DHCP: received delegated prefix \([0-9a-f:]*\/[0-9]*\).*/\1 \2/p'
  for f in /var/lib/dhcp/dhclient6.*.leases; do
    [ -r "$f" ] || continue
    i=${f#/var/lib/dhcp/dhclient6.}
    i=${i%.leases}
    sed -n "s/^ *iaprefix \([0-9a-f:]*\/[0-9]*\) {/$i \1/p" "$f"
  done
}

# subnet6 PREFIX LEN ID: SUBNET6 = subnet number ID, LEN bits long, of PREFIX (2001:db8:1200::/40 56
# 3 -> 2001:db8:1200:300::/56), written as nft and edge write it (RFC 5952). Fails when ID does not
# fit. Pure bash; src/ipv6.ts's subnet6 answers the same for the run (a unit test holds them equal).
subnet6() {
  local addr=${1%/*} plen=${1#*/} len=$2 id=$3 head tail x i b bit
  local -a h=() t=() g=()
  SUBNET6=''
  [[ $1 =~ ^[0-9a-f:]+/[0-9]+$ && $len =~ ^[0-9]+$ && $id =~ ^[0-9]+$ ]] || return 1
  ((plen <= len && len <= 128 && (len - plen >= 62 || id >> (len - plen) == 0))) || return 1
  if [[ $addr == *::* ]]; then head=${addr%%::*} tail=${addr#*::}; else head=$addr tail=''; fi
  IFS=: read -ra h <<<"$head"
  IFS=: read -ra t <<<"$tail"
  for x in "${h[@]}"; do g+=($((16#$x))); done
  for ((i = ${#h[@]} + ${#t[@]}; i < 8; i++)); do g+=(0); done
  for x in "${t[@]}"; do g+=($((16#$x))); done
  [ "${#g[@]}" = 8 ] || return 1
  for ((b = plen; b < 128; b++)); do
    i=$((b / 16)) bit=$((1 << (15 - b % 16)))
    if ((b < len && (id >> (len - 1 - b)) & 1)); then g[i]=$((g[i] | bit)); else g[i]=$((g[i] & ~bit)); fi
  done
  format6 "${g[@]}"
  SUBNET6=$FORMAT6/$len
}

# format6 G1 … G8: FORMAT6 = the address of these eight 16-bit groups, RFC 5952 (lower case, no
# leading zeros, the longest run of two or more zero groups, the first of equals, as "::").
format6() {
  local -a g=("$@")
  local i j at=-1 run=0 out=''
  for ((i = 0; i < 8; i = j + 1)); do
    for ((j = i; j < 8 && g[j] == 0; j++)); do :; done
    if ((j - i > run && j - i > 1)); then at=$i run=$((j - i)); fi
  done
  for ((i = 0; i < 8; i++)); do
    if ((i == at)); then out+='::'; i=$((i + run - 1)); continue; fi
    [[ -z $out || $out == *:: ]] || out+=':'
    out+=$(printf '%x' "${g[i]}")
  done
  FORMAT6=$out
}

# valid REGEX VALUE NAME: VALUE matches, or a log line names the field and the call fails.
valid() { [[ $2 =~ $1 ]] || { log "configuration: $3 is not valid: '$2'"; return 1; }; }

IFNAME_RE='^[A-Za-z0-9_.:@-]{1,15}$'
MARK_RE='^0x[0-9a-f]+$'
UINT_RE='^[0-9]+$'
NUM_RE='^[0-9]+(\.[0-9]+)?$'
NAME_RE='^[A-Za-z][A-Za-z0-9_-]*$'

# load_conf FILE...: source edge's KEY='value' files (rendered by edge, every value single-quoted).
load_conf() {
  local f
  for f in "$@"; do
    [ -r "$f" ] || { log "cannot read $f"; return 1; }
    # shellcheck source=/dev/null
    . "$f" || { log "cannot load $f"; return 1; }
  done
}

# write_atomic FILE TEXT: FILE holds TEXT and a newline, replaced by rename (temp file in the same
# directory): a reader never sees it half written. Costs one process (mv), nothing else.
write_atomic() {
  local tmp="${1%/*}/.${1##*/}.$BASHPID.new"
  printf '%s\n' "$2" >"$tmp" && mv -f "$tmp" "$1"
}

# write_atomic_from FILE: the same with the text from stdin.
write_atomic_from() {
  local tmp="${1%/*}/.${1##*/}.$BASHPID.new"
  cat >"$tmp" && mv -f "$tmp" "$1"
}

# with_lock NAME CMD...: CMD under RUN_DIR/NAME.lock (flock), so two instances never interleave.
with_lock() {
  local name=$1
  shift
  [ -d "$RUN_DIR" ] || mkdir -p "$RUN_DIR" || return 1
  (
    flock -w 30 9 || { log "timed out waiting for $RUN_DIR/$name.lock"; exit 1; }
    "$@"
  ) 9>"$RUN_DIR/$name.lock"
}

# Reading edge's ruleset, as one `nft list table` printed it (TEXT), with no process; M1, M2 and
# LAN_IF from routing.conf.

# map_wan MAP TEXT: WAN_OF = the WAN whose mark MAP's LAN element holds in nft's listing TEXT.
map_wan() {
  local re="map $1 \{[^}]*\"$LAN_IF\" : (0x[0-9a-f]+)" m
  WAN_OF=''
  [[ $2 =~ $re ]] || return 0
  m=${BASH_REMATCH[1]}
  if [ "$((m))" = "$((M1))" ]; then WAN_OF=wan1; elif [ "$((m))" = "$((M2))" ]; then WAN_OF=wan2; fi
}

# set_mark SET TEXT: MARK_OF = the WAN mark in SET (its first element), empty without one.
set_mark() {
  local re="set $1 \{[^}]*elements = \{ (0x[0-9a-f]+)" m
  MARK_OF=''
  [[ $2 =~ $re ]] || return 0
  m=${BASH_REMATCH[1]}
  if [ "$((m))" = "$((M1))" ]; then MARK_OF=$M1; elif [ "$((m))" = "$((M2))" ]; then MARK_OF=$M2; fi
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

# native_choice WANT DOWN: CHOICE = which native IPv6 LAN prefixes hosts may use for new flows
# (wan1|wan2|both), from the WAN new IPv6 flows use (WANT: wan1|wan2) and the marks of the WANs
# whose IPv6 is down (DOWN: numbers, comma- or space-separated), with routing.conf's M1, M2 and V6_LAN_PREFER
# (one: failover, only WANT's prefix; both: balance, every prefix whose WAN is not down). The one
# place this rule lives: edge-failover applies it on a switch, edge-routes when radvd starts.
native_choice() {
  local down=" ${2//,/ } " d1=no d2=no
  [[ $down != *" $((M1)) "* ]] || d1=yes
  [[ $down != *" $((M2)) "* ]] || d2=yes
  if [ "$d1" = yes ] && [ "$d2" = no ]; then CHOICE=wan2
  elif [ "$d2" = yes ] && [ "$d1" = no ]; then CHOICE=wan1
  elif [ "$V6_LAN_PREFER" = both ]; then CHOICE=both
  else CHOICE=${1:-wan1}
  fi
}

# prefix6_followed: for N in 1 2, P6_PDN and P6_SUBN = WAN N's delegated prefix and the LAN's subnet
# of it now, P6_WASN the subnets the LAN used before it (comma-separated): what edge-routes followed
# (RUN_DIR/prefix6), else routing.conf's V6_PDN, V6_SUBN.
prefix6_followed() {
  local wan rendered pd rsub sub was n
  P6_PD1=${V6_PD1:-} P6_SUB1=${V6_SUB1:-} P6_WAS1='' P6_PD2=${V6_PD2:-} P6_SUB2=${V6_SUB2:-} P6_WAS2=''
  [ -r "$RUN_DIR/prefix6" ] || return 0
  while read -r wan rendered pd rsub sub was; do
    case $wan in wan1) n=1 ;; wan2) n=2 ;; *) continue ;; esac
    local vpd="V6_PD$n" vsub="V6_SUB$n"
    [[ $rendered == "${!vpd:-}" && $rsub == "${!vsub:-}" ]] || continue
    [[ $pd =~ ^[0-9a-f:]+/[0-9]+$ && $sub =~ ^[0-9a-f:]+/[0-9]+$ && $was =~ ^[0-9a-f:/,]*$ ]] || continue
    printf -v "P6_PD$n" '%s' "$pd"
    printf -v "P6_SUB$n" '%s' "$sub"
    printf -v "P6_WAS$n" '%s' "$was"
  done <"$RUN_DIR/prefix6"
}

# radvd_conf CHOICE: CONF_DIR/radvd-CHOICE.conf as edge-radvd must read it now: the subnets of the
# prefixes edge-routes followed in place of the rendered ones, and every subnet the LAN was told
# before announced once more, deprecated (preferred lifetime 0), so hosts stop choosing an address
# their ISP no longer routes to the router (RFC 8978) instead of for hours.
radvd_conf() {
  local n rsub sub was edits=() deprecate=() x
  prefix6_followed
  for n in 1 2; do
    rsub="V6_SUB$n" sub="P6_SUB$n" was="P6_WAS$n"
    [[ -n ${!rsub:-} && ${!rsub} != "${!sub}" ]] || continue
    edits+=(-e "s|^\(\tprefix \)${!rsub} {|\1${!sub} {|")
    for x in ${!rsub} ${!was//,/ }; do [ "$x" = "${!sub}" ] || deprecate+=("$x"); done
  done
  if [ "${#edits[@]}" = 0 ]; then cat "$CONF_DIR/radvd-$1.conf"; return; fi
  sed "${edits[@]}" "$CONF_DIR/radvd-$1.conf" | sed '$d'
  for x in "${deprecate[@]}"; do
    printf '\tprefix %s {\n\t\tAdvOnLink on;\n\t\tAdvAutonomous on;\n\t\tAdvPreferredLifetime 0; # the ISP delegates another prefix now\n\t\tAdvValidLifetime 7200;\n\t};\n' "$x"
  done
  printf '};\n'
}

# radvd_follow CHOICE: edge-radvd advertises CONF_DIR/radvd-CHOICE.conf as radvd_conf makes it
# (copied to RUN_DIR/radvd.conf and reloaded, SIGHUP) unless it already does. No process when nothing
# changes; a reload makes radvd advertise at once, so hosts deprecate a prefix within a round trip of
# the switch. Returns 2 when the file changed but no radvd runs to be told (its ExecStartPre, or a
# stopped radvd).
radvd_follow() {
  local have='' pid='' what="$1's prefix" want
  [ "$1" != both ] || what="both WANs' prefixes"
  prefix6_followed
  want="$1${P6_SUB1:+ $P6_SUB1}${P6_SUB2:+ $P6_SUB2}"
  [ ! -r "$RUN_DIR/radvd.choice" ] || read -r have <"$RUN_DIR/radvd.choice" || true
  [ "$have" != "$want" ] || [ ! -e "$RUN_DIR/radvd.conf" ] || return 0
  radvd_conf "$1" | write_atomic_from "$RUN_DIR/radvd.conf" || { log "cannot put $CONF_DIR/radvd-$1.conf in place"; return 1; }
  write_atomic "$RUN_DIR/radvd.choice" "$want"
  [ -r "$RUN_DIR/radvd.pid" ] && read -r pid <"$RUN_DIR/radvd.pid" && [[ $pid =~ ^[0-9]+$ ]] && kill -HUP "$pid" 2>/dev/null || return 2
  log "router advertisements: new IPv6 LAN flows on $what (radvd reloaded)"
}

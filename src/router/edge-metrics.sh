#!/bin/bash
# Managed by edge: the router's failover state as Prometheus metrics, for node_exporter's textfile
# collector. The names, types and labels are the list in edge's monitoring/metrics.md.
#
#   edge-metrics run    write the file every INTERVAL seconds until stopped (edge-metrics.service)
#   edge-metrics once   write it once and exit (what edge's tests and a curious operator run)
#
# Reads only what the other programs already keep: RUN_DIR/WAN.probe and WAN.health (edge-probe),
# the switch log (edge-failover), edge's nftables table and conntrack, the units' states, and edge's
# bookkeeping in /var/lib/edge (the pending run, the confirmed runs). The file is replaced by rename,
# so node_exporter never reads half of it.
PROG=edge-metrics
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "${BASH_SOURCE[0]%/*}/lib.sh" # edge bundles the library here
METRICS_CONF=${EDGE_METRICS_CONF:-/etc/edge/metrics.conf}
EDGE_VAR=${EDGE_VAR_DIR:-/var/lib/edge}

load() {
  M1='' M2='' NFT_FAMILY='' NFT_TABLE='' NFT_MAP='' SWITCH_LOG=''
  TEXTFILE='' INTERVAL='' PROBER_UNIT='' SWITCHER_UNITS='' MANAGED_FILES='' APPLIED_FILE=''
  load_conf "$ROUTING_CONF" "$FAILOVER_CONF" "$METRICS_CONF" || return 1
  valid "$MARK_RE" "$M1" M1 && valid "$MARK_RE" "$M2" M2 && valid "$NAME_RE" "$NFT_TABLE" NFT_TABLE &&
    valid "$NAME_RE" "$NFT_MAP" NFT_MAP && valid '^/[^[:space:]]+$' "$TEXTFILE" TEXTFILE &&
    valid "$NUM_RE" "$INTERVAL" INTERVAL && valid '^/[^[:space:]]+$' "$APPLIED_FILE" APPLIED_FILE
}

OUT=''
# metric NAME LABELS VALUE: one sample line ("" for no labels).
metric() {
  local labels=''
  [ -z "$2" ] || labels="{$2}"
  OUT+="$1$labels $3"$'\n'
}
# describe NAME TYPE HELP: the metric's HELP and TYPE lines (before its samples, once).
describe() { OUT+="# HELP $1 $3"$'\n'"# TYPE $1 $2"$'\n'; }

# A write runs every few seconds on every router for as long as it is up: no helper here runs in a
# subshell ($(...) forks), and each external command is asked once per write for all it can answer.

# metric_is NAME LABELS A B: a sample of 1 if A equals B, else 0.
metric_is() { if [ "$3" = "$4" ]; then metric "$1" "$2" 1; else metric "$1" "$2" 0; fi; }

NOW=0
# age EPOCH: SINCE = whole seconds from EPOCH (fractions allowed) to now, never negative; empty if
# EPOCH is not one.
age() {
  local e=${1%.*}
  SINCE=''
  [[ ! $e =~ ^[0-9]+$ ]] || SINCE=$((NOW > e ? NOW - e : 0))
}

# Per WAN: the prober's decision ("up|down EPOCH WHY") and its last second ("pass|fail N/M EPOCH
# FAILS ANSWERED LOST RTT_SUM WLOSS_PCT WRTT_MS GOOD"; all but the first three only from edge-probe,
# not from edge-health; the window's loss and RTT are "-" until edge-probe has judged them).
declare -A STATE AGE FAILS ANSWERED LOST RTT PREV_ANSWERED PREV_LOST LOSS WLOSS WRTT GOOD
read_wans() {
  local w s at fails answered lost rtt wl wr good
  for w in wan1 wan2; do
    s='' at='' fails='' answered='' lost='' rtt='' wl='' wr='' good=''
    [ -r "$RUN_DIR/$w.probe" ] && read -r s at _ <"$RUN_DIR/$w.probe"
    [ -r "$RUN_DIR/$w.health" ] && read -r _ _ _ fails answered lost rtt wl wr good _ <"$RUN_DIR/$w.health"
    WLOSS[$w]='' WRTT[$w]='' GOOD[$w]=''
    # percent with one decimal -> a ratio: "41.2" is 412 thousandths
    if [[ $wl =~ ^([0-9]+)\.([0-9])$ ]]; then
      wl=$((10#${BASH_REMATCH[1]}${BASH_REMATCH[2]}))
      printf -v "WLOSS[$w]" '%d.%03d' $((wl / 1000)) $((wl % 1000))
    fi
    [[ ! $wr =~ ^[0-9]+$ ]] || printf -v "WRTT[$w]" '%d.%03d' $((10#$wr / 1000)) $((10#$wr % 1000))
    [[ ! $good =~ ^[01]$ ]] || GOOD[$w]=$good
    case $s in up | degraded | down) age "$at"; STATE[$w]=$s AGE[$w]=$SINCE ;; *) STATE[$w]=unknown AGE[$w]='' ;; esac
    FAILS[$w]=$fails ANSWERED[$w]=$answered LOST[$w]=$lost RTT[$w]=$rtt LOSS[$w]=''
    if [[ $answered =~ ^[0-9]+$ && $lost =~ ^[0-9]+$ && ${PREV_ANSWERED[$w]:-x} =~ ^[0-9]+$ ]]; then
      # Loss over the last interval, from the prober's counters (a restart of the prober resets them).
      local da=$((answered - PREV_ANSWERED[$w])) dl=$((lost - PREV_LOST[$w]))
      if [ "$da" -ge 0 ] && [ "$dl" -ge 0 ] && [ $((da + dl)) -gt 0 ]; then
        printf -v "LOSS[$w]" '%d.%03d' $((dl * 1000 / (da + dl) / 1000)) $((dl * 1000 / (da + dl) % 1000))
      fi
    fi
    PREV_ANSWERED[$w]=$answered PREV_LOST[$w]=$lost
  done
}

wan_metrics() {
  local w st
  describe edge_wan_state gauge "1 for the WAN's current health (edge-probe's decision), 0 for the other states"
  for w in wan1 wan2; do
    for st in up degraded down unknown; do metric_is edge_wan_state "wan=\"$w\",family=\"ipv4\",state=\"$st\"" "${STATE[$w]}" "$st"; done
  done
  describe edge_wan_state_age_seconds gauge "Seconds since the WAN's current state was decided"
  for w in wan1 wan2; do [ -z "${AGE[$w]}" ] || metric edge_wan_state_age_seconds "wan=\"$w\",family=\"ipv4\"" "${AGE[$w]}"; done
  describe edge_wan_probe_failures gauge "Consecutive health checks (one a second) in which too few targets answered"
  for w in wan1 wan2; do [[ ! ${FAILS[$w]} =~ ^[0-9]+$ ]] || metric edge_wan_probe_failures "wan=\"$w\",family=\"ipv4\"" "${FAILS[$w]}"; done
  describe edge_wan_probe_loss_ratio gauge "Share of probes unanswered since the previous write"
  for w in wan1 wan2; do [ -z "${LOSS[$w]}" ] || metric edge_wan_probe_loss_ratio "wan=\"$w\",family=\"ipv4\"" "${LOSS[$w]}"; done
  describe edge_wan_window_loss_ratio gauge "Share of the best targets' probes lost over edge-probe's quality window (edge_health_window)"
  for w in wan1 wan2; do [ -z "${WLOSS[$w]}" ] || metric edge_wan_window_loss_ratio "wan=\"$w\",family=\"ipv4\"" "${WLOSS[$w]}"; done
  describe edge_wan_window_rtt_seconds gauge "Mean round-trip time of the best targets over edge-probe's quality window"
  for w in wan1 wan2; do [ -z "${WRTT[$w]}" ] || metric edge_wan_window_rtt_seconds "wan=\"$w\",family=\"ipv4\"" "${WRTT[$w]}"; done
  describe edge_wan_quality_good gauge "1 while the WAN's loss and RTT are within the recovery thresholds (it may take flows off a degraded WAN)"
  for w in wan1 wan2; do [ -z "${GOOD[$w]}" ] || metric edge_wan_quality_good "wan=\"$w\",family=\"ipv4\"" "${GOOD[$w]}"; done
  describe edge_wan_probes_lost_total counter "Probes that went unanswered since edge-probe started"
  for w in wan1 wan2; do [[ ! ${LOST[$w]} =~ ^[0-9]+$ ]] || metric edge_wan_probes_lost_total "wan=\"$w\",family=\"ipv4\"" "${LOST[$w]}"; done
  describe edge_wan_probe_rtt_seconds summary "Round-trip time of the answered probes since edge-probe started"
  for w in wan1 wan2; do
    [[ ${ANSWERED[$w]} =~ ^[0-9]+$ && ${RTT[$w]} =~ ^[0-9.]+$ ]] || continue
    metric edge_wan_probe_rtt_seconds_sum "wan=\"$w\",family=\"ipv4\"" "${RTT[$w]}"
    metric edge_wan_probe_rtt_seconds_count "wan=\"$w\",family=\"ipv4\"" "${ANSWERED[$w]}"
  done
}

# Flows pinned to each WAN: conntrack entries by mark, per family (one listing per family).
flow_metrics() {
  local fam f m1=$((M1)) m2=$((M2)) counts
  describe edge_wan_flows gauge "Conntrack entries carrying the WAN's mark"
  command -v conntrack >/dev/null || return 0
  for fam in ipv4 ipv6; do
    counts=$(conntrack -L -f "$fam" 2>/dev/null | awk -v a="$m1" -v b="$m2" '
      { for (i = 1; i <= NF; i++) if ($i ~ /^mark=/) { m = substr($i, 6) + 0; if (m == a) n1++; else if (m == b) n2++ } }
      END { print n1 + 0, n2 + 0 }')
    read -r f m <<<"$counts"
    metric edge_wan_flows "wan=\"wan1\",family=\"$fam\"" "${f:-0}"
    metric edge_wan_flows "wan=\"wan2\",family=\"$fam\"" "${m:-0}"
  done
}

# From one listing of edge's table: the NAT and leak-guard counters, and the preferred WAN.
PREFERRED=''
table_metrics() {
  local listing mark
  listing=$(nft list table "$NFT_FAMILY" "$NFT_TABLE" 2>/dev/null)
  OUT+=$(awk '
    / masquerade / && /comment "NAT WAN[12]"/ && match($0, /packets [0-9]+/) {
      n = substr($0, RSTART + 8, RLENGTH - 8); w = ($0 ~ /"NAT WAN1"/) ? "wan1" : "wan2"
      fam = ($0 ~ /nfproto ipv6/) ? "ipv6" : "ipv4"; nat["wan=\"" w "\",family=\"" fam "\""] += n }
    / drop / && /leaving a WAN/ && match($0, /packets [0-9]+/) {
      n = substr($0, RSTART + 8, RLENGTH - 8); guard["family=\"" (($0 ~ /ip6 saddr/) ? "ipv6" : "ipv4") "\""] += n }
    END {
      print "# HELP edge_wan_nat_flows_total New LAN flows NATed out of the WAN (its masquerade rule'"'"'s counter)"
      print "# TYPE edge_wan_nat_flows_total counter"
      for (k in nat) printf "edge_wan_nat_flows_total{%s} %d\n", k, nat[k]
      print "# HELP edge_leak_guard_dropped_packets_total Packets with a LAN source dropped on their way out of a WAN un-NATed"
      print "# TYPE edge_leak_guard_dropped_packets_total counter"
      for (k in guard) printf "edge_leak_guard_dropped_packets_total{%s} %d\n", k, guard[k]
    }' <<<"$listing")$'\n'
  # The map's element: `elements = { "lan0" : 0x00000002 }`.
  PREFERRED=''
  if [[ $listing =~ map\ $NFT_MAP\ \{[^}]*elements\ =\ \{[^:]*:\ (0x[0-9a-f]+) ]]; then
    mark=$((BASH_REMATCH[1]))
    if [ "$mark" = $((M1)) ]; then PREFERRED=wan1; elif [ "$mark" = $((M2)) ]; then PREFERRED=wan2; fi
  fi
  describe edge_preferred_wan gauge "1 for the WAN new LAN flows use now (the preferred_wan map), 0 for the other"
  metric_is edge_preferred_wan 'wan="wan1"' "$PREFERRED" wan1
  metric_is edge_preferred_wan 'wan="wan2"' "$PREFERRED" wan2
}

# Switches by the WAN switched to and why, counted from the switch log since this process started
# (the log keeps the last 1000; a line is counted once, by its time).
declare -A SWITCHES=([wan1/down]=0 [wan1/recovered]=0 [wan2/down]=0 [wan2/recovered]=0)
SWITCH_SEEN=0
switch_metrics() {
  local key n
  if [ -r "$SWITCH_LOG" ]; then
    while read -r key n; do
      if [ "$key" = last ]; then SWITCH_SEEN=$n; else SWITCHES[$key]=$((${SWITCHES[$key]:-0} + n)); fi
    done < <(awk -v after="$SWITCH_SEEN" '
      $1 + 0 > after + 0 {
        r = "other"
        if ($2 == "none") r = "start"
        else if ($0 ~ /degraded/) r = "degraded"
        else if ($5 ~ /^wan[12]$/ && $6 == "down:") r = "down"
        else if ($5 ~ /^wan[12]$/ && $6 == "up:") r = "recovered"
        if ($3 ~ /^wan[12]$/) c[$3 "/" r]++
        last = $1
      }
      END { for (k in c) print k, c[k]; if (last != "") print "last", last }' "$SWITCH_LOG")
  fi
  describe edge_switches_total counter "Switches of the preferred WAN, by the WAN switched to and why"
  for key in "${!SWITCHES[@]}"; do metric edge_switches_total "wan=\"${key%/*}\",reason=\"${key#*/}\"" "${SWITCHES[$key]}"; done
}

# The prober runs and writes its health files; whatever applies its decisions is running.
liveness_metrics() {
  local prober=0 switcher=1 fresh=0 i mt
  local -a sw states
  read -r -a sw <<<"$SWITCHER_UNITS"
  # One systemctl for every unit: a line each, in order (none if systemd cannot be asked).
  mapfile -t states < <(systemctl is-active -- "$PROBER_UNIT" "${sw[@]}" 2>/dev/null)
  [ "${states[0]:-}" = active ] && prober=1
  for i in "${!sw[@]}"; do [ "${states[i + 1]:-}" = active ] || switcher=0; done
  while read -r mt; do [ $((NOW - mt)) -gt 10 ] || fresh=$((fresh + 1)); done < <(stat -c %Y -- "$RUN_DIR/wan1.health" "$RUN_DIR/wan2.health" 2>/dev/null)
  [ "$fresh" = 2 ] || prober=0
  describe edge_prober_up gauge "1 while edge-probe runs and its health files are fresh"
  metric edge_prober_up '' "$prober"
  describe edge_switcher_up gauge "1 while what applies edge-probe's decisions runs"
  metric edge_switcher_up '' "$switcher"
}

# The managed files' sums ("HASH  PATH", or "absent  PATH"), worked out again only when a file
# changed by its name, inode, size, or change and modification time (stat's line for it, or its
# error for a file that is not there): hashing them all every few seconds was most of a write.
SUMS='' SUMS_OF=''
managed_sums() {
  local f of
  local -a files present=()
  read -r -a files <<<"$MANAGED_FILES"
  of=$(stat -c '%n %i %s %.9Z %.9Y' -- "${files[@]}" 2>&1)
  [ "$of" != "$SUMS_OF" ] || [ -z "$of" ] || return 0
  SUMS=''
  # One sha256sum for every managed file there is; the others are listed as absent.
  for f in "${files[@]}"; do if [ -e "$f" ]; then present+=("$f"); else SUMS+="absent  $f"$'\n'; fi; done
  [ "${#present[@]}" = 0 ] || SUMS+=$(sha256sum -- "${present[@]}" 2>&1)
  SUMS=${SUMS%$'\n'} # with every file absent, no blank line to count as a drifted file
  SUMS_OF=$of
}

# The applied run (the newest confirmed one), the managed files as it left them, and the drift;
# worked out again only when the run or the sums changed.
DRIFT=0 APPLIED_HASH='' APPLIED_OF=''
applied_metrics() {
  local d id='' st ref=''
  for d in "$EDGE_VAR"/snapshots/*/; do
    st=''
    [ -r "${d}state" ] && read -r st <"${d}state"
    d=${d%/}
    [ "$st" = confirmed ] && id=${d##*/}
  done
  [ -n "$id" ] || return 0
  managed_sums
  [ -r "$APPLIED_FILE" ] && { read -r ref <"$APPLIED_FILE"; }
  if [ "$ref" != "$id" ]; then
    # A run confirmed since the last look: the files as they are now are what it left.
    write_atomic "$APPLIED_FILE" "$id"$'\n'"$SUMS" || return 0
    APPLIED_OF=''
  fi
  if [ "$APPLIED_OF" != "$id $SUMS" ]; then
    DRIFT=$(diff <(tail -n +2 "$APPLIED_FILE") <(printf '%s\n' "$SUMS") | grep -c '^>' || true)
    APPLIED_HASH=$(tail -n +2 "$APPLIED_FILE" | sha256sum)
    APPLIED_OF="$id $SUMS"
  fi
  describe edge_applied_info gauge "The last run confirmed on this router, and a hash of the managed files as it left them"
  metric edge_applied_info "run_id=\"$id\",hash=\"${APPLIED_HASH:0:16}\"" 1
  describe edge_drift_files gauge "Managed files that differ from what the applied run left"
  metric edge_drift_files '' "$DRIFT"
}

# A run applied and not confirmed yet, and how far past its dead-man deadline it is.
pending_metrics() {
  local id='' deadline='' t
  [ -r "$EDGE_VAR/pending" ] && read -r id <"$EDGE_VAR/pending"
  describe edge_run_pending gauge "1 while a run is applied but not confirmed"
  metric_is edge_run_pending '' "${id:+x}" x
  [ -n "$id" ] && [ -r "$EDGE_VAR/snapshots/$id/deadline" ] && read -r deadline <"$EDGE_VAR/snapshots/$id/deadline"
  [ -n "$deadline" ] && t=$(date -u -d "$deadline" +%s 2>/dev/null) || return 0
  describe edge_run_pending_past_deadline_seconds gauge "Seconds since the pending run's confirm deadline (negative before it)"
  metric edge_run_pending_past_deadline_seconds '' $((NOW - t))
}

write_once() {
  OUT=''
  NOW=$(printf '%(%s)T' -1)
  read_wans
  wan_metrics
  flow_metrics
  table_metrics
  switch_metrics
  liveness_metrics
  applied_metrics
  pending_metrics
  describe edge_metrics_last_write_timestamp_seconds gauge "When edge-metrics wrote this file"
  metric edge_metrics_last_write_timestamp_seconds '' "$NOW"
  [ -d "${TEXTFILE%/*}" ] || { log "${TEXTFILE%/*} does not exist (is prometheus-node-exporter installed?)"; return 1; }
  write_atomic "$TEXTFILE" "${OUT%$'\n'}"
}

case "${1:-}" in
  run)
    load || exit 1
    log "writing $TEXTFILE every $INTERVAL s"
    while :; do
      # The conf files are read again each time: a run that changes routing.conf (the marks) is
      # followed at the next write, without a restart.
      { load && write_once; } || true
      sleep "$INTERVAL"
    done
    ;;
  once) load && write_once ;;
  *)
    echo "usage: edge-metrics run|once" >&2
    exit 2
    ;;
esac

# Managed by edge: the state machine of one WAN, run by edge-probe (one mawk per WAN).
#
# Every duration is measured on the monotonic clock M (seconds since boot, /proc/uptime): a step
# of the wall clock (NTP on a router that booted with a wrong clock, `date -s`) changes no
# decision. Wall time W (epoch seconds) is only written for people to read. Input lines:
#
#   tick M W                 the clock, 4 times a second, also while no ping runs
#   carrier M 0|1            the link lost or regained its carrier (read from sysfs every tick)
#   addr M ADDR|-            pings (re)started from ADDR, or stopped: the WAN has no address of
#                            FAMILY (IPv4, or IPv6 for the machines of a WAN's IPv6)
#   [W] 64 bytes from X: ... a reply from target X (ping -D stamps it with wall time: it is
#                            brought onto M with the last tick's offset, and taken as "now" when
#                            it is not within a tick of it, as after a step of the wall clock)
#   [W] no answer yet ...    ping -O: a probe went unanswered
#
# A target is answering while its last reply is at most TIMEOUT old. The WAN is healthy while at
# least NEED targets answer, and never while it has no carrier or no address (that is certain at
# once, no need to wait for the timeout). up -> down at the first moment it is not healthy
# (damping: a flapping WAN is out at its first down); down -> up only once it has been healthy
# without a break for RISE seconds. A WAN never measured (boot) gets GRACE seconds to answer
# before it counts as down. Every decision goes to RUN_DIR/WAN.probe ("up|down EPOCH why"), then
# RUN_DIR/WAN.track (0 = up, 1 = down), which keepalived watches (track_file, inotify); both by
# rename, after a line "WAN is UP|DOWN: why" on stdout has told edge-failover's switcher. Every second
# RUN_DIR/WAN.health gets "pass|fail ANSWERING/TARGETS EPOCH FAILS ANSWERED LOST RTT_SUM": the
# seconds failed in a row, then counters since the start (replies, probes unanswered, the replies'
# round-trip times in seconds) that edge-metrics turns into metrics; and stdout "beat WAN" (the
# switcher's proof, for systemd's watchdog, that this machine and its producer are alive).
BEGIN {
  nt = split(targets, tg, " ")
  for (i = 1; i <= nt; i++) last[tg[i]] = -1
  state = "unknown"; stable = -1; started = -1; now = 0; off = 0; health_at = -1; addr = "-"; carrier = 1
  fails = 0; answered = 0; lost = 0; rtt_sum = 0
  f = run_dir "/" wan ".probe"
  if ((getline line < f) > 0) { split(line, p, " "); if (p[1] == "up" || p[1] == "down") state = p[1] }
  close(f)
}
# The offset of wall time to M comes from the tick's own pair (read together), never from "now",
# which a ping line stamped slightly ahead may have moved: that would carry into every reply.
$1 == "tick" { clock($2); off = $3 - $2; ticked = 1; decide(); next }
$1 == "carrier" { clock($2); carrier = $3 + 0; decide(); next }
$1 == "addr" {
  clock($2)
  # Fresh pings from a new address: every target gets one TIMEOUT to answer from it.
  if ($3 != "-" && $3 != addr) for (i = 1; i <= nt; i++) last[tg[i]] = now
  addr = $3
  decide(); next
}
substr($1, 1, 1) == "[" {
  t = substr($1, 2, length($1) - 2) - off
  clock(t < now - 0.5 || t > now + 0.5 ? now : t)
  if ($3 == "bytes" && $4 == "from") {
    x = $5; sub(/:$/, "", x); if (x in last) last[x] = now
    answered++
    for (i = 6; i <= NF; i++) if (substr($i, 1, 5) == "time=") rtt_sum += substr($i, 6) / 1000
  } else if ($2 == "no" && $3 == "answer") lost++
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
  # Nothing is decided or written before the first tick: until then wall time is unknown (off), and
  # a ping's first reply can come before it.
  if (!ticked) return
  n = answering(); healthy = (n >= need)
  if (health_at < 0 || now - health_at >= 1) {
    tmp = run_dir "/" wan ".health"
    fails = healthy ? 0 : fails + 1
    printf "%s %d/%d %d %d %d %d %.6f\n", (healthy ? "pass" : "fail"), n, nt, now + off, fails, answered, lost, rtt_sum > tmp; close(tmp)
    health_at = now
    printf "beat %s\n", wan; fflush()
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
  if (addr == "-") return sprintf("%s has no %s address", ifname, family == "" ? "IPv4" : family)
  s = sprintf("%d of %d targets answered within %.1f s (%d needed):", n, nt, timeout, need)
  for (i = 1; i <= nt; i++) {
    x = tg[i]
    s = s " " x (last[x] < 0 ? " never" : sprintf(" %.1f s ago", now - last[x])) (i < nt ? "," : "")
  }
  return s
}
function publish(st, why,   p, t) {
  state = st; stable = -1
  # The switcher first: it acts on the line alone, so the three processes of the renames below are
  # not between a decision and the switch.
  printf "%s is %s: %s\n", wan, (st == "up" ? "UP" : "DOWN"), why
  fflush()
  p = run_dir "/." wan ".probe.new"; t = run_dir "/." wan ".track.new"
  printf "%s %.3f %s\n", st, now + off, why > p; close(p)
  print (st == "up" ? 0 : 1) > t; close(t)
  # The reason first, then the value keepalived reacts to.
  system("mv -f '" p "' '" run_dir "/" wan ".probe' && mv -f '" t "' '" run_dir "/" wan ".track'")
}

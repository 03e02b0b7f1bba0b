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
# Life. A target is answering while its last reply is at most TIMEOUT old. The WAN is alive while
# at least NEED targets answer, and never while it has no carrier or no address (that is certain
# at once, no need to wait for the timeout). Not alive: down at once (damping: a flapping WAN is out
# at its first down); down -> up only once it has been alive without a break for RISE seconds. A
# WAN never measured (boot) gets GRACE seconds to answer before it counts as down.
#
# Quality. Per target, over the last WINDOW seconds: the share of its probes that got no reply
# (a probe is settled SETTLE probes after it was sent, so a late reply still counts as a reply)
# and the mean round-trip time of the replies. The WAN's loss and RTT are those of its NEED-th best
# target (a dead target is its own problem, not the link's: a bad link hurts every target). An up
# WAN is degraded once its loss > DLOSS % or its RTT > DRTT s; it is up again only once loss <= RLOSS
# % and RTT <= RRTT s have held for HOLD seconds without a break (hysteresis: a link that alternates
# between bad and good is held out). Quality is judged once the window is half full; it restarts
# when the WAN goes down, when it starts answering again, and when its pings restart.
#
# Every decision goes to RUN_DIR/WAN.probe ("up|degraded|down EPOCH why"), then RUN_DIR/WAN.track (1
# = down, else 0), which keepalived watches (track_file, inotify); both by rename, after a line "WAN
# is UP|DEGRADED|DOWN: why" on stdout has told edge-failover's switcher. Every second RUN_DIR/WAN.health
# gets "pass|fail ANSWERING/TARGETS EPOCH FAILS ANSWERED LOST RTT_SUM LOSS_PCT RTT_MS GOOD": the
# seconds failed in a row; counters since the start (replies, probes unanswered within an interval,
# the replies' round-trip times in seconds) that edge-metrics turns into metrics; the window's loss
# and RTT ("-" until judged); and GOOD, 1 while the quality is within the recovery thresholds (the
# switcher moves new flows off a degraded WAN only onto a good one). And stdout "beat WAN" (the
# switcher's proof, for systemd's watchdog, that this machine and its producer are alive).
BEGIN {
  nt = split(targets, tg, " ")
  NO_RTT = 1e9
  settle = int(0.5 / interval) + 1 # replies reordered by up to half a second still count
  for (i = 1; i <= nt; i++) last[tg[i]] = -1
  state = "unknown"; stable = -1; started = -1; now = 0; off = 0; health_at = -1; addr = "-"; carrier = 1
  fails = 0; answered = 0; lost = 0; rtt_sum = 0
  qreset(); qstable = -1
  f = run_dir "/" wan ".probe"
  if ((getline line < f) > 0) { split(line, p, " "); if (p[1] == "up" || p[1] == "degraded" || p[1] == "down") state = p[1] }
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
  qreset() # the pings (re)started: their sequence numbers too
  addr = $3
  decide(); next
}
substr($1, 1, 1) == "[" {
  t = substr($1, 2, length($1) - 2) - off
  clock(t < now - 0.5 || t > now + 0.5 ? now : t)
  if ($3 == "bytes" && $4 == "from") {
    x = $5; sub(/:$/, "", x)
    seq = -1; rtt = 0
    for (i = 6; i <= NF; i++) {
      if (substr($i, 1, 5) == "time=") rtt = substr($i, 6) / 1000
      else if (substr($i, 1, 9) == "icmp_seq=") seq = substr($i, 10) + 0
    }
    if (x in last) { last[x] = now; if (seq >= 0) replied(x, seq, rtt) }
    answered++; rtt_sum += rtt
  } else if ($2 == "no" && $3 == "answer") lost++
  decide(); next
}
function clock(t) { t += 0; if (t > now) now = t; if (started < 0) { started = now; qstart = now; qlow = int(now) } }
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
    quality()
    printf "%s %d/%d %d %d %d %d %.6f %s %s %d\n", (healthy ? "pass" : "fail"), n, nt, now + off, fails, answered, lost, rtt_sum,
      (qjudged ? sprintf("%.1f", qloss * 100) : "-"), (qjudged && qrtt < NO_RTT ? ms(qrtt) : "-"), qgood > tmp; close(tmp)
    health_at = now
    printf "beat %s\n", wan; fflush()
  }
  if (state == "up" || state == "degraded") {
    if (!healthy) publish("down", failed(n))
    else if (state == "up" && qbad) publish("degraded", qwhy)
    else if (state == "degraded") recovering()
    return
  }
  if (state == "unknown") {
    if (healthy) publish("up", sprintf("%d of %d targets answered (first measurement)", n, nt))
    else if (now - started >= grace) publish("down", failed(n) " (first measurement)")
    return
  }
  if (!healthy) { stable = -1; return }
  # Alive again: the quality of the outage is not the link's, it is measured afresh.
  if (stable < 0) { stable = now; qreset() }
  if (now - stable < rise) return
  if (qbad) publish("degraded", sprintf("%d of %d targets answered, alive without a break for %.1f s, but %s", n, nt, now - stable, qwhy))
  else publish("up", sprintf("%d of %d targets answered, healthy without a break for %.1f s", n, nt, now - stable))
}
# A degraded WAN is up again once its quality has been good for HOLD seconds without a break.
function recovering() {
  if (!qgood) { qstable = -1; return }
  if (qstable < 0) qstable = now
  if (now - qstable >= hold)
    publish("up", sprintf("loss %s %% <= %s %% and rtt %s ms <= %s ms, without a break for %.1f s", pct(qloss), rloss, ms(qrtt), ms(rrtt), now - qstable))
}
# replied X SEQ RTT: target X answered its probe SEQ. Its probes up to SEQ - SETTLE are settled:
# each answered one (its RTT kept in got[]) or lost, counted in this second's bucket.
function replied(x, seq, rtt,   s, k, b, p) {
  if (settled[x] < 0) settled[x] = seq - 1 # the first reply since a reset: earlier probes are not this window's
  if (seq <= settled[x]) {
    if (settled[x] - seq < 30000) return # later than SETTLE probes: it was counted lost
    # ping's 16-bit sequence number wrapped (every 2.7 hours at 0.15 s)
    for (k in got) { split(k, p, SUBSEP); if (p[1] == x) delete got[k] }
    settled[x] = seq - settle - 1
  }
  got[x, seq] = rtt
  b = int(now)
  for (s = settled[x] + 1; s <= seq - settle; s++) {
    k = x SUBSEP s
    if (s < 1) continue
    if (k in got) { qa[x, b]++; qr[x, b] += got[k]; delete got[k] } else ql[x, b]++
  }
  if (seq - settle > settled[x]) settled[x] = seq - settle
}
function qreset(   i, x, k) {
  for (k in got) delete got[k]
  for (k in qa) delete qa[k]
  for (k in ql) delete ql[k]
  for (k in qr) delete qr[k]
  for (i = 1; i <= nt; i++) settled[tg[i]] = -1
  qstart = now; qlow = int(now); qjudged = 0; qbad = 0; qgood = 0
}
function pct(r) { return sprintf("%.0f", r * 100) }
# seconds -> whole milliseconds. A target with no reply in the window has RTT NO_RTT: worse than
# any real one in kth(), never printed (mawk's %d would clip it to 2147483647).
function ms(r) { return sprintf("%.0f", r * 1000) }
# quality: the window's loss and RTT of the NEED-th best target (qloss, qrtt), whether they are
# judged yet, bad (qbad, qwhy) or good (qgood). Once a second.
function quality(   lo, b, i, x, a, l, r, ls, rs) {
  lo = int(now) - window # buckets after lo are in the window
  if (lo - qlow > 1000) qlow = lo
  for (; qlow <= lo; qlow++) for (i = 1; i <= nt; i++) { x = tg[i]; delete qa[x, qlow]; delete ql[x, qlow]; delete qr[x, qlow] }
  for (i = 1; i <= nt; i++) {
    x = tg[i]; a = 0; l = 0; r = 0
    for (b = lo + 1; b <= int(now); b++) {
      if ((x, b) in qa) { a += qa[x, b]; r += qr[x, b] }
      if ((x, b) in ql) l += ql[x, b]
    }
    ls[i] = (a + l > 0 ? l / (a + l) : 1); rs[i] = (a > 0 ? r / a : NO_RTT)
  }
  qloss = kth(ls, need); qrtt = kth(rs, need)
  qjudged = (now - qstart >= window / 2)
  qbad = qjudged && (qloss * 100 > dloss || qrtt > drtt)
  qgood = qjudged && qloss * 100 <= rloss && qrtt <= rrtt
  if (qloss * 100 > dloss) qwhy = sprintf("loss %s %% > %s %% over the last %d s (%s)", pct(qloss), dloss, window, qrtt < NO_RTT ? "rtt " ms(qrtt) " ms" : "no replies")
  else qwhy = sprintf("rtt %s ms > %s ms over the last %d s (loss %s %%)", ms(qrtt), ms(drtt), window, pct(qloss))
}
# kth(V, k): the k-th smallest of V[1..nt] (nt is at most 16).
function kth(v, k,   i, j, below) {
  for (i = 1; i <= nt; i++) {
    below = 0
    for (j = 1; j <= nt; j++) if (v[j] < v[i] || (v[j] == v[i] && j < i)) below++
    if (below == k - 1) return v[i]
  }
  return v[1]
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
  state = st; stable = -1; qstable = -1
  if (st == "down") qreset()
  # The switcher first: it acts on the line alone, so the three processes of the renames below are
  # not between a decision and the switch.
  printf "%s is %s: %s\n", wan, toupper(st), why
  fflush()
  p = run_dir "/." wan ".probe.new"; t = run_dir "/." wan ".track.new"
  printf "%s %.3f %s\n", st, now + off, why > p; close(p)
  print (st == "down" ? 1 : 0) > t; close(t)
  # The reason first, then the value keepalived reacts to.
  system("mv -f '" p "' '" run_dir "/" wan ".probe' && mv -f '" t "' '" run_dir "/" wan ".track'")
}

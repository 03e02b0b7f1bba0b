#!/bin/bash
# What edge-probe.service costs on a router: CPU over N seconds (default 30) per live process of the
# service, its own and its reaped children's (the `ip`, `nft`, `flock`, systemd-notify it starts),
# read from /proc: the lab routers' cgroup v1 keeps no per-service CPU account. On a lab router:
#   edge lab exec r1 -- bash -c "$(cat test/tools/probe-cpu.sh)"
N=${1:-30}
CG=$(systemctl show -p ControlGroup --value edge-probe)
[ -n "$CG" ] || { echo "edge-probe is not running"; exit 1; }
procs=/sys/fs/cgroup/systemd$CG/cgroup.procs
[ -r "$procs" ] || procs=/sys/fs/cgroup$CG/cgroup.procs
tck=$(getconf CLK_TCK)

# PID, own ticks (utime + stime), reaped children's ticks (cutime + cstime), command line
snap() {
  local p f
  while read -r p; do
    [ -r "/proc/$p/stat" ] || continue
    read -r -a f < <(sed 's/^.*) //' "/proc/$p/stat")
    echo "$p $((f[11] + f[12])) $((f[13] + f[14])) $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-60)"
  done <"$procs"
}

snap >/tmp/pc.a
sleep "$N"
snap >/tmp/pc.b
while read -r p own kids cmd; do
  read -r a_own a_kids < <(awk -v p="$p" '$1 == p { print $2, $3 }' /tmp/pc.a)
  [ -n "$a_own" ] || continue
  echo "$(((own - a_own) * 1000 / tck)) $(((kids - a_kids) * 1000 / tck)) $cmd"
done </tmp/pc.b | sort -k1 -n -r >/tmp/pc.c
awk -v n="$N" '{ o += $1; k += $2 } END { printf "edge-probe.service: %d ms own + %d ms reaped children in %d s = %.1f %% of a core\n", o, k, n, (o + k) / (n * 10) }' /tmp/pc.c
echo "  own ms, children ms, process:"
sed 's/^/  /' /tmp/pc.c | head -14

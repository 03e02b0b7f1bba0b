#!/usr/bin/env bash
# Host packages the tests use (a real sshd, nspawn routers, namespaces, DHCP, nftables). Installed
# with apt-get when missing and running as root; the integration tests skip themselves otherwise.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "prereqs: not root: integration tests will be skipped"; exit 0; }
command -v apt-get >/dev/null || { echo "prereqs: no apt-get; install the packages listed in README.md by hand"; exit 0; }
need=()
for p in debootstrap:debootstrap systemd-nspawn:systemd-container ip:iproute2 dnsmasq:dnsmasq-base radvd:radvd dhcpd:isc-dhcp-server \
         nft:nftables ssh-keygen:openssh-client sshd:openssh-server conntrack:conntrack ping:iputils-ping python3:python3-minimal \
         ansible-inventory:ansible-core keepalived:keepalived tmux:tmux zsh:zsh fish:fish groff:groff-base mawk:mawk \
         promtool:prometheus shellcheck:shellcheck faketime:faketime stress-ng:stress-ng; do
  cmd=${p%%:*}
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || need+=("${p##*:}")
done
# GNU time (the hostile-router test reads edge's peak RSS from it); `time` alone is bash's keyword
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
  echo "prereqs: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi

import type { Lab } from './lab-fixture.js';

/**
 * A fingerprint of everything edge may touch on a router: every file under /etc and
 * /usr/local/sbin with mode, owner and content hash, the kernel's routing and firewall state, and
 * the sysctl values. Two equal fingerprints mean the host is byte-for-byte the same where it matters.
 * edge's own bookkeeping (/var/lib/edge) is left out: snapshots are kept on purpose.
 */
export async function hostState(lab: Lab, router: string): Promise<string> {
  const script = [
    "find /etc /usr/local/sbin /usr/local/lib -xdev \\( -type f -o -type l \\) -printf '%p %m %u:%g %l\\n' | sort",
    'find /etc /usr/local/sbin /usr/local/lib -xdev -type f -print0 | sort -z | xargs -0 md5sum',
    'ip rule show',
    'ip -6 rule show',
    // Both families, sorted: the order of equal routes on different links follows link bring-up (a
    // reboot, a flap). Left out, because they follow the ISP's timing, not edge: routes learned from
    // its router advertisements (networkd marks them "proto ra"; the kernel's own SLAAC says "proto
    // kernel", but every one has a lifetime, "expires"), which come back some seconds after a reboot
    // or a link's return; and the unreachable route networkd adds for each prefix delegated to it.
    'ip route show table all | grep -v "^local\\|^broadcast\\|^multicast\\|^unreachable .* proto dhcp\\| proto ra \\| expires [0-9]*sec" | sort',
    'nft list ruleset',
    "sysctl -a 2>/dev/null | grep -E '^net\\.ipv4\\.(ip_forward|conf\\.(all|default)\\.)|^net\\.ipv6\\.conf\\.(all|default)\\.forwarding'",
    'systemctl is-enabled keepalived edge-routes edge-nftables 2>/dev/null || true',
    'systemctl is-active keepalived edge-routes edge-nftables 2>/dev/null || true',
  ].join('; echo ---; ');
  const r = await lab.run(router, ['bash', '-c', script]);
  return r.stdout;
}

/**
 * hostState plus what a reboot or a cut restore could leave behind: every directory under /etc and
 * /usr/local/sbin (mode, owner), the state of every unit edge touches (and its boot hook's unit),
 * and failed units. nftables packet counters are left out (they move with traffic).
 */
export async function managedFingerprint(lab: Lab, router: string): Promise<string> {
  const units = 'keepalived.service edge-routes.service edge-nftables.service edge-probe.service edge-boot-restore.service systemd-networkd.service';
  const script = [
    "find /etc /usr/local/sbin /usr/local/lib -xdev -type d -printf '%p %m %u:%g\\n' | sort",
    `for u in ${units}; do printf '%s %s %s\\n' "$u" "$(systemctl is-enabled $u 2>/dev/null)" "$(systemctl is-active $u 2>/dev/null)"; done`,
    'systemctl list-units --failed --plain --no-legend --no-pager | grep -v "^$" || true',
  ].join('; echo ---; ');
  const r = await lab.run(router, ['bash', '-c', script]);
  return `${(await hostState(lab, router)).replace(/counter packets \d+ bytes \d+/g, 'counter')}\n---\n${r.stdout}`;
}

/**
 * Every interface's own IPv4 and IPv6 conf values (net.ipv{4,6}.conf.IFACE.*), one "key = value"
 * line each, sorted: what a boot re-derives from `default` and hostState leaves out. Values the
 * kernel keeps moving by itself (IPv6's from router advertisements: hop limit, MTU, …) are left out.
 */
export async function ifaceSysctlState(lab: Lab, router: string): Promise<string> {
  const script =
    "sysctl -a 2>/dev/null | grep -E '^net\\.ipv[46]\\.conf\\.' | grep -vE '\\.(all|default)\\.|\\.(hop_limit|mtu|stable_secret)\\b' | sort";
  return (await lab.run(router, ['bash', '-c', script])).stdout;
}

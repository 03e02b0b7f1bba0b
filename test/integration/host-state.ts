import type { Lab } from './lab-fixture.js';

/**
 * A fingerprint of everything edge may touch on a router: every file under /etc and
 * /usr/local/sbin with mode, owner and content hash, the kernel's routing and firewall state, and
 * the sysctl values. Two equal fingerprints mean the host is byte-for-byte the same where it matters.
 * edge's own bookkeeping (/var/lib/edge) is left out: snapshots are kept on purpose.
 */
export async function hostState(lab: Lab, router: string): Promise<string> {
  const script = [
    "find /etc /usr/local/sbin -xdev \\( -type f -o -type l \\) -printf '%p %m %u:%g %l\\n' | sort",
    'find /etc /usr/local/sbin -xdev -type f -print0 | sort -z | xargs -0 md5sum',
    'ip rule show',
    // sorted: the order of equal routes on different links follows link bring-up (a reboot, a flap)
    'ip route show table all | grep -v "^local\\|^broadcast\\|^multicast" | sort',
    'nft list ruleset',
    "sysctl -a 2>/dev/null | grep -E '^net\\.ipv4\\.(ip_forward|conf\\.(all|default)\\.)'",
    'systemctl is-enabled keepalived edge-routes edge-nftables 2>/dev/null || true',
    'systemctl is-active keepalived edge-routes edge-nftables 2>/dev/null || true',
  ].join('; echo ---; ');
  const r = await lab.run(router, ['bash', '-c', script]);
  return r.stdout;
}

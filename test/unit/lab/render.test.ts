import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ALL_KINDS, DEFAULT_KIND, routerPlan } from '../../../src/lab/plan.js';
import { hostRouteConflicts, missingPackages } from '../../../src/lab/prereq.js';
import { dhcpOptions, dnsmasqArgs, knownHosts, renewScript, routerFiles } from '../../../src/lab/render.js';
import { baseKey, mirrorFromSources, rootfsKey } from '../../../src/lab/rootfs.js';
import { packagesIndex, releaseFile, REPO_SOURCES } from '../../../src/lab/repo.js';

const r = routerPlan(4);

describe("a router's disk", () => {
  const files = routerFiles(r, 'ab'.repeat(16), DEFAULT_KIND);
  const file = (p: string) => files.find((f) => f.path === p)?.content ?? '';

  it('names the router and gives it its own machine id', () => {
    expect(file('etc/hostname')).toBe('r4\n');
    expect(file('etc/machine-id')).toBe(`${'ab'.repeat(16)}\n`);
    expect(file('etc/hosts')).toContain('127.0.1.1\tr4');
  });

  it('configures the links with systemd-networkd: mgmt static without gateway, wan1 DHCP, wan2 static with gateway, lan static', () => {
    expect(file('etc/systemd/network/10-mgmt0.network')).toContain('Address=198.18.0.14/24');
    expect(file('etc/systemd/network/10-mgmt0.network')).not.toMatch(/Gateway/);
    const wan1 = file('etc/systemd/network/20-wan1.network');
    expect(wan1).toContain('DHCP=yes');
    expect(wan1).toContain('IPv6AcceptRA=yes');
    expect(wan1).toContain('PrefixDelegationHint=::/56');
    expect(wan1).toContain('RouteMetric=100');
    const wan2 = file('etc/systemd/network/30-wan2.network');
    expect(wan2).toContain('Address=203.0.113.34/29');
    expect(wan2).toContain('Gateway=203.0.113.33');
    expect(wan2).toContain('Metric=200');
    expect(file('etc/systemd/network/40-lan0.network')).toContain('Address=10.4.0.1/24');
  });

  it('carries nothing of the failover design', () => {
    const all = files.map((f) => f.content).join('\n');
    expect(all).not.toMatch(/IPForward|IPMasquerade|RoutingPolicyRule|Table=|nft|keepalived/);
  });
});

describe("an ifupdown router's disk", () => {
  const files = routerFiles(r, 'ab'.repeat(16), { release: 'trixie', net: 'ifupdown' });
  const interfaces = files.find((f) => f.path === 'etc/network/interfaces')?.content ?? '';

  it('configures the same links in /etc/network/interfaces, and no networkd file', () => {
    expect(files.map((f) => f.path)).toEqual(['etc/hostname', 'etc/hosts', 'etc/machine-id', 'etc/network/interfaces', 'etc/dhcpcd.conf']);
    // IPv6: SLAAC by the kernel on trixie; dhcpcd kept to IPv4; bookworm asks dhclient -6 for a prefix
    expect(interfaces).toContain('iface wan1 inet6 auto\n\taccept_ra 2\n');
    expect(files.find((f) => f.path === 'etc/dhcpcd.conf')?.content).toMatch(/^ipv4only$/m);
    const bookworm = routerFiles(r, 'ab'.repeat(16), { release: 'bookworm', net: 'ifupdown' }).find((f) => f.path === 'etc/network/interfaces')!.content;
    expect(bookworm).toContain('iface wan2 inet6 dhcp\n\taccept_ra 2\n\trequest_prefix 1\n');
    // auto, not allow-hotplug: a container has no udev to send the hotplug events
    expect(interfaces).not.toMatch(/allow-hotplug/);
    expect(interfaces).toContain('auto mgmt0\niface mgmt0 inet static\n\taddress 198.18.0.14/24\n');
    expect(interfaces).toContain('auto wan1\niface wan1 inet dhcp\n\tmetric 100\n');
    expect(interfaces).toContain('auto wan2\niface wan2 inet static\n\taddress 203.0.113.34/29\n\tgateway 203.0.113.33\n\tmetric 200\n');
    expect(interfaces).toContain('auto lan0\niface lan0 inet static\n\taddress 10.4.0.1/24\n');
    expect(interfaces).not.toMatch(/gateway 198\.18|nft|keepalived/);
  });
});

describe('renewing the WAN1 lease', () => {
  it('uses the way of each DHCP client, in valid bash', () => {
    expect(renewScript({ release: 'bookworm', net: 'networkd' })).toBe('networkctl renew wan1');
    expect(renewScript({ release: 'trixie', net: 'networkd' })).toBe('networkctl renew wan1');
    expect(renewScript({ release: 'trixie', net: 'ifupdown' })).toBe('dhcpcd -n wan1');
    const dhclient = renewScript({ release: 'bookworm', net: 'ifupdown' });
    // release and bind again with the arguments ifupdown started dhclient with
    expect(dhclient).toContain('pid=$(cat /run/dhclient.wan1.pid)');
    expect(dhclient).toContain('"${argv[@]}" -r\n"${argv[@]}"');
    for (const k of ALL_KINDS) expect(spawnSync('bash', ['-n'], { input: renewScript(k) }).status).toBe(0);
  });
});

describe('ISP1 DHCP server', () => {
  it('serves the pool with a short lease and the chosen gateway', () => {
    const args = dnsmasqArgs(r, { leases: '/x/l', opts: '/x/o', pid: '/x/p' });
    expect(args).toContain('--dhcp-range=198.51.100.35,198.51.100.38,255.255.255.248,2m');
    expect(args).toContain('--port=0');
    expect(args).toContain('--interface=down0');
    expect(args).toContain('--dhcp-optsfile=/x/o');
    expect(dhcpOptions(r, 'primary')).toBe('option:router,198.51.100.33\n');
    expect(dhcpOptions(r, 'alternate')).toBe('option:router,198.51.100.34\n');
  });
});

describe('known_hosts', () => {
  it('pins each router key to its management address (comment dropped)', () => {
    expect(knownHosts([{ address: '198.18.0.11', publicKey: 'ssh-ed25519 AAAAkey root@r1\n' }])).toBe('198.18.0.11 ssh-ed25519 AAAAkey\n');
  });
});

describe('router image', () => {
  it('reads the Debian mirror from deb822 and one-line sources, skipping security mirrors', () => {
    const deb822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
`;
    expect(mirrorFromSources([{ name: '/etc/apt/sources.list.d/debian.sources', text: deb822 }])).toBe('http://deb.debian.org/debian');
    const list = `# deb http://old/debian bookworm main
deb http://security.debian.org/debian-security bookworm-security main
deb [arch=amd64] http://mirror.example/debian/ bookworm main contrib
`;
    expect(mirrorFromSources([{ name: '/etc/apt/sources.list', text: list }])).toBe('http://mirror.example/debian');
    const disabled = 'Types: deb\nURIs: http://a/debian\nSuites: bookworm\nEnabled: no\n';
    expect(mirrorFromSources([{ name: 'x.sources', text: disabled }])).toBeUndefined();
    expect(mirrorFromSources([{ name: 'y.list', text: 'deb https://deb.nodesource.com/node_20.x nodistro main\n' }])).toBeUndefined();
  });

  it('keys the cache by the recipe: one image per kind, the networkd ones unchanged by the ifupdown recipe', () => {
    // The bookworm debootstrap (its key moves only with its package list or recipe); the networkd
    // image is it with the lab's apt repository.
    expect(baseKey()).toBe('rootfs-bookworm-3776f8e6c2');
    expect(rootfsKey()).toMatch(/^rootfs-bookworm-repo-[0-9a-f]{10}$/);
    expect(rootfsKey(DEFAULT_KIND)).toBe(rootfsKey());
    const keys = ALL_KINDS.map(rootfsKey);
    expect(new Set(keys).size).toBe(4);
    expect(keys[2]).toMatch(/^rootfs-trixie-repo-[0-9a-f]{10}$/);
    expect(keys[1]).toMatch(/^rootfs-bookworm-ifupdown-[0-9a-f]{10}$/);
    expect(keys[3]).toMatch(/^rootfs-trixie-ifupdown-[0-9a-f]{10}$/);
  });
});

describe("the lab's apt repository", () => {
  it('indexes each .deb with where it is and its hashes, and the Release file holds the index\'s', () => {
    const deb = (name: string, pkg: string) => ({ name, control: `Package: ${pkg}\nVersion: 1\n`, size: 10, md5: 'm'.repeat(32), sha256: 's'.repeat(64) });
    const index = packagesIndex([deb('b_1_all.deb', 'b'), deb('a_1_amd64.deb', 'a')]);
    expect(index).toBe(
      `Package: a\nVersion: 1\nFilename: ./a_1_amd64.deb\nSize: 10\nMD5sum: ${'m'.repeat(32)}\nSHA256: ${'s'.repeat(64)}\n\n` +
        `Package: b\nVersion: 1\nFilename: ./b_1_all.deb\nSize: 10\nMD5sum: ${'m'.repeat(32)}\nSHA256: ${'s'.repeat(64)}\n`,
    );
    const sha = createHash('sha256').update(index).digest('hex');
    const release = releaseFile(index, new Date(Date.UTC(2026, 11, 7, 5, 0, 0)));
    expect(release).toContain('Date: Mon, 07 Dec 2026 05:00:00 GMT\n');
    expect(release).toContain(`SHA256:\n ${sha} ${Buffer.byteLength(index)} Packages\n`);
    expect(REPO_SOURCES).toMatch(/^deb \[trusted=yes\] file:\/srv\/edge-lab-repo \.\/$/m);
  });
});

describe('host checks', () => {
  it('lists the packages for missing tools once each', () => {
    expect(missingPackages((t) => !['ssh', 'ssh-keygen', 'dnsmasq'].includes(t))).toEqual({
      tools: ['dnsmasq', 'ssh-keygen', 'ssh'],
      pkgs: ['dnsmasq-base', 'openssh-client'],
    });
    expect(missingPackages(() => true).pkgs).toEqual([]);
  });

  it('finds host routes that clash with the management subnet, ignoring lab links and the default route', () => {
    const routes = [
      { dst: 'default', dev: 'eth0' },
      { dst: '192.0.2.0/24', dev: 'eth0' },
      { dst: '198.18.0.0/24', dev: 'elab-mgmt' },
      { dst: '198.18.0.0/16', dev: 'vpn0' },
    ];
    expect(hostRouteConflicts(routes, '198.18.0.0/24', 'elab')).toEqual(['198.18.0.0/16 dev vpn0']);
    expect(hostRouteConflicts(routes.slice(0, 3), '198.18.0.0/24', 'elab')).toEqual([]);
  });
});

/**
 * Pure text renderers for the lab: a router's network configuration (systemd-networkd files or
 * /etc/network/interfaces, by its kind) and identity files, how it renews its WAN1 lease, the
 * ISP1 DHCP server's command line and options, and the small helper programs the lab runs in its
 * namespaces (the internet's whoami service, the LAN client's probe, the ISP's latency delayer).
 */
import type { IspLink, RouterKind, RouterPlan } from './plan.js';
import { ISP_IFS, ROUTER_IFS, dhcpClientOf } from './plan.js';

/** Metrics of the two default routes in the router's main table: WAN1 preferred. */
export const WAN1_METRIC = 100;
export const WAN2_METRIC = 200;
/** dnsmasq's minimum; the router renews at half of it (T1 = 1 min). */
export const DHCP_LEASE = '2m';

type RouterFile = { path: string; content: string; mode: number };

/** Files written into the router's overlay upper dir before its first boot (path relative to /). */
export function routerFiles(r: RouterPlan, machineId: string, kind: RouterKind): RouterFile[] {
  return [
    { path: 'etc/hostname', content: `${r.name}\n`, mode: 0o644 },
    {
      path: 'etc/hosts',
      content: `127.0.0.1\tlocalhost\n127.0.1.1\t${r.name}\n::1\t\tlocalhost ip6-localhost ip6-loopback\n`,
      mode: 0o644,
    },
    { path: 'etc/machine-id', content: `${machineId}\n`, mode: 0o444 },
    ...(kind.net === 'networkd' ? networkdFiles(r) : [ifupdownInterfaces(r, kind)]),
    ...(dhcpClientOf(kind) === 'dhcpcd' ? [{ path: 'etc/dhcpcd.conf', content: '# edge lab: dhcpcd does IPv4 only (see v6ClientIfupdown)\nipv4only\n', mode: 0o644 }] : []),
  ];
}

/** A WAN's IPv6 client settings (networkd): the RA default route's metric, and ask for a /56. */
const V6_CLIENT_NETWORKD = (metric: number) => `
[DHCPv6]
PrefixDelegationHint=::/56
UseDNS=no
UseNTP=no

[IPv6AcceptRA]
RouteMetric=${metric}
UseDNS=no
`;

/**
 * The same with ifupdown, as each release's client does it:
 *  - bookworm: `inet6 dhcp` runs dhclient -6 -P -N (address and delegated prefix); RAs are taken
 *    even with forwarding on (accept_ra 2);
 *  - trixie: SLAAC by the kernel (`inet6 auto`, accept_ra 2), and dhcpcd — which `inet dhcp` starts
 *    and which would do IPv6 too — kept to IPv4 (dhcpcd.conf `ipv4only`): with DHCPv6 on the same
 *    link, each rebind (`dhcpcd -n`, the lab's gateway change) restarts the DHCPv6 exchange first and
 *    its IPv4 lease came late or not at all. trixie's ifupdown has no DHCPv6 method for dhcpcd
 *    ("No DHCPv6 client software found"), so a trixie ifupdown router gets no delegated prefix.
 */
function v6ClientIfupdown(kind: RouterKind, wan: string): string {
  if (kind.release === 'bookworm') return `iface ${wan} inet6 dhcp\n\taccept_ra 2\n\trequest_prefix 1\n`;
  return `iface ${wan} inet6 auto\n\taccept_ra 2\n`;
}

function networkdFiles(r: RouterPlan): RouterFile[] {
  const net = (name: string, body: string) => ({ path: `etc/systemd/network/${name}.network`, content: body, mode: 0o644 });
  return [
    net(
      `10-${ROUTER_IFS.mgmt}`,
      `# Management: static, no gateway (reached from the lab host over the management bridge).
[Match]
Name=${ROUTER_IFS.mgmt}

[Network]
Address=${r.mgmt.address}/${r.mgmt.prefixLen}
`,
    ),
    net(
      `20-${ROUTER_IFS.wan1}`,
      `# WAN1: DHCP from ISP1; the lease carries the gateway (default route in main, preferred).
# IPv6: SLAAC and a default route from ISP1's router advertisements, an address and a delegated
# prefix from its DHCPv6 server.
[Match]
Name=${ROUTER_IFS.wan1}

[Network]
DHCP=yes
IPv6AcceptRA=yes

[DHCPv4]
RouteMetric=${WAN1_METRIC}
UseDNS=no
UseNTP=no
UseHostname=no
${V6_CLIENT_NETWORKD(WAN1_METRIC)}`,
    ),
    net(
      `30-${ROUTER_IFS.wan2}`,
      `# WAN2: static address and gateway from ISP2 (default route in main, less preferred).
# IPv6 as on WAN1: router advertisements, DHCPv6 address and delegated prefix.
[Match]
Name=${ROUTER_IFS.wan2}

[Network]
Address=${r.isp2.routerAddress}/${r.isp2.prefixLen}
DHCP=ipv6
IPv6AcceptRA=yes

[Route]
Gateway=${r.isp2.gateway}
Metric=${WAN2_METRIC}
${V6_CLIENT_NETWORKD(WAN2_METRIC)}`,
    ),
    net(
      `40-${ROUTER_IFS.lan}`,
      `# LAN
[Match]
Name=${ROUTER_IFS.lan}

[Network]
Address=${r.lan.router}/${r.lan.prefixLen}
`,
    ),
  ];
}

/**
 * The same links as ifupdown configures them (what Debian's installer writes, with `auto` rather
 * than `allow-hotplug`: a container has no udev to send hotplug events). WAN1's `inet dhcp` runs
 * the release's DHCP client (ifupdown picks whichever is installed); `metric` sets the default
 * route's metric for either client.
 */
function ifupdownInterfaces(r: RouterPlan, kind: RouterKind): RouterFile {
  const content = `# interfaces(5) file used by ifup(8) and ifdown(8)
source /etc/network/interfaces.d/*

auto lo
iface lo inet loopback

# Management: static, no gateway (reached from the lab host over the management bridge).
auto ${ROUTER_IFS.mgmt}
iface ${ROUTER_IFS.mgmt} inet static
	address ${r.mgmt.address}/${r.mgmt.prefixLen}

# WAN1: DHCP from ISP1; the lease carries the gateway (default route in main, preferred).
auto ${ROUTER_IFS.wan1}
iface ${ROUTER_IFS.wan1} inet dhcp
	metric ${WAN1_METRIC}
${v6ClientIfupdown(kind, ROUTER_IFS.wan1)}
# WAN2: static address and gateway from ISP2 (default route in main, less preferred).
auto ${ROUTER_IFS.wan2}
iface ${ROUTER_IFS.wan2} inet static
	address ${r.isp2.routerAddress}/${r.isp2.prefixLen}
	gateway ${r.isp2.gateway}
	metric ${WAN2_METRIC}
${v6ClientIfupdown(kind, ROUTER_IFS.wan2)}
# LAN
auto ${ROUTER_IFS.lan}
iface ${ROUTER_IFS.lan} inet static
	address ${r.lan.router}/${r.lan.prefixLen}
`;
  return { path: 'etc/network/interfaces', content, mode: 0o644 };
}

/**
 * The command (run inside the router, by bash) that makes it ask ISP1 for its lease again now:
 *  - systemd-networkd: `networkctl renew`;
 *  - dhcpcd: `dhcpcd -n` (rebind), which takes the new lease's gateway;
 *  - dhclient: a renewal that keeps the address keeps the old gateway (its dhclient-script only
 *    sets routes for a new address or a fresh bind), so the client releases its lease and binds
 *    again, run with the very arguments ifupdown started it with (read from its pid file).
 */
export function renewScript(kind: RouterKind): string {
  const dev = ROUTER_IFS.wan1;
  switch (dhcpClientOf(kind)) {
    case 'systemd-networkd':
      return `networkctl renew ${dev}`;
    case 'dhcpcd':
      return `dhcpcd -n ${dev}`;
    case 'dhclient':
      return [
        'set -e',
        `pid=$(cat /run/dhclient.${dev}.pid)`,
        `mapfile -d '' argv < "/proc/$pid/cmdline"`,
        // dhclient takes options after the interface too (ifupdown appends -e IF_METRIC=… there)
        '"${argv[@]}" -r',
        '"${argv[@]}"',
      ].join('\n');
  }
}

/**
 * A WAN link reconnecting, as far as IPv6 goes (the lab's ISP renumbering, systemd-networkd routers
 * only): networkd configures the link afresh (its DHCPv6 client solicits anew; its DHCPv4 lease is
 * lost and taken again).
 */
export function reconnect6Script(dev: string): string {
  return `networkctl reconfigure ${dev}`;
}

export function gatewayOf(r: RouterPlan, which: 'primary' | 'alternate'): string {
  return which === 'primary' ? r.isp1.gateway : r.isp1.altGateway!;
}

/** dnsmasq's option file (re-read on SIGHUP): the gateway the lease carries. */
export function dhcpOptions(r: RouterPlan, which: 'primary' | 'alternate'): string {
  return `option:router,${gatewayOf(r, which)}\n`;
}

/** dnsmasq as a DHCP-only server on ISP1's router-facing link (DNS off, nothing read from /etc). */
export function dnsmasqArgs(r: RouterPlan, files: { leases: string; opts: string; pid: string }): string[] {
  const [from, to] = r.isp1.pool!;
  return [
    'dnsmasq',
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-hosts',
    '--no-resolv',
    '--port=0',
    '--user=root',
    '--group=root',
    `--interface=${ISP_IFS.down}`,
    '--bind-interfaces',
    `--dhcp-range=${from},${to},${r.isp1.netmask},${DHCP_LEASE}`,
    '--dhcp-authoritative',
    `--dhcp-leasefile=${files.leases}`,
    `--dhcp-optsfile=${files.opts}`,
    `--pid-file=${files.pid}`,
    '--log-dhcp',
    '--log-facility=-',
  ];
}

/** How long the ISPs' IPv6 leases and advertisements last (short, so a lab change is followed soon). */
export const V6_LEASE_S = 600;

/**
 * radvd on the ISP's router-facing link: the link's /64 for SLAAC, the M flag so the router asks
 * DHCPv6 for an address and a prefix, frequent unsolicited advertisements (a router that missed one
 * learns its default route within seconds) and a default-router lifetime a cut does not outlive.
 */
export function radvdConf(isp: IspLink): string {
  return `# edge lab: ISP router advertisements (${isp.ns})
interface ${ISP_IFS.down} {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 10;
  AdvManagedFlag on;
  AdvOtherConfigFlag on;
  AdvDefaultLifetime 1800;
  prefix ${isp.v6.link} {
    AdvOnLink on;
    AdvAutonomous on;
    AdvValidLifetime ${2 * V6_LEASE_S};
    AdvPreferredLifetime ${V6_LEASE_S};
  };
};
`;
}

/**
 * ISC dhcpd in DHCPv6 mode: an address from the link's pool (IA_NA) and one delegated /56 (IA_PD).
 * The pool holds exactly one prefix, so the ISP can route it statically to the router.
 */
export function dhcpd6Conf(isp: IspLink, which: 'primary' | 'alternate'): string {
  const pd = (which === 'primary' ? isp.v6.delegated : isp.v6.altDelegated).split('/');
  return `# edge lab: ISP DHCPv6 (${isp.ns}); delegates ${pd.join('/')}
default-lease-time ${V6_LEASE_S};
preferred-lifetime ${V6_LEASE_S};
max-lease-time ${2 * V6_LEASE_S};
authoritative;
subnet6 ${isp.v6.link} {
  range6 ${isp.v6.pool[0]} ${isp.v6.pool[1]};
  prefix6 ${pd[0]} ${pd[0]} /${pd[1]};
}
`;
}

/**
 * The internet's TCP service: answers each connection with the source address:port it saw
 * ([address]:port for IPv6), then closes. Listens on each host given (IPv4 and IPv6).
 */
export const WHOAMI_JS = `// edge lab: whoami service (runs in the lab's internet namespace)
import net from 'node:net';
const port = Number(process.argv[2]);
for (const host of process.argv.slice(3)) {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    const a = s.remoteAddress || '';
    s.end(\`\${a.includes(':') && !a.startsWith('::ffff:') ? \`[\${a}]\` : a}:\${s.remotePort}\\n\`);
  });
  server.on('error', (e) => { console.error(e.message); process.exit(1); });
  server.listen({ host, port, ipv6Only: true }, () => console.log(\`whoami listening on \${host}:\${port}\`));
}
`;

/**
 * The LAN client's probe: N fresh TCP connections per family (one after the other, each a new flow
 * with a new source port) to the whoami service's IPv4 and IPv6 addresses (the two series at once),
 * and one ping per target of each family (in parallel). Prints one JSON line.
 */
export const PROBE_CLIENT_JS = `// edge lab: probe (runs in a router's LAN client namespace)
import net from 'node:net';
import { execFile } from 'node:child_process';
const cfg = JSON.parse(process.argv[2]);
function tcp(host) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
    const s = net.connect({ host, port: cfg.port });
    let data = '';
    let localPort;
    const done = (r) => { clearTimeout(timer); s.destroy(); resolve({ localPort, ms: Math.round(ms() * 10) / 10, ...r }); };
    const timer = setTimeout(() => done({ error: 'timeout' }), cfg.timeoutMs);
    s.on('connect', () => { localPort = s.localPort; });
    s.setEncoding('utf8');
    s.on('data', (d) => { data += d; });
    s.on('end', () => done({ seen: data.trim() }));
    s.on('error', (e) => done({ error: e.code || e.message }));
  });
}
function ping(target) {
  return new Promise((resolve) => {
    execFile('ping', ['-n', '-c', '1', '-W', String(cfg.pingTimeoutS), target], { timeout: (cfg.pingTimeoutS + 2) * 1000 }, (err, stdout) => {
      const m = /time=([0-9.]+) ms/.exec(stdout || '');
      resolve({ target, ok: !err && !!m, ms: m ? Number(m[1]) : undefined });
    });
  });
}
async function series(host) {
  const flows = [];
  for (let i = 0; i < cfg.count; i++) flows.push(await tcp(host));
  return flows;
}
const [ping4, ping6, tcp4, tcp6] = await Promise.all([
  Promise.all(cfg.targets.map(ping)),
  Promise.all(cfg.targets6.map(ping)),
  series(cfg.host),
  series(cfg.host6),
]);
console.log(JSON.stringify({ tcp: tcp4, ping: ping4, tcp6, ping6 }));
`;

/**
 * Latency without netem (this kernel has none): a tun device in the ISP namespace that the ISP
 * routes the router's traffic through; this program holds each packet for the delay, then writes
 * it back, and the ISP forwards it on. One direction only, so the round trip grows by the delay.
 */
export const LATENCY_PY = `# edge lab: latency delayer (runs in an ISP namespace)
# usage: latency.py --ns=NAMESPACE TUN_NAME DELAY_MS   (--ns only tags the command line)
import fcntl, os, select, struct, sys, time, heapq, signal
name, delay = sys.argv[2], int(sys.argv[3]) / 1000.0
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454ca, 0x0001, 0x1000
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), IFF_TUN | IFF_NO_PI))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f'delaying packets through {name} by {delay * 1000:.0f} ms', flush=True)
queue, seq = [], 0
while True:
    timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
    r, _, _ = select.select([fd], [], [], timeout)
    if r:
        pkt = os.read(fd, 65536)
        heapq.heappush(queue, (time.monotonic() + delay, seq, pkt)); seq += 1
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        try:
            os.write(fd, heapq.heappop(queue)[2])
        except OSError:
            pass
`;

/** known_hosts lines for the routers' host keys (by management address). */
export function knownHosts(entries: { address: string; publicKey: string }[]): string {
  return entries.map((e) => `${e.address} ${e.publicKey.trim().split(/\s+/).slice(0, 2).join(' ')}\n`).join('');
}

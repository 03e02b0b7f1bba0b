/**
 * The lab's address plan and names (pure).
 *
 * Every object the lab creates carries the lab prefix (`elab` for the default lab, `elabK` for the
 * isolated instance K that tests use), so `lab down` can find it even when the state file is gone.
 * Addresses come only from the ranges in shared/lab.md:
 *
 *   management  198.18.K.0/24     host bridge `elab-mgmt` = .1, router N = .(10+N)
 *   ISP1 link   198.51.100.(8N)/29  ISP1 .8N+1 (gateway), .8N+2 (alternative gateway), DHCP pool .8N+3-.8N+6
 *   ISP2 link   203.0.113.(8N)/29   ISP2 .8N+1 (gateway), router wan2 .8N+2 (static)
 *   uplinks     198.19.N.0/30 (ISP1: inet .1, isp .2), 198.19.N.4/30 (ISP2: inet .5, isp .6)
 *   internet    192.0.2.1-3 health targets, whoami TCP service 192.0.2.80:80 (loopback of `elab-inet`)
 *   LAN         10.N.0.0/24       router lan0 .1, client .100
 *
 * IPv6 (h = N in hex; only 2001:db8::/32 and fd00::/8, see shared/lab.md):
 *   ISP1 link   2001:db8:1:h::/64   ISP1 ::1 (router advertisements, DHCPv6 addresses ::100-::1ff)
 *   ISP1 PD     2001:db8:11:h00::/56 delegated to the router (2001:db8:12:h00::/56 after `lab prefix`)
 *   ISP2 link   2001:db8:2:h::/64   ISP2 ::1; PD 2001:db8:21:h00::/56 (2001:db8:22:h00::/56)
 *   uplinks     fd00:19:h:1::/64 (ISP1: inet ::1, isp ::2), fd00:19:h:2::/64 (ISP2)
 *   internet    2001:db8:ffff::1-3 health targets, whoami [2001:db8:ffff::80]:80
 *   LAN         fd00:10:h::/64 is the lab inventory's translated LAN prefix; the client takes its
 *               address by SLAAC from whatever the router advertises
 *
 * Router N ≤ 30 (31 /29s in each ISP /24; .0/29 is left unused). Instance K ≤ 9.
 */
import { EdgeError } from '../errors.js';
import { containsAddress6, isUla, linkLocalOfMac } from '../ipv6.js';

export const MAX_ROUTERS = 30;
export const MAX_INSTANCE = 9;
export const DEFAULT_ROUTERS = 3;

export const ROUTER_IFS = { mgmt: 'mgmt0', wan1: 'wan1', wan2: 'wan2', lan: 'lan0' } as const;
/** Interface names inside the ISP namespaces and the LAN client namespace. */
export const ISP_IFS = { down: 'down0', up: 'up0', delay: 'dly0' } as const;
export const CLIENT_IF = 'eth0';
/** Routing table the ISP uses to send router traffic through the latency tun (only while a latency fault is on). */
export const ISP_DELAY_TABLE = 100;

/**
 * What a router runs: its Debian release and how its links are configured. `networkd` is
 * systemd-networkd (.network files); `ifupdown` is /etc/network/interfaces with the release's
 * default DHCP client, as Debian's installer leaves it (isc-dhcp-client on bookworm, dhcpcd-base
 * on trixie, where it replaced the ISC client as the installed one).
 */
export const RELEASES = ['bookworm', 'trixie'] as const;
export type Release = (typeof RELEASES)[number];
export const NET_SETUPS = ['networkd', 'ifupdown'] as const;
export type NetSetup = (typeof NET_SETUPS)[number];
export interface RouterKind {
  release: Release;
  net: NetSetup;
}
export const DEFAULT_KIND: RouterKind = { release: 'bookworm', net: 'networkd' };
/** One router of each kind, in the order `--kinds all` assigns them. */
export const ALL_KINDS: RouterKind[] = RELEASES.flatMap((release) => NET_SETUPS.map((net) => ({ release, net })));

/** The DHCP client a router's WAN1 lease comes from (the program name). */
export type DhcpClient = 'systemd-networkd' | 'dhclient' | 'dhcpcd';
export function dhcpClientOf(k: RouterKind): DhcpClient {
  if (k.net === 'networkd') return 'systemd-networkd';
  return k.release === 'bookworm' ? 'dhclient' : 'dhcpcd';
}

export function kindName(k: RouterKind): string {
  return `${k.release}-${k.net}`;
}

export function sameKind(a: RouterKind, b: RouterKind): boolean {
  return a.release === b.release && a.net === b.net;
}

/** `--release R --net N` → the kind (usage errors name the valid values). */
export function kindOf(release: string = DEFAULT_KIND.release, net: string = DEFAULT_KIND.net): RouterKind {
  const r = RELEASES.find((x) => x === release);
  if (!r) throw new EdgeError('USAGE', `--release must be ${RELEASES.join(' or ')}, got '${release}'`);
  const n = NET_SETUPS.find((x) => x === net);
  if (!n) throw new EdgeError('USAGE', `--net must be ${NET_SETUPS.join(' or ')}, got '${net}'`);
  return { release: r, net: n };
}

/** `trixie-ifupdown` → a kind; anything else is a usage error naming the valid ones. */
export function parseKind(s: string): RouterKind {
  const k = ALL_KINDS.find((x) => kindName(x) === s);
  if (!k) throw new EdgeError('USAGE', `expected a router kind (${ALL_KINDS.map(kindName).join(', ')}), got '${s}'`);
  return { ...k };
}

/**
 * `--kinds` (comma-separated kinds, or `all` for one of each) → the kind of each of `routers`
 * routers: r1 takes the first, r2 the second…, repeating the list when it is shorter.
 */
export function parseKinds(spec: string): RouterKind[] {
  if (spec === 'all') return ALL_KINDS.map((k) => ({ ...k }));
  const words = spec.split(',').map((w) => w.trim());
  if (words.some((w) => w === '')) throw new EdgeError('USAGE', `--kinds has an empty entry: '${spec}'`);
  return words.map(parseKind);
}

export function kindOfRouter(kinds: RouterKind[], index: number): RouterKind {
  return { ...(kinds.length ? kinds[(index - 1) % kinds.length]! : DEFAULT_KIND) };
}

export type Wan = 'wan1' | 'wan2';
export const WANS: readonly Wan[] = ['wan1', 'wan2'];

export interface IspLink {
  ns: string;
  /** The link between router and ISP, e.g. 198.51.100.8/29. */
  subnet: string;
  prefixLen: number;
  /** The ISP's address on the link (the router's gateway). */
  gateway: string;
  /** Second ISP address, handed out by DHCP after `lab gateway` (ISP1 only). */
  altGateway?: string;
  /** Router's static address (ISP2) or DHCP pool (ISP1). */
  routerAddress?: string;
  pool?: [string, string];
  netmask: string;
  /** The /30 between this ISP and the internet namespace. */
  uplink: { subnet: string; inet: string; isp: string; inetIf: string };
  v6: IspLink6;
}

/** The ISP's IPv6: router advertisements and DHCPv6 (addresses and a delegated prefix) on the link. */
export interface IspLink6 {
  /** The link's /64 (advertised for SLAAC; DHCPv6 addresses come from `pool`). */
  link: string;
  gateway: string;
  pool: [string, string];
  /** The prefix DHCPv6-PD delegates to the router, and the one it delegates after `lab prefix`. */
  delegated: string;
  altDelegated: string;
  /** The router's link-local address on this link (EUI-64 of its fixed MAC): where the ISP routes the delegated prefix. */
  routerLinkLocal: string;
  uplink: { subnet: string; inet: string; isp: string };
}

export interface RouterPlan {
  index: number;
  name: string; // r1
  machine: string; // elab-r1
  ns: string; // elab-r1
  lanNs: string; // elab-r1-lan
  hostVeth: string; // elab-r1-m (root namespace end of mgmt0, enslaved to the bridge)
  mgmt: { address: string; prefixLen: number };
  isp1: IspLink;
  isp2: IspLink;
  lan: { subnet: string; router: string; client: string; prefixLen: number; ula: string };
}

export interface LabPlan {
  instance: number;
  prefix: string; // elab
  bridge: string; // elab-mgmt
  hostMgmt: string; // 198.18.0.1
  mgmtSubnet: string; // 198.18.0.0/24
  inetNs: string; // elab-inet
  targets: string[];
  whoami: { address: string; port: number };
  targets6: string[];
  whoami6: { address: string; port: number };
  routers: RouterPlan[];
}

export const TARGETS = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
export const WHOAMI = { address: '192.0.2.80', port: 80 };
export const TARGETS6 = ['2001:db8:ffff::1', '2001:db8:ffff::2', '2001:db8:ffff::3'];
export const WHOAMI6 = { address: '2001:db8:ffff::80', port: 80 };

export function labPrefix(instance: number): string {
  checkInstance(instance);
  return instance === 0 ? 'elab' : `elab${instance}`;
}

function checkInstance(instance: number): void {
  if (!Number.isInteger(instance) || instance < 0 || instance > MAX_INSTANCE)
    throw new EdgeError('USAGE', `lab instance must be an integer 0-${MAX_INSTANCE}, got ${instance}`);
}

export function checkRouterCount(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_ROUTERS)
    throw new EdgeError('USAGE', `--routers must be an integer 1-${MAX_ROUTERS}, got ${n}`);
}

export function routerPlan(index: number, instance = 0): RouterPlan {
  if (!Number.isInteger(index) || index < 1 || index > MAX_ROUTERS)
    throw new EdgeError('USAGE', `router index must be 1-${MAX_ROUTERS}, got ${index}`);
  const p = labPrefix(instance);
  const name = `r${index}`;
  const base = 8 * index;
  const ns = `${p}-${name}`;
  const h = index.toString(16);
  const v6 = (isp: 1 | 2): IspLink6 => ({
    link: `2001:db8:${isp}:${h}::/64`,
    gateway: `2001:db8:${isp}:${h}::1`,
    pool: [`2001:db8:${isp}:${h}::100`, `2001:db8:${isp}:${h}::1ff`],
    delegated: `2001:db8:${isp}1:${h}00::/56`,
    altDelegated: `2001:db8:${isp}2:${h}00::/56`,
    routerLinkLocal: linkLocalOfMac(macOfIndex(index, instance, isp === 1 ? 'wan1' : 'wan2', 'router')),
    uplink: { subnet: `fd00:19:${h}:${isp}::/64`, inet: `fd00:19:${h}:${isp}::1`, isp: `fd00:19:${h}:${isp}::2` },
  });
  return {
    index,
    name,
    machine: ns,
    ns,
    lanNs: `${ns}-lan`,
    hostVeth: `${ns}-m`,
    mgmt: { address: `198.18.${instance}.${10 + index}`, prefixLen: 24 },
    isp1: {
      ns: `${ns}-isp1`,
      subnet: `198.51.100.${base}/29`,
      prefixLen: 29,
      gateway: `198.51.100.${base + 1}`,
      altGateway: `198.51.100.${base + 2}`,
      pool: [`198.51.100.${base + 3}`, `198.51.100.${base + 6}`],
      netmask: '255.255.255.248',
      uplink: { subnet: `198.19.${index}.0/30`, inet: `198.19.${index}.1`, isp: `198.19.${index}.2`, inetIf: `${name}-isp1` },
      v6: v6(1),
    },
    isp2: {
      ns: `${ns}-isp2`,
      subnet: `203.0.113.${base}/29`,
      prefixLen: 29,
      gateway: `203.0.113.${base + 1}`,
      routerAddress: `203.0.113.${base + 2}`,
      netmask: '255.255.255.248',
      uplink: { subnet: `198.19.${index}.4/30`, inet: `198.19.${index}.5`, isp: `198.19.${index}.6`, inetIf: `${name}-isp2` },
      v6: v6(2),
    },
    lan: { subnet: `10.${index}.0.0/24`, router: `10.${index}.0.1`, client: `10.${index}.0.100`, prefixLen: 24, ula: `fd00:10:${h}::/64` },
  };
}

export function labPlan(routers: number, instance = 0): LabPlan {
  checkRouterCount(routers);
  const p = labPrefix(instance);
  return {
    instance,
    prefix: p,
    bridge: `${p}-mgmt`,
    hostMgmt: `198.18.${instance}.1`,
    mgmtSubnet: `198.18.${instance}.0/24`,
    inetNs: `${p}-inet`,
    targets: [...TARGETS],
    whoami: { ...WHOAMI },
    targets6: [...TARGETS6],
    whoami6: { ...WHOAMI6 },
    routers: Array.from({ length: routers }, (_, i) => routerPlan(i + 1, instance)),
  };
}

export function ispOf(r: RouterPlan, wan: Wan): IspLink {
  return wan === 'wan1' ? r.isp1 : r.isp2;
}

/**
 * Fixed MAC addresses (locally administered 02:45:…) for both ends of every router link, so a
 * router keeps its MACs — and its DHCP lease — across a reboot, as hardware would.
 * 02:45:KK:NN:II:SS — instance, router, interface (1 mgmt0, 2 wan1, 3 wan2, 4 lan0), side (1 router, 2 peer).
 */
export function macOf(r: RouterPlan, instance: number, ifname: keyof typeof ROUTER_IFS, side: 'router' | 'peer'): string {
  return macOfIndex(r.index, instance, ifname, side);
}

function macOfIndex(index: number, instance: number, ifname: keyof typeof ROUTER_IFS, side: 'router' | 'peer'): string {
  const i = { mgmt: 1, wan1: 2, wan2: 3, lan: 4 }[ifname];
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return ['02', '45', hex(instance), hex(index), hex(i), side === 'router' ? '01' : '02'].join(':');
}

/** Every network namespace of a router (router, ISP1, ISP2, LAN client). */
export function routerNamespaces(r: RouterPlan): string[] {
  return [r.ns, r.isp1.ns, r.isp2.ns, r.lanNs];
}

/** `r3` → 3; anything else is a usage error. */
export function parseRouterName(name: string, routers?: number): number {
  const m = /^r([1-9][0-9]?)$/.exec(name);
  const n = m ? Number(m[1]) : NaN;
  if (!m || n > MAX_ROUTERS) throw new EdgeError('USAGE', `expected a router name like r1, got '${name}'`);
  if (routers !== undefined && n > routers)
    throw new EdgeError('USAGE', `router ${name} is not in the lab (it has r1-r${routers})`);
  return n;
}

export function parseWan(s: string): Wan {
  if (s === 'wan1' || s === 'wan2') return s;
  throw new EdgeError('USAGE', `expected wan1 or wan2, got '${s}'`);
}

/** `--to` of `lab gateway` and `lab prefix`: which of an ISP's two (absent: the other one). */
export function parseWhich(s: string | undefined): 'primary' | 'alternate' | undefined {
  if (s === undefined || s === 'primary' || s === 'alternate') return s;
  throw new EdgeError('USAGE', `--to must be primary or alternate, got '${s}'`);
}

/** Where `lab exec` runs: the router (inside the container), its LAN client, one of its ISPs, or the internet. */
export type ExecTarget =
  | { kind: 'router'; router: number }
  | { kind: 'netns'; ns: string; label: string; router?: number };

export function parseExecTarget(target: string, plan: LabPlan): ExecTarget {
  if (target === 'inet' || target === 'internet') return { kind: 'netns', ns: plan.inetNs, label: 'inet' };
  const m = /^(r[0-9]+)(?:-(lan|isp1|isp2))?$/.exec(target);
  if (!m) throw new EdgeError('USAGE', `expected a target like r1, r1-lan, r1-isp1, r1-isp2 or inet, got '${target}'`);
  const n = parseRouterName(m[1]!, plan.routers.length);
  const r = plan.routers[n - 1]!;
  switch (m[2]) {
    case undefined:
      return { kind: 'router', router: n };
    case 'lan':
      return { kind: 'netns', ns: r.lanNs, label: target, router: n };
    case 'isp1':
      return { kind: 'netns', ns: r.isp1.ns, label: target, router: n };
    default:
      return { kind: 'netns', ns: r.isp2.ns, label: target, router: n };
  }
}

/** Which WAN of the router a source address (as the internet saw it) belongs to. */
export function wanOfSource(address: string, r: RouterPlan): Wan | 'lan' | 'unknown' {
  if (address.includes(':')) return wanOfSource6(address, r);
  if (inSubnet(address, r.isp1.subnet)) return 'wan1';
  if (inSubnet(address, r.isp2.subnet)) return 'wan2';
  if (inSubnet(address, r.lan.subnet)) return 'lan';
  return 'unknown';
}

/** An IPv6 source: a WAN's link or either of its delegated prefixes; the LAN's ULA (a leak). */
function wanOfSource6(address: string, r: RouterPlan): Wan | 'lan' | 'unknown' {
  const isp = (l: IspLink6) => [l.link, l.delegated, l.altDelegated].some((p) => containsAddress6(p, address));
  if (isp(r.isp1.v6)) return 'wan1';
  if (isp(r.isp2.v6)) return 'wan2';
  if (isUla(address)) return 'lan';
  return 'unknown';
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) return NaN;
  let n = 0;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > 255) return NaN;
    n = n * 256 + Number(p);
  }
  return n;
}

export function inSubnet(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const a = ipToInt(ip);
  const b = ipToInt(net ?? '');
  const l = Number(len);
  if (Number.isNaN(a) || Number.isNaN(b) || !(l >= 0 && l <= 32)) return false;
  const size = 2 ** (32 - l);
  return Math.floor(a / size) === Math.floor(b / size);
}

/** Do two prefixes overlap? (They agree on the bits of the shorter prefix.) */
export function overlaps(a: string, b: string): boolean {
  const [na = '', la = '32'] = a.split('/');
  const [nb = '', lb = '32'] = b.split('/');
  return inSubnet(na, `${nb}/${Math.min(Number(la), Number(lb))}`);
}

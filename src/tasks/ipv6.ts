import { createHash } from 'node:crypto';
import type { Facts, RouteFact } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import { formatPrefix6, isUla, parsePrefix6, subnet6 } from '../ipv6.js';
import type { Topology, Wan } from './wan.js';

/**
 * IPv6 on the LAN (edge_ipv6_mode), in one of two designs:
 * - translated (RFC 6296): the LAN keeps one stable prefix and every flow's source prefix is
 *   rewritten 1:1 into the prefix of the WAN it leaves by. The mark, the per-WAN tables and the
 *   switch are IPv4's; only the address family differs.
 * - native (RFC 8475): a /64 of each ISP's prefix is announced on the LAN; a flow leaves by the WAN
 *   whose prefix is its source, and a switch deprecates a prefix (preferred lifetime 0) so that
 *   hosts choose the other one for new flows.
 *
 * Each WAN's prefix comes from edge_wanN_ipv6_prefix, else from DHCPv6 prefix delegation (facts);
 * the LAN uses subnet edge_ipv6_subnet of it (of the LAN prefix's length, translated; /64, native).
 * The gateway is the main table's IPv6 default route via the WAN (the ISP's router advertisements).
 */

export interface Wan6 {
  wan: Wan;
  /** The prefix the ISP routes to the router (delegated or static), and where it came from. */
  prefix?: string;
  prefixFrom?: 'inventory' | 'DHCPv6-PD';
  /** The part of `prefix` the LAN uses: translated into (same length as the LAN prefix), or announced on it (native, a /64). */
  mapped?: string;
  gateway?: string;
  /** The WAN's global IPv6 addresses (SLAAC, DHCPv6) with their networks: the ISP's own prefixes. */
  addresses: { address: string; network: string }[];
}

export type Ipv6Plan =
  | { mode: 'off'; why: string }
  | { mode: 'translated'; lanPrefix: string; lanAddress: string; wans: [Wan6, Wan6]; wan1: Wan6; wan2: Wan6 }
  /** lanAddresses: the router's address in each WAN's LAN /64 (WAN1's, WAN2's). */
  | { mode: 'native'; lanAddresses: [string, string]; wans: [Wan6, Wan6]; wan1: Wan6; wan2: Wan6 };

/** A plan that routes IPv6 (either design). */
export type Ipv6On = Exclude<Ipv6Plan, { mode: 'off' }>;

/** The LAN prefixes edge routes: the translated one, or each WAN's /64 in native mode. */
export function lanPrefixes6(v6: Ipv6On): string[] {
  return v6.mode === 'translated' ? [v6.lanPrefix] : v6.wans.map((w) => w.mapped!);
}

/** The router's addresses on the LAN (prefix::1/len), one per LAN prefix. */
export function lanAddresses6(v6: Ipv6On): string[] {
  return v6.mode === 'translated' ? [v6.lanAddress] : v6.lanAddresses;
}

/** A native LAN /64 is announced for SLAAC, which needs exactly 64 bits of interface identifier. */
const NATIVE_LAN_LEN = 64;

const routerAddress = (prefix: string) => {
  const p = parsePrefix6(prefix)!;
  return formatPrefix6({ network: p.network | 1n, len: p.len });
};

/** A stable ULA /64 (RFC 4193: fd + 40 bits) for a router that names none: from its LAN MAC, so it never changes. */
export function derivedUla(seed: string): string {
  const h = createHash('sha256').update(`edge ipv6 lan ${seed}`).digest('hex');
  return `fd${h.slice(0, 2)}:${h.slice(2, 6)}:${h.slice(6, 10)}::/64`;
}

/** The main table's IPv6 default route via `dev` with the lowest metric (what the ISP's RA installed). */
export function mainDefaultVia6(facts: Facts, dev: string): string | undefined {
  let best: RouteFact | undefined;
  for (const r of facts.routes6 ?? []) {
    if (r.table !== 'main' || r.dst !== 'default' || r.dev !== dev || !r.gateway) continue;
    if (r.type && r.type !== 'unicast') continue;
    if (!best || (r.metric ?? 0) < (best.metric ?? 0)) best = r;
  }
  return best?.gateway;
}

function resolveWan6(vars: HostVars, facts: Facts, w: Wan, lanLen: number): Wan6 {
  const fixed = w.name === 'wan1' ? vars.edge_wan1_ipv6_prefix : vars.edge_wan2_ipv6_prefix;
  const delegated = facts.delegatedPrefixes?.[w.ifname];
  const prefix = fixed ?? delegated;
  const p = prefix ? parsePrefix6(prefix) : undefined;
  const sub = p ? subnet6(p, lanLen, vars.edge_ipv6_subnet) : undefined;
  const addresses = (w.iface?.addresses ?? [])
    .filter((a) => a.family === 'inet6' && a.scope === 'global' && !isUla(a.address))
    .map((a) => ({ address: a.address, network: formatPrefix6(parsePrefix6(`${a.address}/${a.prefixlen}`)!) }));
  return {
    wan: w,
    prefix: p ? formatPrefix6(p) : undefined,
    prefixFrom: fixed ? 'inventory' : delegated ? 'DHCPv6-PD' : undefined,
    mapped: sub ? formatPrefix6(sub) : undefined,
    gateway: mainDefaultVia6(facts, w.ifname),
    addresses,
  };
}

/** Why a WAN cannot carry translated IPv6, or undefined when it can. */
function wanProblem(w6: Wan6, vars: HostVars, lanSubnet: string): string | undefined {
  const n = w6.wan.name === 'wan1' ? 1 : 2;
  if (!w6.prefix) return `${w6.wan.label} (${w6.wan.ifname}) has no IPv6 prefix (no DHCPv6 prefix delegation seen, edge_wan${n}_ipv6_prefix unset)`;
  if (!w6.mapped)
    return `${w6.wan.label}'s prefix ${w6.prefix} has no subnet ${vars.edge_ipv6_subnet} as long as ${lanSubnet}`;
  return undefined;
}

export function resolveIpv6(vars: HostVars, facts: Facts, t: Topology): Ipv6Plan {
  if (vars.edge_ipv6_mode === 'off') return { mode: 'off', why: 'edge_ipv6_mode is off' };
  if (vars.edge_ipv6_mode === 'native') return resolveNative(vars, facts, t);
  const lanPrefix = vars.edge_ipv6_lan_prefix ?? derivedUla(t.lan.iface?.mac ?? facts.hostname);
  const lan = parsePrefix6(lanPrefix)!;
  const [wan1, wan2] = t.wans.map((w) => resolveWan6(vars, facts, w, lan.len)) as [Wan6, Wan6];
  const problems = [wan1, wan2].flatMap((w) => wanProblem(w, vars, `the LAN prefix ${lanPrefix}`) ?? []);
  if (problems.length) return { mode: 'off', why: `${problems.join('; ')}: IPv6 is left as it is (IPv4 failover only)` };
  return { mode: 'translated', lanPrefix: formatPrefix6(lan), lanAddress: routerAddress(lanPrefix), wans: [wan1, wan2], wan1, wan2 };
}

function resolveNative(vars: HostVars, facts: Facts, t: Topology): Ipv6Plan {
  const [wan1, wan2] = t.wans.map((w) => resolveWan6(vars, facts, w, NATIVE_LAN_LEN)) as [Wan6, Wan6];
  const problems = [wan1, wan2].flatMap((w) => wanProblem(w, vars, `a LAN /${NATIVE_LAN_LEN}`) ?? []);
  if (problems.length) return { mode: 'off', why: `${problems.join('; ')}: IPv6 is left as it is (IPv4 failover only)` };
  if (wan1.mapped === wan2.mapped) return { mode: 'off', why: `both WANs have the prefix ${wan1.prefix}: native IPv6 needs a prefix per ISP` };
  return { mode: 'native', lanAddresses: [routerAddress(wan1.mapped!), routerAddress(wan2.mapped!)], wans: [wan1, wan2], wan1, wan2 };
}

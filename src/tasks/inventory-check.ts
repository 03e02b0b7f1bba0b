import { z } from 'zod';
import { resolveIpv6 } from './ipv6.js';
import type { Facts, InterfaceFact, RuleFact } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import type { Task, TaskContext } from './contract.js';
import { desiredRules, ruleRange, ruleSpecOf, RULE_SPAN } from './desired-routing.js';
import { containsAddress, networkOf } from '../ipv4.js';
import { MANAGED, NFT_COMMENT, NFT_TABLE, PATHS } from './paths.js';
import { hexMark, REQUIRED_INTERFACE_VARS, resolveTopology, tableRoutes, type Topology, type Wan } from './wan.js';
import { taskParams } from './params.js';

/**
 * Refuses a host before anything is changed on it, with messages that say what to fix: missing or
 * wrong interfaces, WANs without an address or gateway, an unsupported OS or network manager, and
 * anything on the host that collides with what edge will own (ip rules, marks, routing tables, the
 * nft table, keepalived's configuration). Whether the change would cut edge's own SSH session is the
 * lockout preflight's question (Plan.lockout of the nftables and tables tasks), which the operator
 * may override.
 */

/**
 * The releases edge is built and tested for (CI runs the failover scenarios on Debian 12 and 13,
 * each with systemd-networkd and with ifupdown). Older releases lack what the design relies on
 * (Debian 11 is out of support; Ubuntu 20.04's nftables 0.9.3 cannot carry the table comment edge
 * marks its table with); newer ones are refused until they are tested, rather than half-working.
 */
export const SUPPORTED_OS: { id: string; versions: string[]; names: string }[] = [
  { id: 'debian', versions: ['12', '13'], names: 'Debian 12 (bookworm) or 13 (trixie)' },
  { id: 'ubuntu', versions: ['22.04', '24.04'], names: 'Ubuntu 22.04 or 24.04 (netplan with systemd-networkd)' },
];

/** DHCP clients edge is tested with on ifupdown hosts (Debian 12 installs dhclient, Debian 13 dhcpcd). */
export const SUPPORTED_DHCP_CLIENTS = ['dhclient', 'dhcpcd'];

export function checkOs(facts: Facts): string[] {
  const ok = SUPPORTED_OS.some((o) => o.id === facts.os.id && o.versions.includes(facts.os.versionId));
  if (ok) return [];
  return [`the OS is ${facts.os.prettyName}; edge supports ${SUPPORTED_OS.map((o) => o.names).join(', and ')}`];
}

export function checkNetworkManager(facts: Facts): string[] {
  const nm = facts.networkManager;
  if (nm === 'systemd-networkd' || nm === 'ifupdown' || nm === 'netplan') return [];
  const what = nm === 'unknown' ? 'no network manager edge recognises configures the interfaces' : `${nm} manages the interfaces`;
  return [`${what}; edge supports systemd-networkd (also behind netplan) and ifupdown (/etc/network/interfaces)`];
}

/** Who leases the WANs' DHCP addresses: networkd's built-in client, or the programs seen running. */
export function dhcpClientOf(facts: Facts): string {
  if (facts.networkManager === 'systemd-networkd' || facts.networkManager === 'netplan') return 'systemd-networkd (built in)';
  const running = facts.dhcpClients ?? [];
  return running.length ? running.join(', ') : 'none running';
}

/** One line for the operator: what edge found on the host and works with. */
export function detected(facts: Facts): string {
  return `detected ${facts.os.prettyName}, network: ${facts.networkManager}, DHCP client: ${dhcpClientOf(facts)}`;
}

/**
 * On an ifupdown host a WAN with a DHCP address must be leased by a client edge is tested with:
 * edge follows the gateway the client puts in the main table, and clients differ in when and how
 * they change it (dhclient keeps the old gateway on a renewal that keeps the address).
 */
export function checkDhcpClient(t: Topology, facts: Facts): string[] {
  if (facts.networkManager !== 'ifupdown' || facts.dhcpClients === undefined) return [];
  const dynamic = t.wans.filter((w) => w.iface?.addresses.some((a) => a.family === 'inet' && a.dynamic && a.address === w.address));
  const running = facts.dhcpClients ?? [];
  if (!dynamic.length || running.some((c) => SUPPORTED_DHCP_CLIENTS.includes(c))) return [];
  return dynamic.map(
    (w) =>
      `${w.label} (${w.ifname}) has a DHCP address, but the DHCP client running is ${running.length ? running.join(', ') : 'none edge can see'}; with ifupdown edge supports ${SUPPORTED_DHCP_CLIENTS.join(' and ')} (isc-dhcp-client, dhcpcd-base)`,
  );
}

function describeInterface(i: InterfaceFact): string {
  const v4 = i.addresses.filter((a) => a.family === 'inet' && a.scope === 'global');
  const addrs = v4.map((a) => `${a.address}/${a.prefixlen}${a.dynamic ? ' DHCP' : ''}`).join(', ');
  const state = i.up && i.carrier ? '' : i.up ? ' no carrier' : ' down';
  return `${i.name}${addrs || state ? ` (${[addrs, state.trim()].filter(Boolean).join(', ')})` : ''}`;
}

function candidateList(facts: Facts): string {
  const list = facts.interfaces.filter((i) => i.name !== 'lo' && !i.name.startsWith('edge-ka')).map(describeInterface);
  return list.length ? list.join(', ') : '(none found)';
}

export function checkInterfaces(vars: HostVars, facts: Facts): string[] {
  // The host's interfaces are listed once, after every variable that needs one of them.
  const names = new Set(facts.interfaces.map((i) => i.name));
  const unset = REQUIRED_INTERFACE_VARS.filter((k) => !vars[k]);
  const wrong = [...REQUIRED_INTERFACE_VARS, 'edge_mgmt_interface' as const].filter((k) => vars[k] && !names.has(vars[k]!));
  if (!unset.length && !wrong.length) return [];
  const parts = [
    ...(unset.length ? [`${unset.join(', ')} ${unset.length === 1 ? 'is' : 'are'} not set`] : []),
    ...wrong.map((k) => `${k} is ${vars[k]}, which this host does not have`),
  ];
  return [`${parts.join('; ')}; this host's interfaces: ${candidateList(facts)}${unset.length ? ' (or run `edge pick`)' : ''}`];
}

export function checkWan(w: Wan): string[] {
  if (!w.iface) return []; // reported by checkInterfaces
  const gwVar = `edge_${w.name}_gateway`;
  if (!w.address) {
    const why = !w.iface.up ? ' (the link is administratively down)' : !w.iface.carrier ? ' (the link has no carrier)' : '';
    return [`${w.label} (${w.ifname}) has no IPv4 address${why}: give it its address (DHCP lease or static configuration) before running edge`];
  }
  const subnet = networkOf(w.address, w.prefixlen!);
  if (!w.gateway)
    return [`${w.label} (${w.ifname}) has no gateway: the main table has no default route via ${w.ifname}; set ${gwVar} to the ISP's router on ${subnet}`];
  if (w.gatewayFrom === 'inventory' && !containsAddress(subnet, w.gateway))
    return [`${gwVar} is ${w.gateway}, which is not on ${w.label}'s subnet ${subnet} (${w.ifname}): set it to the ISP's router on that subnet`];
  return [];
}

const markValue = (fwmark: string) => Number(fwmark.split('/')[0]);

/** A rule in edge's range that edge itself would have put there (possibly for an old address or layout). */
function looksLikeEdges(r: RuleFact, t: Topology, facts: Facts): boolean {
  const spec = ruleSpecOf(r, t, facts);
  if (t.wans.some((w) => spec.endsWith(` lookup ${w.table}`))) return true;
  if (r.action === 'unreachable' && r.fwmark && t.wans.some((w) => markValue(r.fwmark!) === w.mark)) return true;
  return r.priority === t.priority && spec === 'from all lookup main suppress_prefixlength 0';
}

function freePriority(facts: Facts): number | undefined {
  for (let base = 100; base + RULE_SPAN - 1 < 32766; base += 100) {
    if (!facts.rules.some((r) => r.priority >= base && r.priority < base + RULE_SPAN)) return base;
  }
  return undefined;
}

function freeTableId(facts: Facts, t: Topology): number {
  const used = new Set([...Object.keys(facts.rtTables).map(Number), ...t.wans.map((w) => w.table)]);
  for (const r of facts.routes) if (/^\d+$/.test(r.table)) used.add(Number(r.table));
  let id = 100;
  while (used.has(id) || [253, 254, 255].includes(id)) id++;
  return id;
}

export function checkRules(t: Topology, facts: Facts): string[] {
  const out: string[] = [];
  const [from, to] = ruleRange(t);
  const desired = new Set(desiredRules(t).map((r) => `${r.priority}: ${r.spec}`));
  const free = freePriority(facts);
  const show = (r: RuleFact) => `ip rule ${r.priority}: ${r.raw || ruleSpecOf(r, t, facts)}`;
  for (const r of facts.rules) {
    const inRange = r.priority >= from && r.priority <= to;
    if (inRange) {
      if (desired.has(`${r.priority}: ${ruleSpecOf(r, t, facts)}`) || looksLikeEdges(r, t, facts)) continue;
      out.push(
        `${show(r)} is in edge's priority range ${from}-${to}: remove it (ip rule del pref ${r.priority}) or move edge with edge_rule_priority${free ? ` (e.g. ${free})` : ''}`,
      );
      continue;
    }
    const w = r.fwmark ? t.wans.find((x) => markValue(r.fwmark!) === x.mark) : undefined;
    if (w) {
      out.push(`${show(r)} uses edge's mark ${hexMark(w.mark)} (edge_${w.name}_mark): remove it (ip rule del pref ${r.priority}) or give edge other marks`);
      continue;
    }
    const tw = r.table ? t.wans.find((x) => r.table === x.tableName || r.table === String(x.table)) : undefined;
    if (tw)
      out.push(`${show(r)} looks up edge's table ${tw.table} (${tw.tableName}): remove it (ip rule del pref ${r.priority}) or give edge another table (edge_${tw.name}_table)`);
  }
  return out;
}

/** The WAN interfaces in edge's routing.conf on the host, as its last run wrote them (empty when absent). */
function lastRunWanInterfaces(facts: Facts): Set<string> {
  const text = facts.files[PATHS.routingConf]?.content ?? '';
  // Written by renderRoutingConf: WANn_IF=name (shQuote leaves a plain name bare), a validated interface name.
  return new Set([...text.matchAll(/^WAN[12]_IF='?([A-Za-z0-9_.:@-]{1,15})'?$/gm)].map((m) => m[1]!));
}

export function checkTables(t: Topology, facts: Facts): string[] {
  const out: string[] = [];
  for (const w of t.wans) {
    const named = facts.rtTables[String(w.table)];
    if (named !== undefined && named !== w.tableName)
      out.push(
        `routing table ${w.table} is already named "${named}" in /etc/iproute2/rt_tables: set edge_${w.name}_table to a free id (e.g. ${freeTableId(facts, t)}) or edge_${w.name}_table_name to "${named}"`,
      );
    const other = Object.entries(facts.rtTables).find(([id, n]) => n === w.tableName && id !== String(w.table));
    if (other)
      out.push(
        `routing table name "${w.tableName}" already means table ${other[0]} in /etc/iproute2/rt_tables: remove that line or set edge_${w.name}_table_name to another name`,
      );
    // A route via the other WAN is edge's own from before WAN1 and WAN2 were swapped (edge pick),
    // and one via a WAN interface edge's last run configured is edge's own from before the inventory
    // named another interface (a typo included): the tables task replaces both. Only a route via an
    // interface edge never managed is another tool's.
    const mine = lastRunWanInterfaces(facts);
    const foreign = tableRoutes(facts, w.table, w.tableName).filter((r) => !t.wans.some((x) => x.ifname === r.dev) && !(r.dev && mine.has(r.dev)));
    for (const r of foreign)
      out.push(
        `routing table ${w.table} holds a route not via ${w.label} (${w.ifname}): "${[r.type && r.type !== 'unicast' ? r.type : '', r.dst, r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : ''].filter(Boolean).join(' ')}"; another tool uses table ${w.table}: set edge_${w.name}_table to a free id (e.g. ${freeTableId(facts, t)})`,
      );
  }
  return out;
}

export function checkOwnership(facts: Facts): string[] {
  const out: string[] = [];
  if (facts.nftTables.some((x) => `${x.family} ${x.name}` === NFT_TABLE)) {
    const text = facts.nftTableText[NFT_TABLE] ?? '';
    if (!text.includes(`comment "${NFT_COMMENT}"`))
      out.push(`an nft table ${NFT_TABLE} exists that edge did not create (no comment "${NFT_COMMENT}"): rename or remove it first (nft delete table ${NFT_TABLE})`);
  }
  const ka = facts.files[PATHS.keepalivedConf];
  if (ka?.exists && !ka.isDirectory && (ka.content ?? '').trim() !== '' && !(ka.content ?? '').includes(MANAGED))
    out.push(
      `${PATHS.keepalivedConf} holds a configuration edge did not write: edge runs keepalived for the WAN health checks and replaces that file; move that configuration elsewhere first`,
    );
  return out;
}

/** edge_ipv6_mode translated or native asked for explicitly must be possible (auto falls back to off, and says so). */
export function checkIpv6(vars: HostVars, facts: Facts, t: Topology): string[] {
  const v6 = resolveIpv6(vars, facts, t);
  const asked = vars.edge_ipv6_mode;
  if ((asked !== 'translated' && asked !== 'native') || v6.mode !== 'off') return [];
  return [`edge_ipv6_mode is ${asked}, but ${v6.why.replace(/: IPv6 is left as it is.*$/, '')}: set edge_wanN_ipv6_prefix to the prefix the ISP routes to the router, or edge_ipv6_mode to auto or off`];
}

/** What edge will do with IPv6 on this router, in one line. */
export function ipv6Explained(vars: HostVars, facts: Facts): string | undefined {
  const r = resolveTopology(vars, facts);
  if (!r.ok) return undefined;
  const v6 = resolveIpv6(vars, facts, r.topology);
  if (v6.mode === 'off') return `IPv6 (edge_ipv6_mode ${vars.edge_ipv6_mode}): off — ${v6.why}`;
  const wans = v6.wans.map((w) => `${w.wan.label} ${w.prefix} (${w.prefixFrom}) → ${w.mapped}`).join(', ');
  if (v6.mode === 'native')
    return `IPv6 (edge_ipv6_mode native): native — the LAN gets ${wans}; each leaves by its own ISP, and a failed WAN's prefix is deprecated in the router advertisements (steering rules and balance apply to IPv4)`;
  return `IPv6 (edge_ipv6_mode ${vars.edge_ipv6_mode}): translated — LAN ${v6.lanPrefix}${vars.edge_ipv6_lan_prefix ? '' : ' (derived ULA)'} leaves as ${wans}`;
}

/** Every reason the host must not be changed; empty when it may be. */
export function inventoryProblems(vars: HostVars, facts: Facts): string[] {
  const out = [...checkOs(facts), ...checkNetworkManager(facts), ...checkInterfaces(vars, facts)];
  const r = resolveTopology(vars, facts);
  if (r.ok) {
    const t = r.topology;
    for (const w of t.wans) out.push(...checkWan(w));
    out.push(...checkDhcpClient(t, facts), ...checkRules(t, facts), ...checkTables(t, facts), ...checkIpv6(vars, facts, t));
  }
  out.push(...checkOwnership(facts));
  return out;
}

const params = taskParams['inventory-check'];

export const inventoryCheckTask: Task<z.infer<typeof params>> = {
  name: 'inventory-check',
  description: 'refuse the host early, saying what to fix, if the inventory or the host cannot carry the design',
  params,
  needs() {
    return { files: [PATHS.keepalivedConf], nftTables: [NFT_TABLE] };
  },
  plan({ vars, facts }: TaskContext) {
    const failures = inventoryProblems(vars, facts);
    const v6 = ipv6Explained(vars, facts);
    const notes = [detected(facts), ...(v6 ? [v6] : [])];
    return failures.length ? { changes: [], failures, notes } : { changes: [], notes };
  },
};

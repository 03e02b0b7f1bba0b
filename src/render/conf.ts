import { shQuote } from '../encode/index.js';
import { AVOID_MAP, AVOID_MAP6, DOWN_SET, DOWN_SET6 } from './nft-policy.js';
import { bigToIp6, ip6ToBig } from '../ipv6.js';
import { DEAD_SET, DEAD_SET6, NFT_FAMILY, NFT_NAME, PREFERRED_MAP, PREFERRED_MAP6 } from './nftables.js';

/**
 * The small configuration files edge's router-side scripts read. They are shell KEY=value files,
 * sourced by the scripts, every value rendered here and single-quoted: nothing in them is expanded
 * (defects 1 and 4: values never depend on a shell variable being set, and every script reads the
 * file it is given).
 */

const canonical6 = (a: string) => bigToIp6(ip6ToBig(a)!);

function kv(entries: [string, string | number][]): string {
  return entries.map(([k, v]) => `${k}=${shQuote(String(v))}`).join('\n');
}

export interface RoutingConf {
  wan1If: string;
  wan2If: string;
  lanIf: string;
  mark1: string; // "0x1"
  mark2: string;
  table1: number;
  table2: number;
  table1Name: string;
  table2Name: string;
  priority: number;
  gateway1?: string;
  gateway2?: string;
  /** IPv6 routed by edge: its mode and the router's LAN addresses (prefix::1/len; native: WAN1's, WAN2's); absent, none. */
  v6?: { mode: 'translated' | 'native'; lanAddresses: string[]; prefer?: 'one' | 'both'; follow: PrefixFollow6 };
}

/**
 * What edge-routes needs to follow a WAN's new delegated prefix by itself: per WAN the delegated
 * prefix this run saw (empty: static from the inventory, never followed) and the subnet of it the LAN
 * uses, and how that subnet is chosen (number `id`, `len` bits long).
 */
export interface PrefixFollow6 {
  delegated: [string, string];
  subnets: [string, string];
  id: number;
  len: number;
}

export function renderRoutingConf(c: RoutingConf): string {
  return `# Managed by edge: the per-WAN policy routing, read by /usr/local/sbin/edge-routes,
# edge-probe, edge-health and edge-failover. Local changes are overwritten by the next edge run.
# WANn_GW empty: the gateway is learned from the main table's default route via WANn_IF.
# V6_LAN_ADDR empty: IPv6 is off, and edge keeps no IPv6 rules or tables. V6_MODE translated: the
# LAN's one prefix (address V6_LAN_ADDR) is translated; native: V6_LAN_ADDR is in WAN1's prefix,
# V6_LAN_ADDR2 in WAN2's, each announced on the LAN; V6_LAN_PREFER one: hosts are told to use the
# prefix of the WAN new flows use (failover), both: every prefix whose WAN is not down (balance).
# V6_PDn: the prefix WANn's ISP delegated when this file was rendered (empty: a static prefix);
# V6_SUBn the subnet of it the LAN uses (number V6_SUBNET_ID, V6_SUBNET_LEN bits). When the ISP
# delegates another, edge-routes follows it until the next run renders it here.
${kv([
  ['WAN1_IF', c.wan1If],
  ['WAN2_IF', c.wan2If],
  ['LAN_IF', c.lanIf],
  ['M1', c.mark1],
  ['M2', c.mark2],
  ['T1', c.table1],
  ['T2', c.table2],
  ['T1_NAME', c.table1Name],
  ['T2_NAME', c.table2Name],
  ['PRIO', c.priority],
  ['WAN1_GW', c.gateway1 ?? ''],
  ['WAN2_GW', c.gateway2 ?? ''],
  ['NFT_FAMILY', NFT_FAMILY],
  ['NFT_TABLE', NFT_NAME],
  ['NFT_MAP', PREFERRED_MAP],
  ['V6_MODE', c.v6?.mode ?? ''],
  ['V6_LAN_ADDR', c.v6?.lanAddresses[0] ?? ''],
  ['V6_LAN_ADDR2', c.v6?.lanAddresses[1] ?? ''],
  ['V6_LAN_PREFER', c.v6?.prefer ?? ''],
  ['V6_PD1', c.v6?.follow.delegated[0] ?? ''],
  ['V6_PD2', c.v6?.follow.delegated[1] ?? ''],
  ['V6_SUB1', c.v6?.follow.subnets[0] ?? ''],
  ['V6_SUB2', c.v6?.follow.subnets[1] ?? ''],
  ['V6_SUBNET_ID', c.v6?.follow.id ?? ''],
  ['V6_SUBNET_LEN', c.v6?.follow.len ?? ''],
  ['NFT_DEAD_SET', DEAD_SET],
  ['NFT_AVOID_MAP', AVOID_MAP],
  ['NFT_DOWN_SET', DOWN_SET],
  ['NFT_MAP6', PREFERRED_MAP6],
  ['NFT_DEAD_SET6', DEAD_SET6],
  ['NFT_AVOID_MAP6', AVOID_MAP6],
  ['NFT_DOWN_SET6', DOWN_SET6],
])}
`;
}

/** /etc/iproute2/rt_tables.d/edge.conf: names for edge's tables, so `ip` prints `lookup wan1`. */
export function renderRtTables(entries: [number, string][]): string {
  return `# Managed by edge: names of the per-WAN routing tables.\n${entries.map(([id, name]) => `${id} ${name}`).join('\n')}\n`;
}

export interface FailoverConf {
  targets1: string[];
  targets2: string[];
  /** IPv6 targets, probed only while IPv6 is translated (routing.conf's V6_LAN_ADDR). */
  targets1v6: string[];
  targets2v6: string[];
  /** Seconds between probes to each target (edge-probe's ping -i). */
  interval: number;
  /** A WAN is down when fewer than `threshold` targets answered within this many seconds (also edge-health's ping -W). */
  timeout: number;
  /** Seconds a WAN must stay healthy without a break before it is preferred again. */
  rise: number;
  /** Targets that must be answering for a WAN to be healthy. */
  threshold: number;
  /** Quality: the window it is measured over, and when a WAN is degraded and good again. */
  quality: Quality;
  flush: boolean;
  /** TCP flows of a WAN left for being down are reset at the client's next packet. */
  tcpReset: boolean;
  /** Where edge-failover keeps the history of switches. */
  switchLog: string;
  /** keepalived's private veth pair and its addresses. */
  kaLink: { a: string; b: string; addrA: string; addrB: string };
}

/** Loss in percent of probes, round-trip times and durations in seconds. */
export interface Quality {
  window: number;
  degradedLoss: number;
  recoveryLoss: number;
  degradedRtt: number;
  recoveryRtt: number;
  recoveryHold: number;
}

export function renderFailoverConf(c: FailoverConf): string {
  return `# Managed by edge: health checks and switching, read by /usr/local/sbin/edge-probe, edge-health and
# edge-failover. Local changes are overwritten by the next edge run.
${kv([
  ['WAN1_TARGETS', c.targets1.join(' ')],
  ['WAN2_TARGETS', c.targets2.join(' ')],
  // as ping prints them (RFC 5952), so a reply's source is found among the targets
  ['WAN1_TARGETS6', c.targets1v6.map(canonical6).join(' ')],
  ['WAN2_TARGETS6', c.targets2v6.map(canonical6).join(' ')],
  ['PROBE_INTERVAL', c.interval],
  ['PROBE_TIMEOUT', c.timeout],
  ['RISE', c.rise],
  ['SUCCESS_THRESHOLD', c.threshold],
  ['QUALITY_WINDOW', c.quality.window],
  ['DEGRADED_LOSS', c.quality.degradedLoss],
  ['RECOVERY_LOSS', c.quality.recoveryLoss],
  ['DEGRADED_RTT', c.quality.degradedRtt],
  ['RECOVERY_RTT', c.quality.recoveryRtt],
  ['RECOVERY_HOLD', c.quality.recoveryHold],
  ['FLUSH_CONNTRACK', c.flush ? 'yes' : 'no'],
  ['TCP_RESET', c.tcpReset ? 'yes' : 'no'],
  ['SWITCH_LOG', c.switchLog],
  ['KA_A', c.kaLink.a],
  ['KA_B', c.kaLink.b],
  ['KA_ADDR_A', c.kaLink.addrA],
  ['KA_ADDR_B', c.kaLink.addrB],
])}
`;
}

export interface MetricsConf {
  /** node_exporter's textfile collector file edge-metrics replaces. */
  textfile: string;
  /** Seconds between two writes. */
  interval: number;
  proberUnit: string;
  /** The units that apply the prober's decisions (edge_switcher_up is 0 while one is not active). */
  switcherUnits: string[];
  /** The files edge manages, hashed to tell drift from the applied run. */
  managedFiles: string[];
  /** Where edge-metrics keeps the applied run's id and those hashes. */
  appliedFile: string;
}

export function renderMetricsConf(c: MetricsConf): string {
  return `# Managed by edge: what /usr/local/sbin/edge-metrics writes and reads (it also reads routing.conf
# and failover.conf). Local changes are overwritten by the next edge run.
${kv([
  ['TEXTFILE', c.textfile],
  ['INTERVAL', c.interval],
  ['PROBER_UNIT', c.proberUnit],
  ['SWITCHER_UNITS', c.switcherUnits.join(' ')],
  ['MANAGED_FILES', c.managedFiles.join(' ')],
  ['APPLIED_FILE', c.appliedFile],
])}
`;
}

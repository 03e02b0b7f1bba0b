import type { Facts, InterfaceFact, RouteFact } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import { networkOf } from '../ipv4.js';

/**
 * What edge knows about each uplink, resolved from the inventory and the gathered facts. This is the
 * one place the rules of resolution live; /usr/local/sbin/edge-routes applies the same rules on the
 * router from the live state (see src/router/edge-routes.sh), so the planner and the router agree.
 *
 *  - address: the first global IPv4 address of the interface;
 *  - gateway: edge_wanN_gateway if set, else the main table's default route via the interface with
 *    the lowest metric (first one on a tie), as DHCP or the network configuration installed it;
 *  - carrier: the interface is administratively up and has a carrier (IFF_UP and LOWER_UP).
 */

export type WanName = 'wan1' | 'wan2';

export interface Wan {
  name: WanName;
  /** "WAN1" — how messages name it. */
  label: string;
  ifname: string;
  iface?: InterfaceFact;
  address?: string;
  prefixlen?: number;
  gateway?: string;
  gatewayFrom?: 'inventory' | 'main table';
  carrier: boolean;
  mark: number;
  table: number;
  tableName: string;
  targets: string[];
}

export interface LanSide {
  ifname: string;
  iface?: InterfaceFact;
  address?: string;
  prefixlen?: number;
  /** The LAN's IPv4 prefix, e.g. 10.1.0.0/24, when the interface has an address. */
  prefix?: string;
}

export interface Topology {
  wan1: Wan;
  wan2: Wan;
  wans: [Wan, Wan];
  lan: LanSide;
  mgmt?: string;
  /** edge owns ip rule priorities priority..priority+99. */
  priority: number;
}

export type Resolved = { ok: true; topology: Topology } | { ok: false; missing: string[] };

export const REQUIRED_INTERFACE_VARS = ['edge_wan1_interface', 'edge_wan2_interface', 'edge_lan_interface'] as const;

/** "0x1": how ip and nft print a mark, and how edge renders one everywhere. */
export function hexMark(n: number): string {
  return `0x${n.toString(16)}`;
}

export function ipv4Of(iface: InterfaceFact | undefined): { address: string; prefixlen: number } | undefined {
  const a = iface?.addresses.find((x) => x.family === 'inet' && x.scope === 'global');
  return a ? { address: a.address, prefixlen: a.prefixlen } : undefined;
}

function isIpv4Route(r: RouteFact): boolean {
  return ![r.dst, r.gateway ?? '', r.prefsrc ?? ''].some((s) => s.includes(':'));
}

/** The main table's default route via `dev` with the lowest metric (the first one on a tie). */
export function mainDefaultVia(facts: Facts, dev: string): string | undefined {
  let best: RouteFact | undefined;
  for (const r of facts.routes) {
    if (r.table !== 'main' || r.dst !== 'default' || r.dev !== dev || !r.gateway || !isIpv4Route(r)) continue;
    if (r.type && r.type !== 'unicast') continue;
    if (!best || (r.metric ?? 0) < (best.metric ?? 0)) best = r;
  }
  return best?.gateway;
}

/** IPv4 routes of routing table `id` (facts name tables by name when rt_tables knows them). */
export function tableRoutes(facts: Facts, id: number, name: string): RouteFact[] {
  return facts.routes.filter((r) => (r.table === String(id) || r.table === name) && isIpv4Route(r));
}

function resolveWan(vars: HostVars, facts: Facts, n: 1 | 2, ifname: string): Wan {
  const iface = facts.interfaces.find((i) => i.name === ifname);
  const v4 = ipv4Of(iface);
  const staticGw = n === 1 ? vars.edge_wan1_gateway : vars.edge_wan2_gateway;
  const learned = staticGw ? undefined : mainDefaultVia(facts, ifname);
  return {
    name: n === 1 ? 'wan1' : 'wan2',
    label: n === 1 ? 'WAN1' : 'WAN2',
    ifname,
    iface,
    address: v4?.address,
    prefixlen: v4?.prefixlen,
    gateway: staticGw ?? learned,
    gatewayFrom: staticGw ? 'inventory' : learned ? 'main table' : undefined,
    carrier: iface !== undefined && iface.up && iface.carrier,
    mark: n === 1 ? vars.edge_wan1_mark : vars.edge_wan2_mark,
    table: n === 1 ? vars.edge_wan1_table : vars.edge_wan2_table,
    tableName: n === 1 ? vars.edge_wan1_table_name : vars.edge_wan2_table_name,
    targets: n === 1 ? vars.edge_wan1_targets : vars.edge_wan2_targets,
  };
}

/** Resolves the topology, or says which interface variables are missing. */
export function resolveTopology(vars: HostVars, facts: Facts): Resolved {
  const missing = REQUIRED_INTERFACE_VARS.filter((k) => !vars[k]);
  if (missing.length) return { ok: false, missing: [...missing] };
  const wan1 = resolveWan(vars, facts, 1, vars.edge_wan1_interface!);
  const wan2 = resolveWan(vars, facts, 2, vars.edge_wan2_interface!);
  const lanIf = vars.edge_lan_interface!;
  const lanIface = facts.interfaces.find((i) => i.name === lanIf);
  const lan4 = ipv4Of(lanIface);
  return {
    ok: true,
    topology: {
      wan1,
      wan2,
      wans: [wan1, wan2],
      lan: {
        ifname: lanIf,
        iface: lanIface,
        address: lan4?.address,
        prefixlen: lan4?.prefixlen,
        prefix: lan4 ? networkOf(lan4.address, lan4.prefixlen) : undefined,
      },
      mgmt: vars.edge_mgmt_interface,
      priority: vars.edge_rule_priority,
    },
  };
}

/** The plan of a task that cannot work without the interface variables (inventory-check names them). */
export function notPlanned(missing: string[]): { changes: []; notes: string[] } {
  return { changes: [], notes: [`not planned: ${missing.join(', ')} not set (inventory-check says what to set)`] };
}

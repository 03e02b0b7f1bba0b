import type { Facts, RouteFact, RuleFact } from '../facts/types.js';
import { shJoin } from '../encode/index.js';
import { hexMark, tableRoutes, type Topology, type Wan } from './wan.js';
import { NFT_TABLE } from './paths.js';
import type { Wan6 } from './ipv6.js';
import { PREFERRED_MAP, PREFERRED_MAP6 } from '../render/nftables.js';
import { routeSpec, ruleSpec } from '../render/ip.js';

/**
 * The policy routing edge wants, as text in the form `ip rule show` / `ip route show` print it
 * (tables by id): the tables planner, inventory-check, verify and /usr/local/sbin/edge-routes all
 * compare against exactly these lines.
 *
 * Priorities (P = edge_rule_priority; edge owns P..P+99):
 *   P     from all lookup main suppress_prefixlength 0   connected and specific routes (LAN, mgmt,
 *                                                        ISP links) win before any WAN table
 *   P+10  from all fwmark M1 lookup T1                   flows pinned to WAN1
 *   P+11  from all fwmark M2 lookup T2                   flows pinned to WAN2
 *   P+20  from ADDR1 lookup T1                           traffic sourced from WAN1's address
 *   P+21  from ADDR2 lookup T2                             (only while the WAN has an address)
 *   P+30  from all fwmark M1 unreachable                 guards: a marked packet never falls
 *   P+31  from all fwmark M2 unreachable                   through to main (defect 8)
 *   P+40  from all iif lo lookup Tpreferred              the router's own traffic that nothing binds to
 *                                                        a WAN follows the preferred WAN (the map
 *                                                        preferred_wan says which; edge-failover and
 *                                                        edge-routes keep the rule matching it)
 *
 * Table Ti holds `default via GW dev IF proto static src ADDR` while the WAN has an address, a
 * gateway and a carrier; otherwise it is empty.
 */

export const RULE_OFFSETS = { main: 0, mark: 10, source: 20, guard: 30, local: 40 } as const;
export const RULE_SPAN = 100;

export interface RuleLine {
  priority: number;
  /** The rule after "PRIO:", tables by id: "from all fwmark 0x1 lookup 101". */
  spec: string;
}

export function ruleRange(t: Topology): [number, number] {
  return [t.priority, t.priority + RULE_SPAN - 1];
}

/** `local`: the WAN the router's own unbound traffic uses (the preferred one; WAN1 by default). */
export function desiredRules(t: Topology, local: Wan = t.wan1): RuleLine[] {
  const P = t.priority;
  const out: RuleLine[] = [{ priority: P + RULE_OFFSETS.main, spec: 'from all lookup main suppress_prefixlength 0' }];
  t.wans.forEach((w, i) => out.push({ priority: P + RULE_OFFSETS.mark + i, spec: `from all fwmark ${hexMark(w.mark)} lookup ${w.table}` }));
  t.wans.forEach((w, i) => {
    if (w.address) out.push({ priority: P + RULE_OFFSETS.source + i, spec: `from ${w.address} lookup ${w.table}` });
  });
  t.wans.forEach((w, i) => out.push({ priority: P + RULE_OFFSETS.guard + i, spec: `from all fwmark ${hexMark(w.mark)} unreachable` }));
  out.push({ priority: P + RULE_OFFSETS.local, spec: `from all iif lo lookup ${local.table}` });
  return out.sort((a, b) => a.priority - b.priority);
}

/**
 * The WAN new LAN flows use now, from the preferred_wan map (IPv6: preferred_wan6) in the gathered
 * `inet edge` table (`"lan0" : 0x00000002`); WAN1 when the table or its element is missing.
 */
export function preferredWan(t: Topology, facts: Facts, mapName: string = PREFERRED_MAP): Wan {
  const text = facts.nftTableText[NFT_TABLE] ?? '';
  const map = new RegExp(`map ${mapName} \\{[^}]*?elements = \\{([^}]*)\\}`).exec(text)?.[1] ?? '';
  const m = new RegExp(`"${t.lan.ifname.replace(/[.]/g, '\\.')}"\\s*:\\s*(0x[0-9a-f]+|[0-9]+)`).exec(map);
  const mark = m ? Number(m[1]) : undefined;
  return t.wans.find((w) => w.mark === mark) ?? t.wan1;
}

/** The table a rule looks up, by id when it is one of edge's (ip prints names it knows). */
function tableKey(table: string, t: Topology, facts: Facts): string {
  for (const w of t.wans) {
    if (table === w.tableName || table === String(w.table) || facts.rtTables[String(w.table)] === table) return String(w.table);
  }
  return table;
}

/** A gathered rule in the same text form as desiredRules(). */
export function ruleSpecOf(r: RuleFact, t: Topology, facts: Facts): string {
  return ruleSpec(r, (table) => tableKey(table, t, facts));
}

/** How a rule is shown to people: edge's tables by name, like `ip rule` prints them. */
export function ruleDisplay(r: RuleLine, t: Topology): string {
  let spec = r.spec;
  for (const w of t.wans) spec = spec.replace(new RegExp(`lookup ${w.table}$`), `lookup ${w.tableName}`);
  return `${r.priority}: ${spec}`;
}

export function rulesInRange(facts: Facts, t: Topology, rules: RuleFact[] = facts.rules): RuleLine[] {
  const [from, to] = ruleRange(t);
  return rules.filter((r) => r.priority >= from && r.priority <= to).map((r) => ({ priority: r.priority, spec: ruleSpecOf(r, t, facts) }));
}

/** A route as `ip route show table N` prints it (the table itself omitted). */
export function routeText(r: RouteFact): string {
  return routeSpec(r, 'all');
}

/** The one route WAN's table should hold, or undefined when it should be empty. */
export function desiredRoute(w: Wan): string | undefined {
  if (!w.address || !w.gateway || !w.carrier) return undefined;
  return `default via ${w.gateway} dev ${w.ifname} proto static src ${w.address}`;
}

export interface TableState {
  wan: Wan;
  now: string[];
  want?: string;
  ok: boolean;
}

export interface RoutingDelta {
  /** Rules in edge's range that are not wanted (stale edge rules, e.g. an old DHCP address). */
  stale: RuleLine[];
  missing: RuleLine[];
  current: RuleLine[];
  desired: RuleLine[];
  tables: TableState[];
}

const key = (r: RuleLine) => `${r.priority}: ${r.spec}`;

export function routingDelta(t: Topology, facts: Facts): RoutingDelta {
  const tables = t.wans.map((w) => tableState(w, tableRoutes(facts, w.table, w.tableName), desiredRoute(w)));
  return delta(rulesInRange(facts, t), desiredRules(t, preferredWan(t, facts)), tables);
}

function tableState(wan: Wan, routes: RouteFact[], want: string | undefined): TableState {
  const now = routes.map(routeText);
  return { wan, now, want, ok: want ? now.length === 1 && now[0] === want : now.length === 0 };
}

function delta(current: RuleLine[], desired: RuleLine[], tables: TableState[]): RoutingDelta {
  const want = new Set(desired.map(key));
  const have = new Set(current.map(key));
  return {
    stale: current.filter((r) => !want.has(key(r))),
    missing: desired.filter((r) => !have.has(key(r))),
    current,
    desired,
    tables,
  };
}

// ---------------------------------------------------------------- IPv6 (translated mode)

/**
 * The IPv6 twin of desiredRules, in the `ip -6 rule` space (same priorities, same tables):
 * connected routes first, marks, each of the WANs' own addresses (SLAAC, DHCPv6),
 * guards, and the router's own unbound traffic by the preferred WAN.
 */
export function desiredRules6(t: Topology, v6: Wan6[], local: Wan = t.wan1): RuleLine[] {
  const P = t.priority;
  const out: RuleLine[] = [{ priority: P + RULE_OFFSETS.main, spec: 'from all lookup main suppress_prefixlength 0' }];
  t.wans.forEach((w, i) => out.push({ priority: P + RULE_OFFSETS.mark + i, spec: `from all fwmark ${hexMark(w.mark)} lookup ${w.table}` }));
  v6.forEach((w6, i) => {
    for (const a of new Set(w6.addresses.map((x) => x.address))) out.push({ priority: P + RULE_OFFSETS.source + i, spec: `from ${a} lookup ${w6.wan.table}` });
  });
  t.wans.forEach((w, i) => out.push({ priority: P + RULE_OFFSETS.guard + i, spec: `from all fwmark ${hexMark(w.mark)} unreachable` }));
  out.push({ priority: P + RULE_OFFSETS.local, spec: `from all iif lo lookup ${local.table}` });
  return out.sort((a, b) => a.priority - b.priority);
}

/** A WAN's IPv6 table: its RA default route (a link-local gateway) while it has one and a carrier. */
export function desiredRoute6(w6: Wan6): string | undefined {
  if (!w6.gateway || !w6.wan.carrier) return undefined;
  return `default via ${w6.gateway} dev ${w6.wan.ifname} proto static metric 1024`;
}

export function routingDelta6(t: Topology, facts: Facts, v6: Wan6[]): RoutingDelta {
  const routes = (w: Wan) => (facts.routes6 ?? []).filter((r) => r.table === String(w.table) || r.table === w.tableName);
  const tables = v6.map((w6) => tableState(w6.wan, routes(w6.wan), desiredRoute6(w6)));
  return delta(rulesInRange(facts, t, facts.rules6 ?? []), desiredRules6(t, v6, preferredWan(t, facts, PREFERRED_MAP6)), tables);
}

/**
 * Shell that removes `stale` and adds `missing` rules. Idempotent: deleting an absent rule is not an
 * error, and a rule is deleted before it is added (the kernel refuses an identical duplicate).
 */
export function rulesApply(stale: RuleLine[], missing: RuleLine[], family?: 6): string {
  const ip = family === 6 ? 'ip -6' : 'ip';
  const lines = [
    `edge_rule_del() { ${ip} rule del "$@" 2>/dev/null || true; }`,
    `edge_rule_add() { ${ip} rule del "$@" 2>/dev/null || true; ${ip} rule add "$@"; }`,
  ];
  for (const r of stale) lines.push(`edge_rule_del ${shJoin(['pref', String(r.priority), ...r.spec.split(' ')])}`);
  for (const r of missing) lines.push(`edge_rule_add ${shJoin(['pref', String(r.priority), ...r.spec.split(' ')])}`);
  return lines.join('\n');
}

/**
 * Shell that makes a WAN table hold exactly `want` (or nothing). The table is flushed only when it
 * holds routes (`flush`): the kernel refuses to flush a table that never existed.
 */
export function tableApply(table: number, flush: boolean, want: string | undefined, family?: 6): string {
  const ip = family === 6 ? 'ip -6' : 'ip';
  const lines = flush ? [`${ip} route flush table ${table}`] : [];
  if (want) lines.push(`${ip} route replace table ${table} ${shJoin(want.split(' '))}`);
  return lines.join('\n');
}

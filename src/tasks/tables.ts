import { z } from 'zod';
import type { Facts } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import { renderRoutingConf, renderRtTables, type PrefixFollow6, type RoutingConf } from '../render/conf.js';
import { runtimeDiff } from '../render/diff.js';
import { shQuote } from '../encode/index.js';
import type { Change, Task, TaskContext } from './contract.js';
import {
  desiredRoute,
  desiredRules,
  RULE_OFFSETS,
  ruleDisplay,
  ruleRange,
  routingDelta,
  routingDelta6,
  rulesInRange,
  type RoutingDelta,
} from './desired-routing.js';
import { lanAddresses6, resolveIpv6, type Ipv6On, type Ipv6Plan, type Wan6 } from './ipv6.js';
import { parsePrefix, prefixContains } from '../ipv4.js';
import { parsePrefix6 } from '../ipv6.js';
import { fileChange, type DesiredFile } from './file-change.js';
import { NFT_TABLE, PATHS } from './paths.js';
import { hexMark, notPlanned, resolveTopology, type Topology } from './wan.js';
import { taskParams } from './params.js';

export function tablesFiles(vars: HostVars, t: Topology, v6?: Ipv6Plan): DesiredFile[] {
  return [
    { path: PATHS.rtTables, content: renderRtTables(t.wans.map((w) => [w.table, w.tableName])), mode: '0644' },
    {
      path: PATHS.routingConf,
      mode: '0644',
      content: renderRoutingConf({
        wan1If: t.wan1.ifname,
        wan2If: t.wan2.ifname,
        lanIf: t.lan.ifname,
        mark1: hexMark(t.wan1.mark),
        mark2: hexMark(t.wan2.mark),
        table1: t.wan1.table,
        table2: t.wan2.table,
        table1Name: t.wan1.tableName,
        table2Name: t.wan2.tableName,
        priority: t.priority,
        gateway1: vars.edge_wan1_gateway,
        gateway2: vars.edge_wan2_gateway,
        ...(v6 && v6.mode !== 'off' ? { v6: routingConf6(vars, v6) } : {}),
      }),
    },
  ];
}

function routingConf6(vars: HostVars, v6: Ipv6On): RoutingConf['v6'] {
  const prefer = vars.edge_wan_mode === 'balance' ? 'both' : 'one';
  return { mode: v6.mode, lanAddresses: lanAddresses6(v6), ...(v6.mode === 'native' ? { prefer } : {}), follow: prefixFollow6(vars, v6) };
}

function prefixFollow6(vars: HostVars, v6: Ipv6On): PrefixFollow6 {
  const delegated = (w: Wan6) => (w.prefixFrom === 'DHCPv6-PD' ? w.prefix! : '');
  return {
    delegated: [delegated(v6.wan1), delegated(v6.wan2)],
    subnets: [v6.wan1.mapped!, v6.wan2.mapped!],
    id: vars.edge_ipv6_subnet,
    len: parsePrefix6(v6.wan1.mapped!)!.len,
  };
}

/** The runtime changes (routes, then rules) that make the live policy routing what edge wants, IPv4 then IPv6. */
export function routingChanges(t: Topology, facts: Facts, v6: Ipv6Plan): Change[] {
  const d6 = v6.mode !== 'off' ? routingDelta6(t, facts, v6.wans) : offDelta6(t, facts);
  return [...deltaChanges(t, routingDelta(t, facts)), ...deltaChanges(t, d6, 6)];
}

/** IPv6 off: nothing of edge's in the IPv6 rules and tables (what a translated run left is removed). */
function offDelta6(t: Topology, facts: Facts): RoutingDelta {
  const d = routingDelta6(t, facts, []);
  const current = rulesInRange(facts, t, facts.rules6 ?? []);
  return { stale: current, missing: [], current, desired: [], tables: d.tables.map((s) => ({ ...s, want: undefined, ok: s.now.length === 0 })) };
}

function deltaChanges(t: Topology, d: RoutingDelta, family?: 6): Change[] {
  const changes: Change[] = [];
  const ip = family === 6 ? 'ip -6' : 'ip';
  const wrong = d.tables.filter((s) => !s.ok);
  if (wrong.length) {
    // Routes first: a table's route changes nothing until a rule points at it.
    changes.push({
      summary: wrong.map((s) => `${family === 6 ? 'IPv6 ' : ''}table ${s.wan.tableName}: ${s.want ? s.want.split(' ').slice(0, 5).join(' ') : 'empty'}`).join(', '),
      diff: wrong.map((s) => runtimeDiff(`${ip} route table ${s.wan.tableName}`, s.now, s.want ? [s.want] : [])).join(''),
      ops: wrong.map((s) => ({ kind: 'routes', table: s.wan.table, flush: s.now.length > 0, want: s.want, ...(family ? { family } : {}) })),
    });
  }
  if (d.stale.length || d.missing.length) {
    const parts = [d.missing.length ? `+${d.missing.length}` : '', d.stale.length ? `-${d.stale.length}` : ''].filter(Boolean);
    changes.push({
      summary: `${family === 6 ? 'IPv6 ' : ''}ip rules ${ruleRange(t).join('-')}: ${parts.join(' ')}`,
      diff: runtimeDiff(
        `${ip} rules`,
        d.current.map((r) => ruleDisplay(r, t)),
        d.desired.map((r) => ruleDisplay(r, t)),
      ),
      ops: [{ kind: 'rules', range: ruleRange(t), remove: d.stale, add: d.missing, ...(family ? { family } : {}) }],
    });
  }
  return changes;
}

/**
 * Lockout preflight for routing: would the replies to edge's own SSH session leave by another
 * interface once edge's rules are in? Replies whose client is covered by a specific route in main
 * stay in main (rule P); replies sourced from a WAN's address follow that WAN's table (rule P+2x),
 * which cuts a session that reaches that address through another interface.
 */
export function routingLockout(t: Topology, facts: Facts): string[] {
  const s = facts.session;
  if (!s || s.clientAddress.includes(':')) return [];
  const w = t.wans.find((x) => x.address === s.serverAddress);
  if (!w || !desiredRoute(w)) return [];
  let best: { len: number; metric: number; dev?: string } | undefined;
  for (const r of facts.routes) {
    if (r.table !== 'main' || (r.type && r.type !== 'unicast')) continue;
    const p = parsePrefix(r.dst === 'default' ? '0.0.0.0/0' : r.dst);
    const c = parsePrefix(s.clientAddress);
    if (!p || !c || !prefixContains(p, c)) continue;
    const metric = r.metric ?? 0;
    if (!best || p.len > best.len || (p.len === best.len && metric < best.metric)) best = { len: p.len, metric, dev: r.dev };
  }
  if (!best || best.len > 0 || best.dev === w.ifname) return [];
  const i = t.wans.indexOf(w);
  return [
    `ip rule ${t.priority + RULE_OFFSETS.source + i} (from ${w.address} lookup ${w.tableName}) would send the replies to edge's session (${s.clientAddress} to ${s.serverAddress}:${s.serverPort}) out of ${w.ifname} instead of ${best.dev ?? 'the main default route'}: connect to the router through its management address, or through ${w.ifname}`,
  ];
}

function ipv6Note(v6: Ipv6Plan): string {
  if (v6.mode === 'off') return `IPv6 not routed by edge: ${v6.why}`;
  if (v6.mode === 'native') return `IPv6 native: ${v6.wans.map((w) => `${w.mapped} on the LAN leaves by ${w.wan.label}`).join(', ')}`;
  return `IPv6 translated: LAN ${v6.lanPrefix} leaves ${v6.wans.map((w) => `${w.wan.label} as ${w.mapped}`).join(', ')}`;
}

const params = taskParams.tables;

export const tablesTask: Task<z.infer<typeof params>> = {
  name: 'tables',
  description: 'a routing table and ip rules per WAN (marks, source addresses, guards), now',
  params,
  needs() {
    // The preferred_wan map says which WAN the router's own traffic follows (rule P+40).
    return { files: [PATHS.rtTables, PATHS.routingConf], nftTables: [NFT_TABLE] };
  },
  plan({ vars, facts }: TaskContext) {
    const r = resolveTopology(vars, facts);
    if (!r.ok) return notPlanned(r.missing);
    const changes: Change[] = [];
    const v6 = resolveIpv6(vars, facts, r.topology);
    for (const f of tablesFiles(vars, r.topology, v6)) {
      const c = fileChange(facts, f);
      if (c) changes.push(c);
    }
    const routing = routingChanges(r.topology, facts, v6);
    changes.push(...routing);
    const lockout = routing.length ? routingLockout(r.topology, facts) : [];
    const notes = r.topology.wans
      .filter((w) => !w.carrier || !w.address || !w.gateway)
      .map((w) => `${w.label} (${w.ifname}) is ${!w.carrier ? 'down' : !w.address ? 'without an IPv4 address' : 'without a gateway'}: table ${w.tableName} stays empty until it is back`);
    notes.push(ipv6Note(v6));
    return { changes, notes, ...(lockout.length ? { lockout } : {}) };
  },
  verify({ vars, facts }) {
    const r = resolveTopology(vars, facts);
    if (!r.ok) return undefined;
    // Every priority edge wants is taken; the verify task compares the rules exactly (edge-routes check).
    return desiredRules(r.topology)
      .map((d) => `[ -n "$(ip -4 rule show pref ${d.priority})" ] || edge_fail ${shQuote(`ip rule ${d.priority} is missing after apply`)}`)
      .join('\n');
  },
};

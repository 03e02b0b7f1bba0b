/**
 * Which WAN a new LAN flow takes, inside edge's table: steering rules in order, then the mode
 * (failover: the preferred_wan map; balance: numgen by weight). All decided in the kernel, once
 * per flow (conntrack keeps the mark); the switcher changes only elements (preferred_wan, avoid,
 * down), never the ruleset.
 *
 *   avoid  mark → mark  a WAN new flows must leave (dead, or degraded while the other is healthy)
 *                       mapped to the other; no element = nothing to avoid
 *   down   mark         WANs that are dead: an `only` rule drops their flows
 *
 * With translated IPv6, avoid6 and down6 are the same for IPv6 flows, from the IPv6 probes: a
 * WAN's IPv6 can die while its IPv4 works, and the other way round. Native IPv6 flows take the WAN
 * of their source prefix before any rule (see PolicyIpv6).
 */
import { nftComment, nftPrefix, nftPrefix6 } from '../encode/index.js';

export type PolicyMode = 'failover' | 'balance';

export interface NftSteerRule {
  name: string;
  /** The family its prefixes restrict it to (both are the same); none: both families. */
  family?: 4 | 6;
  source?: string;
  destination?: string;
  protocol?: 'tcp' | 'udp' | 'icmp';
  /** Destination port ranges, sorted and apart. */
  ports?: readonly (readonly [number, number])[];
  action: 'wan1' | 'wan2' | 'balance';
  onDown: 'fallback' | 'only';
}

export interface NftPolicy {
  mode: PolicyMode;
  weights: readonly [number, number];
  /** Seconds a LAN source keeps its balanced WAN after its last new flow; 0 = per flow only. */
  stickySeconds: number;
  rules: readonly NftSteerRule[];
}

export const AVOID_MAP = 'avoid';
export const DOWN_SET = 'down';
export const AVOID_MAP6 = 'avoid6';
export const DOWN_SET6 = 'down6';
export const STICKY_MAPS = { ipv4: 'sticky4', ipv6: 'sticky6' } as const;
/** Named counter of steering rule i (0-based): what `edge status` reads for its hits. */
export const steerCounter = (i: number) => `steer_${i + 1}`;

const hex = (n: number) => `0x${n.toString(16)}`;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** numgen over the reduced weights: 3:1 → `numgen random mod 4 map { 0-2 : 0x1, 3 : 0x2 }`. */
export function balanceExpr(weights: readonly [number, number], marks: readonly [number, number]): string {
  const g = gcd(weights[0], weights[1]);
  const [a, b] = [weights[0] / g, weights[1] / g];
  const span = (lo: number, hi: number) => (lo === hi ? `${lo}` : `${lo}-${hi}`);
  return `numgen random mod ${a + b} map { ${span(0, a - 1)} : ${hex(marks[0])}, ${span(a, a + b - 1)} : ${hex(marks[1])} }`;
}

/** The match part of a steering rule (empty: every new LAN flow). */
export function steerMatch(r: NftSteerRule): string {
  const parts: string[] = [];
  const [ip, prefix] = r.family === 6 ? ['ip6', nftPrefix6] : ['ip', nftPrefix];
  if (r.source) parts.push(`${ip} saddr ${prefix(r.source)}`);
  if (r.destination) parts.push(`${ip} daddr ${prefix(r.destination)}`);
  // icmp: the ICMP of the flow's family
  if (r.protocol === 'icmp') parts.push(`meta l4proto ${r.family === 4 ? 'icmp' : r.family === 6 ? 'ipv6-icmp' : '{ icmp, ipv6-icmp }'}`);
  else if (r.protocol) parts.push(`meta l4proto ${r.protocol}`);
  if (r.ports?.length) {
    const ps = r.ports.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`));
    parts.push(`${r.protocol} dport ${ps.length === 1 ? ps[0] : `{ ${ps.join(', ')} }`}`);
  }
  return parts.join(' ');
}

function steerRuleLine(r: NftSteerRule, i: number, marks: readonly [number, number]): string {
  const action =
    r.action === 'balance'
      ? 'goto balance'
      : `ct mark set ${hex(marks[r.action === 'wan1' ? 0 : 1])} goto ${r.onDown === 'only' ? 'only' : 'fallback'}`;
  const match = steerMatch(r);
  return `\t\t${match ? `${match} ` : ''}counter name "${steerCounter(i)}" ${action} comment ${nftComment(`steering ${r.name}`)}`;
}

/** Declarations: one counter per steering rule, the switcher's avoid map and down set (and IPv6's with `ipv6`), the sticky maps. */
export function renderPolicyObjects(p: NftPolicy, ipv6 = false): string {
  const counters = p.rules.map((r, i) => `\tcounter ${steerCounter(i)} {\n\t\tcomment ${nftComment(`steering ${r.name}`)}\n\t}`);
  const avoidDown = (avoid: string, down: string) => `\tmap ${avoid} {
\t\ttype mark : mark
\t}

\tset ${down} {
\t\ttype mark
\t}`;
  const switcher = `\t# edge-failover's view of the WANs (elements only; empty while both are healthy)${ipv6 ? ', IPv4 and IPv6' : ''}.
${avoidDown(AVOID_MAP, DOWN_SET)}${ipv6 ? `\n\n${avoidDown(AVOID_MAP6, DOWN_SET6)}` : ''}`;
  const sticky = (['ipv4', 'ipv6'] as const).map(
    (f) => `\t# LAN source -> the WAN balance gave it, forgotten ${p.stickySeconds}s after its last new flow.
\tmap ${STICKY_MAPS[f]} {
\t\ttype ${f}_addr : mark
\t\tflags dynamic,timeout
\t\ttimeout ${p.stickySeconds}s
\t}`,
  );
  return `${[...counters, switcher, ...(p.stickySeconds ? sticky : [])].join('\n\n')}\n`;
}

/**
 * How new LAN IPv6 flows get their WAN: translated, from their own preferred map (IPv6 health
 * decides it); native, from their source prefix (each ISP's /64 leaves by that ISP and no other).
 */
export type PolicyIpv6 = { kind: 'translated'; map: string } | { kind: 'native'; prefixes: readonly [string, string] };

/**
 * The chains a new LAN flow goes through. `lan_new` is jumped to once per flow (ct mark 0); it sets
 * the flow's ct mark, or drops the flow (an `only` rule whose WAN is down).
 */
export function renderPolicyChains(p: NftPolicy, lan: string, marks: readonly [number, number], v6?: PolicyIpv6): string {
  const pinned = `ct mark set iifname map @preferred_wan counter comment "new LAN flows pinned"`;
  // Native IPv6 never reaches the rules or the mode: a flow sourced from one ISP's prefix would be
  // dropped by the other ISP (BCP 38), so the source decides; a source of neither returns unmarked
  // and the leak guard stops it at a WAN.
  const native =
    v6?.kind === 'native'
      ? `\t\tmeta nfproto ipv6 ct mark set ip6 saddr map { ${nftPrefix6(v6.prefixes[0])} : ${hex(marks[0])}, ${nftPrefix6(v6.prefixes[1])} : ${hex(marks[1])} } counter return comment "native IPv6: the WAN of the source prefix"\n\t\tmeta nfproto ipv6 counter return comment "native IPv6: a source of neither ISP's prefix"\n`
      : '';
  const modeLine =
    p.mode === 'balance'
      ? '\t\tgoto balance'
      : v6?.kind === 'translated'
        ? `\t\tmeta nfproto ipv6 ct mark set iifname map @${v6.map} counter comment "new LAN IPv6 flows pinned"\n\t\tmeta nfproto ipv4 ${pinned}`
        : `\t\t${pinned}`;
  // With IPv6 each family avoids and drops by its own WAN states (native IPv6 flows never get here).
  const byFamily = (line: (avoid: string, down: string) => string) =>
    v6 ? `\t\tmeta nfproto ipv4 ${line(AVOID_MAP, DOWN_SET)}\n\t\tmeta nfproto ipv6 ${line(AVOID_MAP6, DOWN_SET6)}` : `\t\t${line(AVOID_MAP, DOWN_SET)}`;
  const avoid = byFamily((a) => `ct mark set ct mark map @${a}`);
  const { ipv4: s4, ipv6: s6 } = STICKY_MAPS;
  const stickyLookup = p.stickySeconds ? `\t\tct mark set ip saddr map @${s4}\n\t\tct mark set ip6 saddr map @${s6}\n` : '';
  // update adds a source's first WAN and refreshes its timeout; it never rewrites the WAN stored.
  const stickyUpdate = p.stickySeconds ? `\n\t\tupdate @${s4} { ip saddr : ct mark }\n\t\tupdate @${s6} { ip6 saddr : ct mark }` : '';
  return `
\t# New LAN flows (from ${lan}): steering rules first, in order, then the mode (${p.mode}).
\tchain lan_new {
${native}${p.rules.map((r, i) => `${steerRuleLine(r, i, marks)}\n`).join('')}${modeLine}
\t}

\t# A steering rule's WAN, or the other one when edge-failover says to avoid it.
\tchain fallback {
${avoid}
\t}

\t# A steering rule's WAN and no other: its flows are dropped while it is down.
\tchain only {
${byFamily((_, d) => `ct mark @${d} counter drop comment "steering only: its WAN is down"`)}
\t}

\t# By weight, ${p.weights[0]}:${p.weights[1]}, per new flow${p.stickySeconds ? ` (per LAN source for ${p.stickySeconds}s)` : ''}; never to a WAN to avoid.
\tchain balance {
${stickyLookup}\t\tct mark 0 ct mark set ${balanceExpr(p.weights, marks)}
${avoid}${stickyUpdate}
\t}
`;
}

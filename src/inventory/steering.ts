/**
 * Steering rules (edge_steering): which WAN a new LAN flow takes, decided in order before the mode.
 * Pure helpers for the inventory's checks (ports, dead rules); the schema is in vars.ts.
 */
import { parsePrefix, prefixContains } from '../ipv4.js';
import { parsePrefix6, prefix6Contains } from '../ipv6.js';

export type SteerAction = 'wan1' | 'wan2' | 'balance';
export type SteerOnDown = 'fallback' | 'only';
export type SteerProtocol = 'tcp' | 'udp' | 'icmp';

/** A rule as the inventory gives it (after zod's parse). */
export interface SteeringRule {
  name: string;
  source?: string;
  destination?: string;
  protocol?: SteerProtocol;
  ports?: (number | string)[];
  action: SteerAction;
  on_down: SteerOnDown;
}

export type PortRange = readonly [number, number];

/** 5060 → [5060, 5060]; "10000-20000" → [10000, 20000]; undefined when not a port or a range lo ≤ hi. */
export function portRange(p: number | string): PortRange | undefined {
  const m = typeof p === 'number' ? [String(p), String(p), String(p)] : /^(\d{1,5})-(\d{1,5})$/.exec(p);
  if (!m) return undefined;
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  return Number.isInteger(lo) && lo >= 1 && hi <= 65535 && lo <= hi ? [lo, hi] : undefined;
}

/** The ranges of a rule's ports, sorted by their start (an nft interval set wants them apart). */
export function portRanges(ports: readonly (number | string)[]): PortRange[] {
  return ports
    .map(portRange)
    .filter((r): r is PortRange => r !== undefined)
    .sort((a, b) => a[0] - b[0]);
}

/** The index of the first port that overlaps one before it (nft refuses "conflicting intervals"). */
export function overlappingPort(ports: readonly (number | string)[]): { index: number; other: number } | undefined {
  const ranges = ports.map(portRange);
  for (let j = 0; j < ranges.length; j++) {
    const b = ranges[j];
    const i = b ? ranges.slice(0, j).findIndex((a) => a !== undefined && a[0] <= b[1] && b[0] <= a[1]) : -1;
    if (i >= 0) return { index: j, other: i };
  }
  return undefined;
}

/** The family a rule's prefixes restrict it to; undefined: it has none and matches both. */
export function ruleFamily(r: Pick<SteeringRule, 'source' | 'destination'>): 4 | 6 | undefined {
  const p = r.source ?? r.destination;
  return p === undefined ? undefined : p.includes(':') ? 6 : 4;
}

function prefixCovers(outer: string | undefined, inner: string | undefined): boolean {
  if (outer === undefined) return true;
  // a prefix of one family never covers all of a rule that has none or the other
  if (inner === undefined || outer.includes(':') !== inner.includes(':')) return false;
  if (outer.includes(':')) {
    const [o6, i6] = [parsePrefix6(outer), parsePrefix6(inner)];
    return o6 !== undefined && i6 !== undefined && prefix6Contains(o6, i6);
  }
  const o = parsePrefix(outer);
  const i = parsePrefix(inner);
  return o !== undefined && i !== undefined && prefixContains(o, i);
}

function portsCover(outer: SteeringRule['ports'], inner: SteeringRule['ports']): boolean {
  if (outer === undefined) return true;
  if (inner === undefined) return false;
  const o = portRanges(outer);
  return portRanges(inner).every(([lo, hi]) => {
    // Walk the outer ranges in order, extending what is covered from lo.
    let next = lo;
    for (const [a, b] of o) if (a <= next && b >= next) next = b + 1;
    return next > hi;
  });
}

/** Does every flow `later` matches also match `earlier`? */
export function covers(earlier: SteeringRule, later: SteeringRule): boolean {
  return (
    prefixCovers(earlier.source, later.source) &&
    prefixCovers(earlier.destination, later.destination) &&
    (earlier.protocol === undefined || earlier.protocol === later.protocol) &&
    portsCover(earlier.ports, later.ports)
  );
}

/** For each rule no flow can reach (an earlier rule matches all it matches): its index and the earlier one's. */
export function deadRules(rules: readonly SteeringRule[]): { index: number; by: number }[] {
  const out: { index: number; by: number }[] = [];
  rules.forEach((r, j) => {
    const by = rules.slice(0, j).findIndex((e) => covers(e, r));
    if (by >= 0) out.push({ index: j, by });
  });
  return out;
}

import { UNITS } from '../tasks/paths.js';
import { hasDrift, type HostStatus, type WanName } from './status.js';

/**
 * `edge status` for a fleet, the pure part: what each router's status says is wrong with it
 * (its concerns, worst first), and the fleet's figures — how many routers on each WAN, degraded,
 * down, drifted, unreachable — that the text view and `--json` both show.
 */

/** What can be wrong with a router, worst first (the order routers are listed in). */
export const CONCERNS = ['unreachable', 'no-wan', 'failover-off', 'both-down', 'down', 'degraded', 'drift', 'on-wan2'] as const;
export type ConcernKind = (typeof CONCERNS)[number];

export interface Concern {
  kind: ConcernKind;
  /** One line for people: "wan1 down", "edge-probe inactive", "3 changes pending". */
  text: string;
}

/** The units without which a cut would not be failed over (their names as status reports them). */
const FAILOVER_UNITS = [UNITS.edgeProbe, UNITS.keepalived].map((u) => u.replace(/\.service$/, ''));

const rank = (c: ConcernKind) => CONCERNS.indexOf(c);

/** A router's concerns, worst first; none for a router that is fine on WAN1. */
export function concernsOf(h: HostStatus): Concern[] {
  if (!h.ok) return [{ kind: 'unreachable', text: `unreachable: ${h.error ?? 'no answer'}` }];
  const out: Concern[] = [];
  // The note's head is enough on one line ("map preferred_wan not found"); the block has the rest.
  if (!h.preferred || h.preferred === 'unknown') out.push({ kind: 'no-wan', text: h.preferredNote?.split(':')[0] ?? 'no preferred WAN' });
  const off = FAILOVER_UNITS.filter((u) => h.units[u] !== undefined && h.units[u] !== 'active');
  if (off.length && h.preferred && h.preferred !== 'unknown') out.push({ kind: 'failover-off', text: `failover off: ${off.map((u) => `${u} ${h.units[u]}`).join(', ')}` });
  const down = h.wans.filter((w) => w.state === 'down').map((w) => w.wan);
  if (down.length === 2) out.push({ kind: 'both-down', text: 'both WANs down' });
  else if (down.length === 1) out.push({ kind: 'down', text: `${down[0]} down` });
  const degraded = h.wans.filter((w) => w.state === 'degraded').map((w) => w.wan);
  if (degraded.length) out.push({ kind: 'degraded', text: `${degraded.join(', ')} degraded` });
  if (hasDrift(h.drift)) {
    const d = h.drift!;
    out.push({ kind: 'drift', text: d.pending > 0 ? `${d.pending} change${d.pending === 1 ? '' : 's'} pending` : 'the playbook refuses it' });
  }
  if (h.preferred === 'wan2') out.push({ kind: 'on-wan2', text: 'on WAN2' });
  return out.sort((a, b) => rank(a.kind) - rank(b.kind));
}

export interface FleetRouter {
  host: string;
  preferred?: WanName | 'unknown';
  concerns: Concern[];
}

export interface FleetSummary {
  routers: number;
  /** Routers whose new flows use each WAN; `unknown`: edge's map not loaded or unreadable (unreachable routers are not counted). */
  onWan: { wan1: number; wan2: number; unknown: number };
  /** Routers with a WAN degraded, with one or both WANs down, failover off, drifted, unreachable. */
  degraded: number;
  down: number;
  bothDown: number;
  failoverOff: number;
  drifted: number;
  unreachable: number;
  /** Every router with a concern, worst first (then by name); routers fine on WAN1 are not listed. */
  worst: FleetRouter[];
}

/** The fleet's figures and its routers worst first. */
export function fleetSummary(hosts: readonly HostStatus[]): FleetSummary {
  const rows = hosts.map((h) => ({ host: h.host, preferred: h.ok ? h.preferred : undefined, concerns: concernsOf(h) }));
  const has = (r: FleetRouter, ...k: ConcernKind[]) => r.concerns.some((c) => k.includes(c.kind));
  const count = (...k: ConcernKind[]) => rows.filter((r) => has(r, ...k)).length;
  const reachable = hosts.filter((h) => h.ok);
  const worst = rows
    .filter((r) => r.concerns.length > 0)
    .sort((a, b) => rank(a.concerns[0]!.kind) - rank(b.concerns[0]!.kind) || b.concerns.length - a.concerns.length || a.host.localeCompare(b.host));
  return {
    routers: hosts.length,
    onWan: {
      wan1: reachable.filter((h) => h.preferred === 'wan1').length,
      wan2: reachable.filter((h) => h.preferred === 'wan2').length,
      unknown: reachable.filter((h) => !h.preferred || h.preferred === 'unknown').length,
    },
    degraded: count('degraded'),
    down: count('down', 'both-down'),
    bothDown: count('both-down'),
    failoverOff: count('failover-off'),
    drifted: count('drift'),
    unreachable: count('unreachable'),
    worst,
  };
}

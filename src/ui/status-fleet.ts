import type { FleetRouter, FleetSummary } from '../engine/status-fleet.js';

/**
 * `edge status` for a fleet on one screen, whatever its size: the figures, then one line per
 * router that needs a look, worst first, as many as the screen holds, and a last line for the rest.
 *
 *   edge status at 2026-12-06T00:10:00Z: 200 routers
 *     on WAN1 180   on WAN2 15   no WAN 2   unreachable 3
 *     down 4 (both 1)   degraded 3   failover off 1   drifted 2
 *     ROUTER  NEW FLOWS  WHAT NEEDS A LOOK
 *     r17     -          unreachable: connect ETIMEDOUT
 *     r3      WAN2       wan1 down
 *     … 9 more (2 drifted, 7 on WAN2); 170 fine on WAN1
 *
 * Pure: the caller passes the summary, the screen's rows and whether to colour.
 */

export interface FleetTextOptions {
  color?: boolean;
  at?: Date;
  /** Lines the view may take (the terminal's rows; 24 off a terminal). */
  rows?: number;
  columns?: number;
}

const paint = (on: boolean | undefined, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

function cut(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The two lines of figures. */
export function fleetFigures(f: FleetSummary): string[] {
  const where = [`on WAN1 ${f.onWan.wan1}`, `on WAN2 ${f.onWan.wan2}`];
  if (f.onWan.unknown) where.push(`no WAN ${f.onWan.unknown}`);
  where.push(`unreachable ${f.unreachable}`);
  const health = [`down ${f.down}${f.bothDown ? ` (both ${f.bothDown})` : ''}`, `degraded ${f.degraded}`];
  if (f.failoverOff) health.push(`failover off ${f.failoverOff}`);
  health.push(`drifted ${f.drifted}`);
  return [where.join('   '), health.join('   ')];
}

function routerLine(r: FleetRouter, nameWidth: number, width: number, color: boolean | undefined): string {
  const host = cut(r.host, nameWidth);
  const flows = r.preferred === undefined || r.preferred === 'unknown' ? '-' : r.preferred.toUpperCase();
  const shown = r.concerns.filter((c) => c.kind !== 'on-wan2');
  const what = cut(shown.length ? shown.map((c) => c.text).join('; ') : 'on WAN2', Math.max(8, width - nameWidth - 13));
  const bad = r.concerns[0] && ['unreachable', 'no-wan', 'failover-off', 'both-down'].includes(r.concerns[0].kind);
  return `${host.padEnd(nameWidth)}  ${flows.padEnd(9)}  ${bad ? paint(color, '31', what) : what}`;
}

/** What the routers left off the screen have, by their worst concern. */
function restLine(rest: readonly FleetRouter[], fine: number): string {
  const by = new Map<string, number>();
  const label: Record<string, string> = {
    unreachable: 'unreachable', 'no-wan': 'no WAN', 'failover-off': 'failover off', 'both-down': 'both WANs down',
    down: 'a WAN down', degraded: 'degraded', drift: 'drifted', 'on-wan2': 'on WAN2',
  };
  for (const r of rest) by.set(label[r.concerns[0]!.kind]!, (by.get(label[r.concerns[0]!.kind]!) ?? 0) + 1);
  const parts = [...by].map(([k, n]) => `${n} ${k}`).join(', ');
  const more = rest.length ? `… ${rest.length} more (${parts})` : '';
  const ok = fine ? `${fine} fine on WAN1` : '';
  return [more, ok].filter(Boolean).join('; ');
}

export function fleetText(f: FleetSummary, opts: FleetTextOptions = {}): string {
  const width = opts.columns ?? 80;
  const at = opts.at ? ` at ${opts.at.toISOString().replace(/\.\d{3}Z$/, 'Z')}` : '';
  const lines = [`edge status${at}: ${plural(f.routers, 'router')}`, ...fleetFigures(f).map((l) => `  ${l}`)];
  const fine = f.routers - f.worst.length;
  if (f.worst.length === 0) return [...lines, `  all ${plural(f.routers, 'router')} fine on WAN1, no drift`].join('\n');
  // The table's heading and a possible last line take two of the rows.
  const room = Math.max(1, (opts.rows ?? 24) - lines.length - 2);
  const shown = f.worst.length <= room + 1 ? f.worst : f.worst.slice(0, room);
  const nameWidth = Math.min(24, Math.max(6, ...shown.map((r) => r.host.length)));
  lines.push(`  ${'ROUTER'.padEnd(nameWidth)}  NEW FLOWS  WHAT NEEDS A LOOK`);
  lines.push(...shown.map((r) => `  ${routerLine(r, nameWidth, width - 2, opts.color)}`));
  const rest = restLine(f.worst.slice(shown.length), fine);
  if (rest) lines.push(`  ${cut(rest, width - 2)}`);
  return lines.join('\n');
}

import { describe, expect, it } from 'vitest';
import { screenText } from '../../../src/commands/status.js';
import { concernsOf, fleetSummary } from '../../../src/engine/status-fleet.js';
import type { HostStatus, WanStatus } from '../../../src/engine/status.js';
import { fleetText } from '../../../src/ui/status-fleet.js';

/** A reachable, applied router: preferred WAN, each WAN's state, units, drift. */
function router(host: string, o: { on?: 'wan1' | 'wan2' | 'unknown'; wan1?: WanStatus['state']; wan2?: WanStatus['state']; probe?: string; pending?: number } = {}): HostStatus {
  const wan = (w: 'wan1' | 'wan2', state: WanStatus['state']): WanStatus => ({ wan: w, mark: w === 'wan1' ? '0x1' : '0x2', state });
  return {
    host,
    ok: true,
    preferred: o.on ?? 'wan1',
    wans: [wan('wan1', o.wan1 ?? 'up'), wan('wan2', o.wan2 ?? 'up')],
    units: { keepalived: 'active', 'edge-probe': o.probe ?? 'active', 'edge-routes': 'active', 'edge-nftables': 'active' },
    drift: { playbook: 'pb.yaml', pending: o.pending ?? 0, tasks: [{ task: 'sysctl', changes: o.pending ?? 0, summaries: [] }] },
    execs: 1,
    ms: 5,
  };
}
const unreachable = (host: string): HostStatus => ({ host, ok: false, error: 'connect ETIMEDOUT', wans: [], units: {}, execs: 0, ms: 10_000 });

/** 200 routers: 170 fine, 15 on WAN2 after a WAN1 cut, 5 degraded, 4 drifted, 3 unreachable, 2 with both WANs down, 1 with the prober stopped. */
function fleet(): HostStatus[] {
  const out: HostStatus[] = [];
  let i = 0;
  const add = (n: number, make: (name: string) => HostStatus) => {
    for (let k = 0; k < n; k++) out.push(make(`rtr${String(++i).padStart(3, '0')}`));
  };
  add(170, (n) => router(n));
  add(15, (n) => router(n, { on: 'wan2', wan1: 'down' }));
  add(5, (n) => router(n, { wan1: 'degraded' }));
  add(4, (n) => router(n, { pending: 2 }));
  add(3, unreachable);
  add(2, (n) => router(n, { on: 'wan1', wan1: 'down', wan2: 'down' }));
  add(1, (n) => router(n, { probe: 'inactive' }));
  return out.reverse();
}

describe('edge status for a fleet', () => {
  it("a router's concerns, worst first", () => {
    expect(concernsOf(router('a'))).toEqual([]);
    expect(concernsOf(router('b', { on: 'wan2', wan1: 'down', pending: 1 })).map((c) => c.text)).toEqual(['wan1 down', '1 change pending', 'on WAN2']);
    expect(concernsOf(router('c', { probe: 'failed', wan2: 'degraded' })).map((c) => c.kind)).toEqual(['failover-off', 'degraded']);
    expect(concernsOf(router('d', { on: 'unknown' }))[0]!.kind).toBe('no-wan');
    expect(concernsOf(unreachable('e'))).toEqual([{ kind: 'unreachable', text: 'unreachable: connect ETIMEDOUT' }]);
  });

  it('the figures: routers on each WAN, down, degraded, drifted, unreachable; the worst listed first', () => {
    const f = fleetSummary(fleet());
    expect(f).toMatchObject({ routers: 200, onWan: { wan1: 182, wan2: 15, unknown: 0 }, down: 17, bothDown: 2, degraded: 5, failoverOff: 1, drifted: 4, unreachable: 3 });
    expect(f.worst).toHaveLength(30);
    expect(f.worst.map((r) => r.concerns[0]!.kind).slice(0, 6)).toEqual(['unreachable', 'unreachable', 'unreachable', 'failover-off', 'both-down', 'both-down']);
    expect(f.worst.at(-1)!.concerns[0]!.kind).toBe('drift');
  });

  it('fits one screen (24 × 80) at 200 routers, and says what it left off', () => {
    const text = fleetText(fleetSummary(fleet()), { at: new Date('2026-12-06T00:10:00.500Z') });
    const lines = text.split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
    expect(lines.slice(0, 4)).toEqual([
      'edge status at 2026-12-06T00:10:00Z: 200 routers',
      '  on WAN1 182   on WAN2 15   unreachable 3',
      '  down 17 (both 2)   degraded 5   failover off 1   drifted 4',
      '  ROUTER  NEW FLOWS  WHAT NEEDS A LOOK',
    ]);
    expect(lines[4]).toBe('  rtr195  -          unreachable: connect ETIMEDOUT');
    expect(lines[7]).toBe('  rtr200  WAN1       failover off: edge-probe inactive');
    expect(lines.at(-1)).toBe('  … 11 more (2 a WAN down, 5 degraded, 4 drifted); 170 fine on WAN1');
    // more rows, more routers; fewer, fewer — never more lines than rows
    expect(fleetText(fleetSummary(fleet()), { rows: 40 }).split('\n')).toHaveLength(34 + 1);
    expect(fleetText(fleetSummary(fleet()), { rows: 10 }).split('\n')).toHaveLength(10);
  });

  it('a healthy fleet is four lines; a small one keeps every router\'s block', () => {
    const healthy = Array.from({ length: 50 }, (_, i) => router(`r${i}`));
    expect(fleetText(fleetSummary(healthy)).split('\n')).toEqual([
      'edge status: 50 routers',
      '  on WAN1 50   on WAN2 0   unreachable 0',
      '  down 0   degraded 0   drifted 0',
      '  all 50 routers fine on WAN1, no drift',
    ]);
    const at = new Date('2026-12-06T00:10:00Z');
    const one = [router('r1', { on: 'wan2', wan1: 'down' })];
    expect(screenText(one, fleetSummary(one), { color: false, at, rows: 24 })).toMatch(/^edge status at .*: 1 router, 1 on WAN2\n\nr1: new flows use WAN2/);
    expect(screenText(healthy, fleetSummary(healthy), { color: false, at, rows: 24 })).toMatch(/^edge status at .*: 50 routers\n {2}on WAN1 50/);
  });
});

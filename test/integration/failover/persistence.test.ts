import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';
import {
  addressOf,
  applyFailover,
  failoverStatus,
  healthyIsps,
  journal,
  pollFor,
  probeTrace,
  report,
  routesSettled,
  secs,
  switches,
  tableRoutes,
  timingOf,
  waitSettled,
  waitVia,
} from './helpers.js';

/**
 * Issue 4, scenarios 3, 4 and 5 on lab r2: WAN1's table and rules come back by themselves after a
 * link flap, a DHCP gateway change and a boot with WAN1 down — no edge run in between (proven by
 * the router's snapshot list: every edge run that changes a host leaves one).
 */
describe.skipIf(!isRoot)('failover playbook: tables and rules come back by themselves (r2)', () => {
  let lab: Lab;
  const router = 'r2';
  let t: ReturnType<typeof timingOf>;
  const MARGIN_MS = 8_000;

  const snapshots = async () => (await lab.run(router, ['bash', '-c', 'ls -1 /var/lib/edge/snapshots 2>/dev/null | sort'])).stdout;
  const wanRoute = (dev: string, gw: string, addr: string) => `default via ${gw} dev ${dev} proto static src ${addr}`;
  const wan1Route = (gw: string, addr: string) => wanRoute('wan1', gw, addr);

  beforeAll(async () => {
    lab = await ensureLab();
    await healthyIsps(lab, router);
    await applyFailover(lab, [router]);
    t = timingOf(lab, router);
  });

  afterEach(async () => {
    await healthyIsps(lab, router);
  });

  it('3. WAN1 link down, then up: switch to WAN2 and back, and table wan1 comes back without any edge run', async () => {
    await waitSettled(lab, router);
    const before = await snapshots();
    const r = lab.router(router);
    const addr = (await addressOf(lab, router, 'wan1'))!;
    expect(await tableRoutes(lab, router, 'wan1')).toBe(wan1Route(r.isp1.gateway, addr));

    await lab.fault(router, 'wan1', { kind: 'link-down' });
    const down = Date.now();
    const sw = await waitVia(lab, router, 'wan2', down, t.fallWindow * 1000 + 30_000);
    const emptied = await pollFor('table wan1 to be emptied', 10_000, async () => ((await tableRoutes(lab, router, 'wan1')) === '' ? true : undefined));
    report('3 link down/up', `link down: new flows via wan2 after ${secs(sw.ms)} (probes: ${probeTrace(sw)}); table wan1 empty ${secs(Date.now() - down)} after the cut`);
    expect(sw.ms, probeTrace(sw)).toBeDefined();
    expect(sw.ms!).toBeLessThan(t.fallWindow * 1000 + MARGIN_MS);
    expect(emptied.value).toBe(true);
    // an empty table is what edge wants while WAN1 has no carrier; the switch now comes before
    // edge-routes' debounced reconcile has dropped the lost address's rule, so wait for it
    expect(await routesSettled(lab, router)).toBe('');

    await lab.fault(router, 'wan1', { kind: 'clear' });
    const up = Date.now();
    const table = await pollFor('table wan1 to come back', 60_000, async () => {
      const rt = await tableRoutes(lab, router, 'wan1');
      return rt.startsWith('default via') ? rt : undefined;
    });
    const addrNow = (await addressOf(lab, router, 'wan1'))!;
    const back = await waitVia(lab, router, 'wan1', up, 60_000 + t.riseWindow * 1000);
    const logged = await journal(lab, router, 'edge-routes', down);
    report(
      '3 link down/up',
      `link up: table wan1 back after ${secs(table.ms)} ("${table.value}"), new flows via wan1 after ${secs(back.ms)} (rise window ${t.riseWindow} s + DHCP; probes: ${probeTrace(back)}); edge-routes: ${logged.map((l) => l.text).join(' / ')}`,
    );
    expect(table.value).toBe(wan1Route(r.isp1.gateway, addrNow));
    expect(back.ms, probeTrace(back)).toBeDefined();
    expect(await routesSettled(lab, router)).toBe('');
    expect(await snapshots()).toBe(before); // no edge run did it
  }, 240_000);

  it('4. WAN1 DHCP gateway changes: table wan1 follows without any edge run', async () => {
    await waitSettled(lab, router);
    const before = await snapshots();
    const r = lab.router(router);
    const addr = (await addressOf(lab, router, 'wan1'))!;
    expect(await tableRoutes(lab, router, 'wan1')).toBe(wan1Route(r.isp1.gateway, addr));
    const from = Date.now();
    try {
      await lab.gateway(router, 'alternate');
      const renewed = Date.now();
      const follow = await pollFor('table wan1 to follow the new gateway', 15_000, async () => {
        const rt = await tableRoutes(lab, router, 'wan1');
        return rt === wan1Route(r.isp1.altGateway!, addr) ? rt : undefined;
      });
      report('4 DHCP gateway', `lease renewed with gateway ${r.isp1.altGateway} in ${secs(renewed - from)}; table wan1 followed ${secs(follow.ms)} later: "${follow.value}"`);
      expect(await routesSettled(lab, router)).toBe('');
      // Traffic and the health check use the new gateway, and nothing switched.
      const p = await lab.probe(router, { count: 3 });
      expect(p.via).toBe('wan1');
      const neigh = await lab.run(router, ['ip', 'neigh', 'show', 'dev', 'wan1', r.isp1.altGateway!]);
      expect(neigh.stdout).toMatch(/REACHABLE|STALE|DELAY|PROBE/);
      expect((await lab.run(router, ['/usr/local/sbin/edge-health', 'wan1'])).code).toBe(0);
      expect((await switches(lab, router, from)).map((l) => l.text)).toEqual([]);
    } finally {
      await lab.gateway(router, 'primary');
    }
    const restored = await pollFor('table wan1 to follow the primary gateway again', 15_000, async () =>
      (await tableRoutes(lab, router, 'wan1')) === wan1Route(r.isp1.gateway, addr) ? true : undefined,
    );
    report('4 DHCP gateway', `back to ${r.isp1.gateway}: table wan1 followed in ${secs(restored.ms)}`);
    expect(await snapshots()).toBe(before);
  }, 120_000);

  it('5. reboot with WAN1 down: the router comes up using WAN2 and fails back when WAN1 returns', async () => {
    const before = await snapshots();
    const r = lab.router(router);
    await lab.fault(router, 'wan1', { kind: 'link-down' });
    const t0 = Date.now();
    await lab.reboot(router);
    const booted = Date.now();
    const onWan2 = await waitVia(lab, router, 'wan2', booted, 90_000);
    const st = await failoverStatus(lab, router);
    report(
      '5 reboot, WAN1 down',
      `reboot took ${secs(booted - t0)}; new flows via wan2 ${secs(onWan2.ms)} after the router was up (probes: ${probeTrace(onWan2)}); wan1 ${st['wan1.state']}/${st['wan1.keepalived']}, wan2 ${st['wan2.state']}/${st['wan2.keepalived']}`,
    );
    expect(onWan2.ms, probeTrace(onWan2)).toBeDefined();
    // Everything edge installed is back: rules (checked against the live state), the ruleset, the units.
    expect(await routesSettled(lab, router)).toBe('');
    expect(await tableRoutes(lab, router, 'wan1')).toBe('');
    expect(await tableRoutes(lab, router, 'wan2')).toBe(wanRoute('wan2', r.isp2.gateway, r.isp2.routerAddress!));
    const units = await lab.run(router, ['systemctl', 'is-active', 'edge-routes', 'edge-nftables', 'keepalived'], { allowFail: true });
    expect(units.stdout.trim().split('\n')).toEqual(['active', 'active', 'active']);
    expect(st['preferred']).toBe('wan2');

    await lab.fault(router, 'wan1', { kind: 'clear' });
    const up = Date.now();
    const back = await waitVia(lab, router, 'wan1', up, 90_000);
    const rt = await tableRoutes(lab, router, 'wan1');
    report('5 reboot, WAN1 down', `WAN1 link back: new flows via wan1 after ${secs(back.ms)} (DHCP + rise window ${t.riseWindow} s; probes: ${probeTrace(back)}); table wan1 "${rt}"`);
    expect(back.ms, probeTrace(back)).toBeDefined();
    expect(rt).toMatch(/^default via \S+ dev wan1 proto static src /);
    expect(await routesSettled(lab, router)).toBe('');
    expect(await snapshots()).toBe(before);
  }, 300_000);
});

import { describe, expect, it } from 'vitest';
import {
  ALL_KINDS,
  DEFAULT_KIND,
  MAX_ROUTERS,
  dhcpClientOf,
  kindName,
  kindOf,
  kindOfRouter,
  parseKinds,
  inSubnet,
  labPlan,
  macOf,
  overlaps,
  parseExecTarget,
  parseRouterName,
  routerNamespaces,
  routerPlan,
  wanOfSource,
} from '../../../src/lab/plan.js';
import { routerBatches } from '../../../src/lab/topology.js';

/** The lab's allowed ranges (shared/lab.md). */
const ALLOWED = ['198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24', '192.0.2.0/24', '10.0.0.0/8'];
const allowed = (ip: string) => ALLOWED.some((c) => inSubnet(ip, c));

describe('router kinds', () => {
  it('parses --kinds and --release/--net, and gives each router its kind in turn', () => {
    expect(parseKinds('all').map(kindName)).toEqual(['bookworm-networkd', 'bookworm-ifupdown', 'trixie-networkd', 'trixie-ifupdown']);
    const two = parseKinds('trixie-ifupdown,bookworm-networkd');
    expect([1, 2, 3].map((i) => kindName(kindOfRouter(two, i)))).toEqual(['trixie-ifupdown', 'bookworm-networkd', 'trixie-ifupdown']);
    expect(kindOfRouter([], 5)).toEqual(DEFAULT_KIND);
    expect(kindOf('trixie')).toEqual({ release: 'trixie', net: 'networkd' });
    expect(kindOf(undefined, 'ifupdown')).toEqual({ release: 'bookworm', net: 'ifupdown' });
    expect(() => kindOf('bullseye')).toThrow("--release must be bookworm or trixie, got 'bullseye'");
    expect(() => kindOf('trixie', 'netplan')).toThrow("--net must be networkd or ifupdown, got 'netplan'");
    expect(() => parseKinds('trixie-ifupdown,')).toThrow('--kinds has an empty entry');
    expect(() => parseKinds('sid-networkd')).toThrow(/expected a router kind \(bookworm-networkd, bookworm-ifupdown, trixie-networkd, trixie-ifupdown\), got 'sid-networkd'/);
  });

  it("names each kind's DHCP client: networkd's own, dhclient on bookworm, dhcpcd on trixie", () => {
    expect(ALL_KINDS.map(dhcpClientOf)).toEqual(['systemd-networkd', 'dhclient', 'systemd-networkd', 'dhcpcd']);
  });
});

describe('lab address plan', () => {
  it('gives router 1 the documented addresses', () => {
    const r = routerPlan(1);
    expect(r).toMatchObject({
      name: 'r1',
      ns: 'elab-r1',
      lanNs: 'elab-r1-lan',
      hostVeth: 'elab-r1-m',
      mgmt: { address: '198.18.0.11' },
      isp1: { ns: 'elab-r1-isp1', subnet: '198.51.100.8/29', gateway: '198.51.100.9', altGateway: '198.51.100.10', pool: ['198.51.100.11', '198.51.100.14'] },
      isp2: { ns: 'elab-r1-isp2', subnet: '203.0.113.8/29', gateway: '203.0.113.9', routerAddress: '203.0.113.10' },
      lan: { subnet: '10.1.0.0/24', router: '10.1.0.1', client: '10.1.0.100' },
    });
    expect(r.isp1.uplink).toEqual({ subnet: '198.19.1.0/30', inet: '198.19.1.1', isp: '198.19.1.2', inetIf: 'r1-isp1' });
    expect(r.isp2.uplink).toEqual({ subnet: '198.19.1.4/30', inet: '198.19.1.5', isp: '198.19.1.6', inetIf: 'r1-isp2' });
  });

  it('fits 30 routers in the ISP /24s without overlap, all addresses in the lab ranges', () => {
    const plan = labPlan(MAX_ROUTERS);
    const subnets = plan.routers.flatMap((r) => [r.isp1.subnet, r.isp2.subnet, r.isp1.uplink.subnet, r.isp2.uplink.subnet, r.lan.subnet]);
    for (let i = 0; i < subnets.length; i++)
      for (let j = i + 1; j < subnets.length; j++) expect(overlaps(subnets[i]!, subnets[j]!), `${subnets[i]} vs ${subnets[j]}`).toBe(false);
    for (const r of plan.routers) {
      const ips = [r.mgmt.address, r.isp1.gateway, r.isp1.altGateway!, ...r.isp1.pool!, r.isp2.gateway, r.isp2.routerAddress!,
        r.isp1.uplink.inet, r.isp1.uplink.isp, r.isp2.uplink.inet, r.isp2.uplink.isp, r.lan.router, r.lan.client];
      for (const ip of ips) expect(allowed(ip), ip).toBe(true);
      expect(new Set(ips).size).toBe(ips.length);
      // the DHCP pool stays inside the /29 and off the gateways
      expect(inSubnet(r.isp1.pool![1], r.isp1.subnet)).toBe(true);
    }
    for (const ip of [...plan.targets, plan.whoami.address, plan.hostMgmt]) expect(allowed(ip)).toBe(true);
    expect(() => labPlan(MAX_ROUTERS + 1)).toThrow(/1-30/);
    expect(() => labPlan(0)).toThrow(/1-30/);
  });

  it('keeps every name within the kernel limit (15) and under the lab prefix, for every instance', () => {
    for (const instance of [0, 1, 9]) {
      const plan = labPlan(MAX_ROUTERS, instance);
      const prefix = instance === 0 ? 'elab-' : `elab${instance}-`;
      for (const r of plan.routers) {
        for (const b of routerBatches(r, plan)) {
          for (const line of b.lines) {
            for (const m of line.matchAll(/\b(?:name|add|dev|del|set) ([A-Za-z0-9_.-]+)/g))
              if (!/^[0-9]/.test(m[1]!)) expect(m[1]!.length, line).toBeLessThanOrEqual(15);
          }
        }
        for (const ns of routerNamespaces(r)) expect(ns.startsWith(prefix)).toBe(true);
        expect(r.hostVeth.startsWith(prefix) && r.hostVeth.length <= 15).toBe(true);
      }
      expect(plan.bridge).toBe(`${prefix}mgmt`);
      expect(plan.inetNs).toBe(`${prefix}inet`);
      expect(plan.hostMgmt).toBe(`198.18.${instance}.1`);
    }
  });

  it('gives each router link end its own fixed MAC', () => {
    const macs = labPlan(MAX_ROUTERS).routers.flatMap((r) =>
      (['mgmt', 'wan1', 'wan2', 'lan'] as const).flatMap((i) => [macOf(r, 0, i, 'router'), macOf(r, 0, i, 'peer')]),
    );
    expect(new Set(macs).size).toBe(macs.length);
    expect(macOf(routerPlan(12), 3, 'wan1', 'router')).toBe('02:45:03:0c:02:01');
  });

  it('maps a source address the internet saw to the WAN it left by', () => {
    const r = routerPlan(2);
    expect(wanOfSource('198.51.100.19', r)).toBe('wan1');
    expect(wanOfSource('203.0.113.18', r)).toBe('wan2');
    expect(wanOfSource('10.2.0.100', r)).toBe('lan');
    expect(wanOfSource('198.51.100.11', r)).toBe('unknown'); // router 1's ISP1 link
  });

  it('parses router names and exec targets', () => {
    const plan = labPlan(3);
    expect(parseRouterName('r3', 3)).toBe(3);
    expect(() => parseRouterName('r4', 3)).toThrow(/r1-r3/);
    expect(() => parseRouterName('router1')).toThrow(/like r1/);
    expect(() => parseRouterName('r0')).toThrow();
    expect(parseExecTarget('r2', plan)).toEqual({ kind: 'router', router: 2 });
    expect(parseExecTarget('r2-lan', plan)).toMatchObject({ kind: 'netns', ns: 'elab-r2-lan' });
    expect(parseExecTarget('r1-isp2', plan)).toMatchObject({ kind: 'netns', ns: 'elab-r1-isp2' });
    expect(parseExecTarget('inet', plan)).toMatchObject({ kind: 'netns', ns: 'elab-inet' });
    expect(() => parseExecTarget('r1-wan', plan)).toThrow(/r1-lan/);
  });

  it('knows when prefixes overlap', () => {
    expect(overlaps('198.18.0.0/24', '198.18.0.0/15')).toBe(true);
    expect(overlaps('198.18.1.0/24', '198.18.0.0/24')).toBe(false);
    expect(overlaps('198.18.0.5/32', '198.18.0.0/24')).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { labPlan } from '../../../src/lab/plan.js';
import { bridgeBatch, inetBatch, routerBatches, routerSysctls } from '../../../src/lab/topology.js';

describe('lab wiring', () => {
  const plan = labPlan(2);
  const r2 = plan.routers[1]!;

  it('creates the router namespaces first, in the root namespace, then one batch per namespace', () => {
    const b = routerBatches(r2, plan);
    expect(b.map((x) => x.ns)).toEqual([null, 'elab-r2', 'elab-r2-isp1', 'elab-r2-isp2', 'elab-r2-lan', 'elab-inet']);
    expect(b[0]!.lines.slice(0, 4)).toEqual([
      'netns add elab-r2',
      'netns add elab-r2-isp1',
      'netns add elab-r2-isp2',
      'netns add elab-r2-lan',
    ]);
    expect(b[0]!.lines).toContain('link set elab-r2-m master elab-mgmt');
  });

  it('leaves the router interfaces unaddressed (networkd inside configures them)', () => {
    const routerNs = routerBatches(r2, plan).find((x) => x.ns === 'elab-r2')!;
    expect(routerNs.lines.every((l) => l.startsWith('link add '))).toBe(true);
    expect(routerNs.lines.join('\n')).not.toMatch(/\baddr add|route /);
  });

  it('wires the ISPs: gateway (and alternative gateway on ISP1), uplink, default to the internet, no NAT', () => {
    const isp1 = routerBatches(r2, plan).find((x) => x.ns === 'elab-r2-isp1')!.lines;
    expect(isp1).toContain('addr add 198.51.100.17/29 dev down0');
    expect(isp1).toContain('addr add 198.51.100.18/29 dev down0');
    expect(isp1).toContain('addr add 198.19.2.2/30 dev up0');
    expect(isp1).toContain('route add default via 198.19.2.1 dev up0');
    const isp2 = routerBatches(r2, plan).find((x) => x.ns === 'elab-r2-isp2')!.lines;
    expect(isp2).toContain('addr add 203.0.113.17/29 dev down0');
    expect(isp2).toContain('route add default via 198.19.2.5 dev up0');
  });

  it('routes each ISP link back through its ISP in the internet namespace', () => {
    const inet = routerBatches(r2, plan).find((x) => x.ns === 'elab-inet')!.lines;
    expect(inet).toContain('route add 198.51.100.16/29 via 198.19.2.2 dev r2-isp1');
    expect(inet).toContain('route add 203.0.113.16/29 via 198.19.2.6 dev r2-isp2');
    // IPv6: the ISP link and both prefixes the ISP may delegate, through the ISP's ULA uplink
    expect(inet).toContain('route add 2001:db8:1:2::/64 via fd00:19:2:1::2 dev r2-isp1');
    expect(inet).toContain('route add 2001:db8:21:200::/56 via fd00:19:2:2::2 dev r2-isp2');
    expect(inet).toContain('route add 2001:db8:22:200::/56 via fd00:19:2:2::2 dev r2-isp2');
    expect(inetBatch(plan)).toEqual([
      'link set lo up',
      'addr replace 2001:db8:ffff::1/128 dev lo',
      'addr replace 2001:db8:ffff::2/128 dev lo',
      'addr replace 2001:db8:ffff::3/128 dev lo',
      'addr replace 2001:db8:ffff::80/128 dev lo',
      'addr add 192.0.2.1/32 dev lo',
      'addr add 192.0.2.2/32 dev lo',
      'addr add 192.0.2.3/32 dev lo',
      'addr add 192.0.2.80/32 dev lo',
    ]);
  });

  it('routes the delegated prefix from the ISP to the router\'s link-local address', () => {
    const isp1 = routerBatches(r2, plan).find((x) => x.ns === 'elab-r2-isp1')!.lines;
    expect(isp1).toContain('addr add 2001:db8:1:2::1/64 dev down0 nodad');
    expect(isp1).toContain(`route add 2001:db8:11:200::/56 via ${r2.isp1.v6.routerLinkLocal} dev down0`);
    expect(isp1).toContain('route add ::/0 via fd00:19:2:1::1 dev up0');
  });

  it('gives the LAN client its address and the router as default gateway', () => {
    const lan = routerBatches(r2, plan).find((x) => x.ns === 'elab-r2-lan')!.lines;
    expect(lan).toContain('addr add 10.2.0.100/24 dev eth0');
    expect(lan).toContain('route add default via 10.2.0.1 dev eth0');
  });

  it('starts the router without forwarding; the ISPs forward', () => {
    const s = routerSysctls(r2);
    expect(s[0]).toEqual({ ns: 'elab-r2', settings: ['net.ipv4.ip_forward=0'] });
    expect(s[1]!.settings).toContain('net.ipv4.ip_forward=1');
  });

  it('makes the management bridge with the host address', () => {
    expect(bridgeBatch(plan)).toEqual(['link add elab-mgmt type bridge', 'addr replace 198.18.0.1/24 dev elab-mgmt', 'link set elab-mgmt up']);
  });
});

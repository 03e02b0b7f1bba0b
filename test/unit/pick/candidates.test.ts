import { describe, expect, it } from 'vitest';
import type { Facts, InterfaceFact, RouteFact } from '../../../src/facts/types.js';
import {
  candidatesTable,
  interfaceCandidates,
  isPrivateIPv4,
  likelyRoles,
  validateRoles,
  type CandidateRow,
} from '../../../src/inventory/interface-candidates.js';
import { configure, freshRouter, LAB, labVars } from '../../fixtures/facts.js';

/** Small hand-made facts: interfaces by name with IPv4 addresses, and default routes. */
function facts(
  ifs: { name: string; addrs?: string[]; up?: boolean; speed?: number; kind?: string }[],
  defaults: { dev: string; gateway?: string; metric?: number; table?: string }[] = [],
): Pick<Facts, 'interfaces' | 'routes'> {
  const interfaces: InterfaceFact[] = ifs.map((i, n) => ({
    name: i.name,
    index: n + 1,
    mac: `02:00:00:00:00:0${n + 1}`,
    operstate: i.up === false ? 'DOWN' : 'UP',
    up: i.up !== false,
    carrier: i.up !== false,
    ...(i.kind ? { kind: i.kind } : {}),
    ...(i.speed ? { speedMbps: i.speed } : {}),
    addresses: (i.addrs ?? []).map((a) => ({ family: 'inet' as const, address: a.split('/')[0]!, prefixlen: Number(a.split('/')[1]), scope: 'global', dynamic: false })),
  }));
  const routes: RouteFact[] = defaults.map((d) => ({ table: d.table ?? 'main', dst: 'default', dev: d.dev, gateway: d.gateway, metric: d.metric, flags: [] }));
  return { interfaces, routes };
}

describe('interface candidates from facts', () => {
  it('lists every interface but lo and edge-ka*, with state, MAC, addresses, default routes', () => {
    const f = freshRouter();
    f.interfaces.push({ name: 'edge-ka0', index: 9, operstate: 'UP', up: true, carrier: true, kind: 'veth', addresses: [] });
    const rows = interfaceCandidates(f);
    expect(rows.map((r) => r.name)).toEqual(['mgmt0', 'wan1', 'wan2', 'lan0']);
    const wan1 = rows.find((r) => r.name === 'wan1')!;
    expect(wan1).toMatchObject({
      state: 'UP',
      mac: '02:00:00:00:00:03',
      addresses: ['198.51.100.10/29 dhcp'],
      defaultRoutes: [{ table: 'main', gateway: LAB.wan1.gateway, metric: 100 }],
      gateways: [LAB.wan1.gateway],
      private: false,
    });
    expect(rows.find((r) => r.name === 'lan0')).toMatchObject({ private: true, defaultRoutes: [], gateways: [] });
  });

  it('a down interface and one without carrier say so', () => {
    const rows = interfaceCandidates(facts([{ name: 'eth3', up: false }]));
    expect(rows[0]!.state).toBe('DOWN (disabled)');
    const noCarrier = interfaceCandidates(freshRouter({ wan1Carrier: false })).find((r) => r.name === 'wan1')!;
    expect(noCarrier.state).toBe('LOWERLAYERDOWN');
    expect(noCarrier.addresses).toEqual([]);
  });

  it('default routes in other tables count too (a router edge already configured)', () => {
    const rows = interfaceCandidates(configure(freshRouter(), labVars()));
    expect(rows.find((r) => r.name === 'wan2')!.defaultRoutes.map((d) => d.table)).toEqual(['main', 'wan2']);
  });

  it('RFC 1918 ranges', () => {
    expect(['10.0.0.1', '172.16.0.1', '172.31.255.254', '192.168.1.1'].map(isPrivateIPv4)).toEqual([true, true, true, true]);
    expect(['172.32.0.1', '198.18.0.11', '100.64.0.1', '11.0.0.1'].map(isPrivateIPv4)).toEqual([false, false, false, false]);
  });
});

describe('likely roles', () => {
  it('what the inventory says wins when the host has those interfaces', () => {
    const f = freshRouter();
    expect(likelyRoles(interfaceCandidates(f), { current: { wan1: 'wan1', wan2: 'wan2', lan: 'lan0', mgmt: 'mgmt0' } })).toEqual({
      wan1: 'wan1',
      wan2: 'wan2',
      lan: 'lan0',
      mgmt: 'mgmt0',
    });
  });

  it('without inventory values: default routes by metric (lowest = WAN1), private LAN, management by subnet', () => {
    // as in the lab: wan1's DHCP default route has metric 100, wan2's static one 200
    const rows = interfaceCandidates(freshRouter());
    expect(likelyRoles(rows, { mgmtSubnets: ['198.18.0.0/24'] })).toEqual({ wan1: 'wan1', wan2: 'wan2', lan: 'lan0', mgmt: 'mgmt0' });
  });

  it('management from the address the SSH session came in on', () => {
    const rows = interfaceCandidates(freshRouter());
    expect(likelyRoles(rows, { serverAddress: LAB.mgmt.address }).mgmt).toBe('mgmt0');
  });

  it('managed over the LAN: the LAN is the LAN, no management interface', () => {
    const f = facts(
      [{ name: 'eth0', addrs: ['192.168.1.1/24'] }, { name: 'eth1', addrs: ['198.51.100.2/30'] }, { name: 'eth2', addrs: ['203.0.113.2/30'] }],
      [
        { dev: 'eth1', gateway: '198.51.100.1', metric: 100 },
        { dev: 'eth2', gateway: '203.0.113.1', metric: 200 },
      ],
    );
    expect(likelyRoles(interfaceCandidates(f), { serverAddress: '192.168.1.1' })).toEqual({ wan1: 'eth1', wan2: 'eth2', lan: 'eth0' });
  });

  it('two private interfaces and the session on the second: that one is management', () => {
    const f = facts(
      [
        { name: 'eth0', addrs: ['10.0.0.1/24'] },
        { name: 'eth1', addrs: ['198.51.100.2/30'] },
        { name: 'eth2', addrs: ['203.0.113.2/30'] },
        { name: 'eth3', addrs: ['172.16.9.1/24'] },
      ],
      [
        { dev: 'eth2', metric: 50 },
        { dev: 'eth1', metric: 100 },
      ],
    );
    expect(likelyRoles(interfaceCandidates(f), { serverAddress: '172.16.9.1' })).toEqual({ wan1: 'eth2', wan2: 'eth1', mgmt: 'eth3', lan: 'eth0' });
  });

  it('main-table routes before other tables; equal metrics by interface order', () => {
    const f = facts([{ name: 'a' }, { name: 'b' }, { name: 'c' }], [
      { dev: 'a', metric: 0, table: '101' },
      { dev: 'c', metric: 10 },
      { dev: 'b', metric: 10 },
    ]);
    expect(likelyRoles(interfaceCandidates(f))).toEqual({ wan1: 'b', wan2: 'c' });
  });

  it('one default route: WAN2 stays open; an inventory value the host lacks is ignored', () => {
    const f = facts([{ name: 'eth0', addrs: ['10.0.0.1/24'] }, { name: 'eth1', addrs: ['198.51.100.2/30'] }, { name: 'eth2' }], [{ dev: 'eth1' }]);
    expect(likelyRoles(interfaceCandidates(f), { current: { wan2: 'ppp0' } })).toEqual({ wan1: 'eth1', lan: 'eth0' });
  });
});

describe('validateRoles', () => {
  const rows = interfaceCandidates(freshRouter());
  it('accepts four different interfaces, or three without management', () => {
    expect(validateRoles({ wan1: 'wan1', wan2: 'wan2', lan: 'lan0', mgmt: 'mgmt0' }, rows)).toEqual([]);
    expect(validateRoles({ wan1: 'wan1', wan2: 'wan2', lan: 'lan0' }, rows)).toEqual([]);
  });
  it('refuses one interface twice', () => {
    expect(validateRoles({ wan1: 'wan1', wan2: 'wan1', lan: 'lan0' })).toEqual(['wan1 cannot be both WAN1 and WAN2']);
    expect(validateRoles({ wan1: 'wan1', wan2: 'wan2', lan: 'mgmt0', mgmt: 'mgmt0' })).toEqual(['mgmt0 cannot be both LAN and management']);
  });
  it('refuses a missing required role and an interface the host does not have', () => {
    expect(validateRoles({ wan1: 'wan1', lan: 'eth9' }, rows)).toEqual(['WAN2 is not chosen', 'LAN: the host has no interface eth9']);
  });
});

describe('candidates table', () => {
  it('one aligned row per interface, the likely role last', () => {
    const rows = interfaceCandidates(freshRouter());
    const text = candidatesTable(rows, { wan1: 'wan1', wan2: 'wan2', lan: 'lan0', mgmt: 'mgmt0' });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^INTERFACE\s+STATE\s+MAC\s+ADDRESSES\s+DEFAULT ROUTES\s+LIKELY$/);
    expect(lines[2]).toMatch(/^wan1\s+UP\s+02:00:00:00:00:03\s+198\.51\.100\.10\/29 dhcp\s+default via 198\.51\.100\.9 metric 100\s+WAN1$/);
    expect(lines[4]).toMatch(/^lan0 .* -\s+LAN$/);
    expect(new Set(lines.map((l) => l.indexOf('STATE') >= 0 ? l.indexOf('STATE') : l.indexOf('UP'))).size).toBe(1);
  });

  it('keeps its shape at 80 columns: optional columns go, rows never wrap', () => {
    const rows = interfaceCandidates(freshRouter());
    const text = candidatesTable(rows, { wan1: 'wan1', wan2: 'wan2', lan: 'lan0', mgmt: 'mgmt0' }, 78);
    for (const l of text.split('\n')) expect(l.length, l).toBeLessThanOrEqual(78);
    expect(text.split('\n')).toHaveLength(rows.length + 1);
    expect(text).toMatch(/^wan1\s+UP\s+198\.51\.100\.10\/29 dhcp\s+198\.51\.100\.9 metric 100\s+WAN1$/m);
  });

  it('a dual-stack WAN too wide for 80 columns: addresses and gateways each on a line of their own, none lost, none wider', () => {
    const rows: CandidateRow[] = [
      {
        ...interfaceCandidates(freshRouter()).find((r) => r.name === 'wan1')!,
        addresses: ['198.51.100.14/29 dhcp', '2001:db8:1:1::190/128 dhcp', '2001:db8:1:1:45:8ff:fe01:201/64 dhcp'],
        defaultRoutes: [
          { table: 'main', gateway: '198.51.100.9', metric: 100 },
          { table: 'main', gateway: 'fe80::45:8ff:fe01:202', metric: 100 },
        ],
      },
    ];
    const text = candidatesTable(rows, { wan1: 'wan1' }, 78);
    for (const l of text.split('\n')) expect(l.length, l).toBeLessThanOrEqual(78);
    expect(text.split('\n')[0]).toMatch(/^INTERFACE\s+STATE\s+ADDRESSES\s+DEFAULT VIA\s+LIKELY$/);
    const squeezed = text.replace(/\s+/g, '');
    for (const x of ['2001:db8:1:1:45:8ff:fe01:201/64', 'fe80::45:8ff:fe01:202', '198.51.100.9', '2001:db8:1:1::190/128']) expect(squeezed).toContain(x);
  });

  it('leaves out columns nobody has a value for, and shows speed when known', () => {
    const text = candidatesTable(interfaceCandidates(facts([{ name: 'eth0', speed: 1000 }, { name: 'eth1', speed: 2500 }])));
    expect(text.split('\n')[0]).toMatch(/^INTERFACE\s+STATE\s+MAC\s+ADDRESSES\s+DEFAULT ROUTES\s+SPEED$/);
    expect(text).toMatch(/eth0 .* 1G\neth1 .* 2500M$/);
  });
});

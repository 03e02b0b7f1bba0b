import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import { inventoryCheckTask, inventoryProblems } from '../../../src/tasks/inventory-check.js';
import { NFT_TABLE, PATHS } from '../../../src/tasks/paths.js';
import { configure, freshRouter, labVars } from '../../fixtures/facts.js';

const check = (facts: Facts = freshRouter(), over: Record<string, unknown> = {}) => inventoryProblems(labVars(over), facts);

describe('inventory-check', () => {
  it('passes a lab router, fresh or configured, and changes nothing', () => {
    expect(inventoryCheckTask.plan({ host: 'r1', vars: labVars(), facts: freshRouter(), params: undefined })).toEqual({
      changes: [],
      // a router whose WANs have no IPv6 prefix keeps today's behaviour, and says so
      notes: ['detected Debian GNU/Linux 12 (bookworm), network: systemd-networkd, DHCP client: systemd-networkd (built in)', 'IPv6 (edge_ipv6_mode off): off — edge_ipv6_mode is off'],
    });
    expect(check(configure(freshRouter(), labVars()))).toEqual([]);
  });

  it('a missing interface variable lists the candidates', () => {
    const p = inventoryCheckTask.plan({ host: 'r1', vars: labVars({ edge_lan_interface: undefined }), facts: freshRouter(), params: undefined });
    expect(p.changes).toEqual([]);
    expect(p.failures).toEqual([
      'edge_lan_interface is not set; this host\'s interfaces: mgmt0 (198.18.0.11/24), wan1 (198.51.100.10/29 DHCP), wan2 (203.0.113.10/29), lan0 (10.1.0.1/24) (or run `edge pick`)',
    ]);
  });

  it('several missing interface variables list the candidates once', () => {
    const vars = labVars({ edge_wan1_interface: undefined, edge_wan2_interface: undefined, edge_lan_interface: undefined });
    const [msg, ...rest] = check(freshRouter(), vars);
    expect(msg).toMatch(/^edge_wan1_interface, edge_wan2_interface, edge_lan_interface are not set; this host's interfaces: mgmt0 /);
    expect(msg!.split('wan1 (198.51.100.10/29 DHCP)').length).toBe(2);
    expect(rest.join('\n')).not.toContain('mgmt0 (');
  });

  it("a route in edge's table via the other WAN is edge's own (WANs swapped), not another tool's", () => {
    const f = freshRouter({ routes: [{ dst: 'default', gateway: '203.0.113.9', dev: 'wan2', table: '101', protocol: 'static', flags: [] }] });
    expect(check(f).join('\n')).not.toMatch(/another tool/);
  });

  it('an interface the host does not have', () => {
    expect(check(freshRouter(), { edge_wan2_interface: 'ens19', edge_mgmt_interface: 'eth9' })).toEqual([
      expect.stringMatching(/^edge_wan2_interface is ens19, which this host does not have; edge_mgmt_interface is eth9, which this host does not have; this host's interfaces: mgmt0 /),
    ]);
  });

  it('a WAN without an address says why', () => {
    expect(check(freshRouter({ wan1Carrier: false }))).toEqual([
      'WAN1 (wan1) has no IPv4 address (the link has no carrier): give it its address (DHCP lease or static configuration) before running edge',
    ]);
  });

  it('a WAN without a gateway suggests edge_wanN_gateway; a static gateway must be on the WAN subnet', () => {
    const f = freshRouter();
    f.routes = f.routes.filter((r) => !(r.dst === 'default' && r.dev === 'wan2'));
    expect(check(f)).toEqual([
      "WAN2 (wan2) has no gateway: the main table has no default route via wan2; set edge_wan2_gateway to the ISP's router on 203.0.113.8/29",
    ]);
    expect(check(f, { edge_wan2_gateway: '203.0.113.9' })).toEqual([]);
    expect(check(f, { edge_wan2_gateway: '192.0.2.1' })).toEqual([
      "edge_wan2_gateway is 192.0.2.1, which is not on WAN2's subnet 203.0.113.8/29 (wan2): set it to the ISP's router on that subnet",
    ]);
  });

  it('unsupported OS and network manager', () => {
    const supported = 'edge supports Debian 12 (bookworm) or 13 (trixie), and Ubuntu 22.04 or 24.04 (netplan with systemd-networkd)';
    expect(check(freshRouter({ os: { id: 'debian', versionId: '10', prettyName: 'Debian GNU/Linux 10 (buster)' } }))).toEqual([
      `the OS is Debian GNU/Linux 10 (buster); ${supported}`,
    ]);
    expect(check(freshRouter({ os: { id: 'debian', versionId: '11', prettyName: 'Debian GNU/Linux 11 (bullseye)' } }))).toEqual([
      `the OS is Debian GNU/Linux 11 (bullseye); ${supported}`,
    ]);
    // testing/sid has no VERSION_ID; a release newer than the tested ones is refused until it is tested
    expect(check(freshRouter({ os: { id: 'debian', versionId: '', prettyName: 'Debian GNU/Linux forky/sid' } }))).toEqual([
      `the OS is Debian GNU/Linux forky/sid; ${supported}`,
    ]);
    expect(check(freshRouter({ os: { id: 'debian', versionId: '14', prettyName: 'Debian GNU/Linux 14 (forky)' } }))).toHaveLength(1);
    expect(check(freshRouter({ os: { id: 'debian', versionId: '13', prettyName: 'Debian GNU/Linux 13 (trixie)' } }))).toEqual([]);
    expect(check(freshRouter({ os: { id: 'ubuntu', versionId: '18.04', prettyName: 'Ubuntu 18.04.6 LTS' } }))[0]).toContain('Ubuntu 18.04.6 LTS');
    expect(check(freshRouter({ os: { id: 'ubuntu', versionId: '22.04', prettyName: 'Ubuntu 22.04 LTS' } }))).toEqual([]);
    expect(check(freshRouter({ os: { id: 'centos', versionId: '9', prettyName: 'CentOS Stream 9' } }))).toHaveLength(1);
    expect(check(freshRouter({ networkManager: 'NetworkManager' }))).toEqual([
      'NetworkManager manages the interfaces; edge supports systemd-networkd (also behind netplan) and ifupdown (/etc/network/interfaces)',
    ]);
    expect(check(freshRouter({ networkManager: 'netplan' }))).toEqual([]);
    expect(check(freshRouter({ networkManager: 'ifupdown' }))).toEqual([]);
  });

  it('on ifupdown, a DHCP WAN needs dhclient or dhcpcd; the note names what was detected', () => {
    const ifupdown = (dhcpClients?: string[]) => ({ ...freshRouter({ networkManager: 'ifupdown' }), dhcpClients });
    expect(check(ifupdown(['dhclient']))).toEqual([]);
    expect(check(ifupdown(['dhcpcd']))).toEqual([]);
    expect(check(ifupdown(['udhcpc']))).toEqual([
      'WAN1 (wan1) has a DHCP address, but the DHCP client running is udhcpc; with ifupdown edge supports dhclient and dhcpcd (isc-dhcp-client, dhcpcd-base)',
    ]);
    expect(check(ifupdown([]))).toEqual([
      'WAN1 (wan1) has a DHCP address, but the DHCP client running is none edge can see; with ifupdown edge supports dhclient and dhcpcd (isc-dhcp-client, dhcpcd-base)',
    ]);
    // a static WAN needs no client at all; networkd leases with its own
    const allStatic = ifupdown([]);
    for (const i of allStatic.interfaces) for (const a of i.addresses) a.dynamic = false;
    expect(check(allStatic)).toEqual([]);
    expect(check({ ...freshRouter(), dhcpClients: [] })).toEqual([]);
    const trixie = { ...ifupdown(['dhcpcd']), os: { id: 'debian', versionId: '13', prettyName: 'Debian GNU/Linux 13 (trixie)' } };
    expect(inventoryCheckTask.plan({ host: 'r4', vars: labVars(), facts: trixie, params: undefined }).notes).toEqual([
      'detected Debian GNU/Linux 13 (trixie), network: ifupdown, DHCP client: dhcpcd',
      'IPv6 (edge_ipv6_mode off): off — edge_ipv6_mode is off',
    ]);
    const p = inventoryCheckTask.plan({ host: 'r4', vars: labVars(), facts: { ...trixie, networkManager: 'NetworkManager' }, params: undefined });
    expect(p.notes).toEqual(['detected Debian GNU/Linux 13 (trixie), network: NetworkManager, DHCP client: dhcpcd', 'IPv6 (edge_ipv6_mode off): off — edge_ipv6_mode is off']);
    expect(p.failures).toHaveLength(1);
  });

  it('a foreign rule in edge\'s priority range, and the guide\'s leftover rules using edge\'s marks', () => {
    const f = freshRouter({
      rules: [
        { priority: 1005, src: '10.9.0.0', srclen: 16, table: '200' },
        { priority: 100, src: 'all', fwmark: '0x1', table: '100' },
        { priority: 1020, src: '198.51.100.12', table: '101' }, // edge's own, from an old lease: not a collision
      ],
    });
    expect(check(f)).toEqual([
      'ip rule 100: from all fwmark 0x1 lookup 100 uses edge\'s mark 0x1 (edge_wan1_mark): remove it (ip rule del pref 100) or give edge other marks',
      "ip rule 1005: from 10.9.0.0/16 lookup 200 is in edge's priority range 1000-1099: remove it (ip rule del pref 1005) or move edge with edge_rule_priority (e.g. 200)",
    ]);
  });

  it('a rule elsewhere that looks up edge\'s table', () => {
    expect(check(freshRouter({ rules: [{ priority: 500, src: 'all', iifname: 'lan0', table: '102' }] }))).toEqual([
      "ip rule 500: from all iif lan0 lookup 102 looks up edge's table 102 (wan2): remove it (ip rule del pref 500) or give edge another table (edge_wan2_table)",
    ]);
  });

  it('routing table ids and names already taken, or a table used by another tool', () => {
    const f = freshRouter({
      rtTables: { '255': 'local', '254': 'main', '253': 'default', '0': 'unspec', '101': 'isp1', '100': 'wan2' },
      routes: [{ dst: '10.0.0.0/8', gateway: '10.1.0.254', dev: 'lan0', table: '102', protocol: 'static', flags: [] }],
    });
    expect(check(f)).toEqual([
      'routing table 101 is already named "isp1" in /etc/iproute2/rt_tables: set edge_wan1_table to a free id (e.g. 103) or edge_wan1_table_name to "isp1"',
      'routing table name "wan2" already means table 100 in /etc/iproute2/rt_tables: remove that line or set edge_wan2_table_name to another name',
      'routing table 102 holds a route not via WAN2 (wan2): "10.0.0.0/8 via 10.1.0.254 dev lan0"; another tool uses table 102: set edge_wan2_table to a free id (e.g. 103)',
    ]);
  });

  it('a wrong WAN interface on a router edge applied: edge\'s own routes are not blamed on another tool', () => {
    const applied = configure(freshRouter(), labVars());
    const problems = check(applied, { edge_wan1_interface: 'wan9' });
    expect(problems.join('\n')).not.toContain('another tool uses table');
    expect(problems.join('\n')).toContain('wan9');
    // a route via an interface edge never configured still is another tool's
    const foreign = { ...applied, routes: [...applied.routes, { dst: '10.0.0.0/8', gateway: '10.1.0.254', dev: 'lan0', table: '101', protocol: 'static', flags: [] }] };
    expect(check(foreign).join('\n')).toContain('another tool uses table 101');
  });

  it('an nft table inet edge that is not edge\'s, and a keepalived.conf edge did not write', () => {
    const f = freshRouter({
      nftTables: [{ family: 'inet', name: 'edge' }],
      nftTableText: { [NFT_TABLE]: 'table inet edge {\n\tchain x {\n\t}\n}\n' },
      files: { [PATHS.keepalivedConf]: { path: PATHS.keepalivedConf, exists: true, content: 'vrrp_instance VI_1 {\n}\n', mode: '0644', owner: 'root', group: 'root' } },
    });
    expect(check(f)).toEqual([
      'an nft table inet edge exists that edge did not create (no comment "managed by edge"): rename or remove it first (nft delete table inet edge)',
      `${PATHS.keepalivedConf} holds a configuration edge did not write: edge runs keepalived for the WAN health checks and replaces that file; move that configuration elsewhere first`,
    ]);
  });

  it('leaves the SSH-session question to the lockout preflight (it can be overridden)', () => {
    const f = freshRouter({ session: { clientAddress: '192.0.2.200', clientPort: 40000, serverAddress: '198.51.100.10', serverPort: 22 } });
    expect(check(f)).toEqual([]);
  });
});

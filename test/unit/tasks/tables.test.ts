import { spawnSync } from 'node:child_process';
import { changeScope, changeShell } from '../../../src/tasks/change-ops.js';
import { describe, expect, it } from 'vitest';
import { PREAMBLE } from '../../../src/render/shell.js';
import { desiredRules, ruleSpecOf } from '../../../src/tasks/desired-routing.js';
import { PATHS } from '../../../src/tasks/paths.js';
import { tablesTask } from '../../../src/tasks/tables.js';
import { resolveTopology } from '../../../src/tasks/wan.js';
import { configure, freshRouter, labVars } from '../../fixtures/facts.js';

const vars = labVars();
const plan = (facts = freshRouter(), v = vars) => tablesTask.plan({ host: 'r1', vars: v, facts, params: undefined });
const bashOk = (script: string) => spawnSync('bash', ['-n'], { input: `${PREAMBLE}\n${script}` }).status === 0;

describe('tables task', () => {
  it('asks for the two files it writes, and edge\'s nft table (its map says which WAN the router\'s own traffic follows)', () => {
    expect(tablesTask.needs(vars, undefined)).toEqual({ files: [PATHS.rtTables, PATHS.routingConf], nftTables: ['inet edge'] });
  });

  it('on a fresh router: names the tables, writes routing.conf, fills both tables, adds the eight rules', () => {
    const p = plan();
    expect(p.changes.map((c) => c.summary)).toEqual([
      `create ${PATHS.rtTables}`,
      `create ${PATHS.routingConf}`,
      'table wan1: default via 198.51.100.9 dev wan1, table wan2: default via 203.0.113.9 dev wan2',
      'ip rules 1000-1099: +8',
    ]);
    const [rt, conf, routes, rules] = p.changes;
    expect(rt!.diff).toContain('+101 wan1\n+102 wan2\n');
    expect(conf!.diff).toContain("+WAN1_IF=wan1\n+WAN2_IF=wan2\n+LAN_IF=lan0\n+M1=0x1\n+M2=0x2\n+T1=101\n+T2=102\n");
    expect(conf!.diff).toContain("+WAN1_GW=''\n");
    expect(routes!.diff).toBe(
      '--- ip route table wan1 (runtime)\n+++ ip route table wan1 (runtime)\n+default via 198.51.100.9 dev wan1 proto static src 198.51.100.10\n' +
        '--- ip route table wan2 (runtime)\n+++ ip route table wan2 (runtime)\n+default via 203.0.113.9 dev wan2 proto static src 203.0.113.10\n',
    );
    expect(changeShell(routes!)).toBe(
      'ip route replace table 101 default via 198.51.100.9 dev wan1 proto static src 198.51.100.10\n' +
        'ip route replace table 102 default via 203.0.113.9 dev wan2 proto static src 203.0.113.10',
    );
    expect(changeScope(routes!)).toEqual({ routeTables: [101, 102] });
    expect(rules!.diff).toBe(
      [
        '--- ip rules (runtime)',
        '+++ ip rules (runtime)',
        '+1000: from all lookup main suppress_prefixlength 0',
        '+1010: from all fwmark 0x1 lookup wan1',
        '+1011: from all fwmark 0x2 lookup wan2',
        '+1020: from 198.51.100.10 lookup wan1',
        '+1021: from 203.0.113.10 lookup wan2',
        '+1030: from all fwmark 0x1 unreachable',
        '+1031: from all fwmark 0x2 unreachable',
        '+1040: from all iif lo lookup wan1',
        '',
      ].join('\n'),
    );
    expect(changeShell(rules!)).toContain('edge_rule_add pref 1010 from all fwmark 0x1 lookup 101');
    expect(changeShell(rules!)).toContain('edge_rule_add pref 1000 from all lookup main suppress_prefixlength 0');
    expect(changeScope(rules!)).toEqual({ ruleRange: [1000, 1099] });
    for (const c of p.changes) expect(bashOk(changeShell(c))).toBe(true);
  });

  it('on a configured router: nothing to do', () => {
    expect(plan(configure(freshRouter(), vars)).changes).toEqual([]);
  });

  it("while new flows use WAN2, the router's own traffic does too: rule 1040 follows the map, no drift either way", () => {
    const onWan2 = configure(freshRouter(), vars);
    onWan2.nftTableText['inet edge'] = onWan2.nftTableText['inet edge']!.replace('"lan0" : 0x00000001', '"lan0" : 0x00000002');
    // the rule still points at wan1 (edge-failover has not moved it yet): move it
    const p = plan(onWan2);
    expect(p.changes.map((c) => c.summary)).toEqual(['ip rules 1000-1099: +1 -1']);
    expect(p.changes[0]!.diff).toContain('-1040: from all iif lo lookup wan1\n+1040: from all iif lo lookup wan2\n');
    // once it does, nothing to change
    const moved = structuredClone(onWan2);
    const rule = moved.rules.find((r) => r.priority === 1040)!;
    rule.table = 'wan2';
    expect(plan(moved).changes).toEqual([]);
  });

  it('a new DHCP address on WAN1: replaces only the source rule', () => {
    const configured = configure(freshRouter(), vars);
    const moved = structuredClone(configured);
    moved.interfaces.find((i) => i.name === 'wan1')!.addresses[0]!.address = '198.51.100.12';
    const p = plan(moved);
    // The table route's source changes too.
    expect(p.changes.map((c) => c.summary)).toEqual(['table wan1: default via 198.51.100.9 dev wan1', 'ip rules 1000-1099: +1 -1']);
    const rules = p.changes[1]!;
    expect(rules.diff).toContain('-1020: from 198.51.100.10 lookup wan1\n+1020: from 198.51.100.12 lookup wan1\n');
    expect(changeShell(rules!).split('\n').slice(2)).toEqual([
      'edge_rule_del pref 1020 from 198.51.100.10 lookup 101',
      'edge_rule_add pref 1020 from 198.51.100.12 lookup 101',
    ]);
    expect(changeShell(p.changes[0]!)).toBe(
      'ip route flush table 101\nip route replace table 101 default via 198.51.100.9 dev wan1 proto static src 198.51.100.12',
    );
  });

  it('WAN1 down: its table is emptied, its source rule goes, the guards stay', () => {
    const configured = configure(freshRouter(), vars);
    const down = freshRouter({ wan1Carrier: false });
    down.rules = configured.rules;
    down.routes = [...down.routes, ...configured.routes.filter((r) => r.table === 'wan1' || r.table === 'wan2')];
    down.files = configured.files;
    down.rtTables = configured.rtTables;
    const p = plan(down);
    expect(p.changes.map((c) => c.summary)).toEqual(['table wan1: empty', 'ip rules 1000-1099: -1']);
    expect(changeShell(p.changes[0]!)).toBe('ip route flush table 101');
    expect(p.changes[1]!.diff).toContain('-1020: from 198.51.100.10 lookup wan1\n');
    expect(p.notes?.[0]).toBe('WAN1 (wan1) is down: table wan1 stays empty until it is back');
    expect(p.notes?.[1]).toBe('IPv6 not routed by edge: edge_ipv6_mode is off');
    // ...and the router in that state is itself a fixed point.
    expect(plan(configure(freshRouter({ wan1Carrier: false }), vars)).changes).toEqual([]);
  });

  it('a DHCP gateway change moves the table route', () => {
    const configured = configure(freshRouter(), vars);
    const gw = configured.routes.find((r) => r.table === 'main' && r.dst === 'default' && r.dev === 'wan1')!;
    gw.gateway = '198.51.100.11';
    const p = plan(configured);
    expect(p.changes).toHaveLength(1);
    expect(p.changes[0]!.diff).toContain(
      '-default via 198.51.100.9 dev wan1 proto static src 198.51.100.10\n+default via 198.51.100.11 dev wan1 proto static src 198.51.100.10\n',
    );
  });

  it('edge_wanN_gateway wins over the learned gateway; the lowest metric wins among learned ones', () => {
    const v = labVars({ edge_wan2_gateway: '203.0.113.14' });
    const f = freshRouter({ routes: [{ dst: 'default', gateway: '198.51.100.13', dev: 'wan1', protocol: 'static', metric: 10, flags: [] }] });
    const r = resolveTopology(v, f);
    if (!r.ok) throw new Error('unresolved');
    expect(r.topology.wan2).toMatchObject({ gateway: '203.0.113.14', gatewayFrom: 'inventory' });
    expect(r.topology.wan1).toMatchObject({ gateway: '198.51.100.13', gatewayFrom: 'main table' });
    expect(plan(f, v).changes[1]!.diff).toContain("+WAN2_GW=203.0.113.14\n");
  });

  it('reads rules the way `ip -j rule` reports them, by table name or id', () => {
    const f = configure(freshRouter(), vars);
    const r = resolveTopology(vars, f);
    if (!r.ok) throw new Error('unresolved');
    const specs = f.rules.filter((x) => x.priority >= 1000 && x.priority < 1100).map((x) => `${x.priority}: ${ruleSpecOf(x, r.topology, f)}`);
    expect(specs).toEqual(desiredRules(r.topology).map((d) => `${d.priority}: ${d.spec}`));
  });

  it('lockout preflight: replies from a WAN address would leave by that WAN', () => {
    // edge connects to WAN2's address, but main's preferred default route (metric 100) is WAN1's
    const f = freshRouter({ session: { clientAddress: '192.0.2.200', clientPort: 40000, serverAddress: '203.0.113.10', serverPort: 22 } });
    expect(plan(f).lockout).toEqual([
      "ip rule 1021 (from 203.0.113.10 lookup wan2) would send the replies to edge's session (192.0.2.200 to 203.0.113.10:22) out of wan2 instead of wan1: connect to the router through its management address, or through wan2",
    ]);
    // to WAN1's address (the path main uses anyway), or from a connected subnet: no risk
    expect(plan(freshRouter({ session: { clientAddress: '192.0.2.200', clientPort: 1, serverAddress: '198.51.100.10', serverPort: 22 } })).lockout).toBeUndefined();
    expect(plan(freshRouter({ session: { clientAddress: '203.0.113.11', clientPort: 1, serverAddress: '203.0.113.10', serverPort: 22 } })).lockout).toBeUndefined();
    expect(plan(freshRouter()).lockout).toBeUndefined();
  });

  it('without the interface variables: plans nothing and says why (inventory-check reports it)', () => {
    const p = plan(freshRouter(), labVars({ edge_wan2_interface: undefined }));
    expect(p.changes).toEqual([]);
    expect(p.notes?.[0]).toContain('edge_wan2_interface');
  });

  it('verify checks every rule priority and is valid bash', () => {
    const v = tablesTask.verify!({ host: 'r1', vars, facts: freshRouter(), params: undefined })!;
    expect(v).toContain('ip -4 rule show pref 1031');
    expect(bashOk(v)).toBe(true);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseFacts } from '../../../src/facts/parse.js';
import { ALL_KINDS, dhcpClientOf, kindName, routerPlan } from '../../../src/lab/plan.js';
import { ruleSpecOf } from '../../../src/tasks/desired-routing.js';
import { detected } from '../../../src/tasks/inventory-check.js';
import { NFT_COMMENT, NFT_TABLE, UNITS } from '../../../src/tasks/paths.js';
import { resolveTopology, tableRoutes } from '../../../src/tasks/wan.js';
import { labVars } from '../../fixtures/facts.js';

/**
 * What the fact parser reads on each release: the probe's real output (ip -j of iproute2 6.1 and
 * 6.15, nft -j of nftables 1.0.6 and 1.1.3, systemd 252 and 257, with networkd and with ifupdown)
 * recorded on lab routers of each kind after the failover playbook was applied — lab instance 2,
 * router rN of kind N (see test/fixtures/probe/record.ts, which re-records them).
 */
const INSTANCE = 2;
/** The units the fixtures were recorded with (record.ts asks for every unit edge has). */
const RECORDED_UNITS = [UNITS.edgeRoutes, UNITS.edgeNft, UNITS.keepalived];
const WANTED = { files: [], packages: [], units: RECORDED_UNITS, nftTables: [NFT_TABLE] };

describe.each(ALL_KINDS.map((k, i) => ({ kind: k, name: kindName(k), r: routerPlan(i + 1, INSTANCE) })))('facts of a $name router', ({ kind, name, r }) => {
  const text = readFileSync(new URL(`../../fixtures/probe/${name}.probe.txt`, import.meta.url), 'utf8');
  const facts = parseFacts(r.name, text, WANTED);
  const vars = labVars({ edge_mgmt_subnets: [`198.18.${INSTANCE}.0/24`] });

  it('the release, the network setup and its DHCP client', () => {
    expect(facts.os).toMatchObject({ id: 'debian', versionId: kind.release === 'bookworm' ? '12' : '13' });
    expect(facts.networkManager).toBe(kind.net === 'networkd' ? 'systemd-networkd' : 'ifupdown');
    expect(facts.dhcpClients).toEqual(kind.net === 'networkd' ? [] : [dhcpClientOf(kind)]);
    expect(detected(facts)).toMatch(new RegExp(`^detected Debian GNU/Linux ${facts.os.versionId} \\(${kind.release}\\), `));
  });

  it('interfaces and addresses from ip -j link/addr: WAN1 leased, the rest static, all up', () => {
    const byName = Object.fromEntries(facts.interfaces.map((i) => [i.name, i]));
    const v4 = (ifname: string) => byName[ifname]?.addresses.filter((a) => a.family === 'inet' && a.scope === 'global') ?? [];
    for (const ifname of ['mgmt0', 'wan1', 'wan2', 'lan0']) expect(byName[ifname], ifname).toMatchObject({ up: true, carrier: true });
    expect(v4('mgmt0')).toEqual([expect.objectContaining({ address: r.mgmt.address, prefixlen: 24, dynamic: false })]);
    const [from, to] = r.isp1.pool!.map((a) => Number(a.split('.')[3]));
    const wan1 = v4('wan1');
    expect(wan1).toHaveLength(1);
    expect(wan1[0]).toMatchObject({ prefixlen: 29, dynamic: true });
    expect(Number(wan1[0]!.address.split('.')[3])).toBeGreaterThanOrEqual(from!);
    expect(Number(wan1[0]!.address.split('.')[3])).toBeLessThanOrEqual(to!);
    expect(v4('wan2')).toEqual([expect.objectContaining({ address: r.isp2.routerAddress, prefixlen: 29, dynamic: false })]);
    expect(v4('lan0')).toEqual([expect.objectContaining({ address: r.lan.router, prefixlen: 24 })]);
  });

  it("routes from ip -j route: main's two defaults, and edge's table per WAN", () => {
    const defaults = facts.routes.filter((x) => x.table === 'main' && x.dst === 'default');
    expect(defaults.map((d) => [d.dev, d.gateway, d.metric])).toEqual([
      ['wan1', r.isp1.gateway, 100],
      ['wan2', r.isp2.gateway, 200],
    ]);
    const resolved = resolveTopology(vars, facts);
    expect(resolved.ok).toBe(true);
    if (!resolved.ok) return;
    for (const w of resolved.topology.wans) {
      const routes = tableRoutes(facts, w.table, w.tableName);
      expect(routes.map((x) => [x.dst, x.gateway, x.dev, x.prefsrc]), w.name).toEqual([['default', w.gateway, w.ifname, w.address]]);
    }
  });

  it('rules from ip -j rule: the ones edge installed (fwmark, source, unreachable guard), tables by id', () => {
    const resolved = resolveTopology(vars, facts);
    if (!resolved.ok) throw new Error(`topology: ${resolved.missing.join(', ')}`);
    const t = resolved.topology;
    const [a1, a2] = t.wans.map((w) => w.address);
    const inRange = facts.rules.filter((x) => x.priority >= t.priority && x.priority < t.priority + 100);
    expect(inRange.map((x) => `${x.priority}: ${ruleSpecOf(x, t, facts)}`)).toEqual([
      '1000: from all lookup main suppress_prefixlength 0',
      '1010: from all fwmark 0x1 lookup 101',
      '1011: from all fwmark 0x2 lookup 102',
      `1020: from ${a1} lookup 101`,
      `1021: from ${a2} lookup 102`,
      '1030: from all fwmark 0x1 unreachable',
      '1031: from all fwmark 0x2 unreachable',
    ]);
  });

  it('nft -j lists edge\'s table; its text carries the comment edge marks it with', () => {
    expect(facts.nftTables).toEqual([expect.objectContaining({ family: 'inet', name: 'edge' })]);
    expect(facts.nftTableText[NFT_TABLE]).toContain(`comment "${NFT_COMMENT}"`);
  });

  it('units from systemctl show', () => {
    for (const u of RECORDED_UNITS) expect(facts.units[u], u).toMatchObject({ load: 'loaded', active: 'active', enabled: 'enabled' });
  });
});

import { spawnSync } from 'node:child_process';
import { changeScope, changeShell } from '../../../src/tasks/change-ops.js';
import { describe, expect, it } from 'vitest';
import { PREAMBLE } from '../../../src/render/shell.js';
import { nftablesTask, sshSources } from '../../../src/tasks/nftables.js';
import { NFT_TABLE, PATHS } from '../../../src/tasks/paths.js';
import { resolveTopology } from '../../../src/tasks/wan.js';
import { configure, freshRouter, labVars } from '../../fixtures/facts.js';

const vars = labVars();
const plan = (facts = freshRouter(), v = vars) => nftablesTask.plan({ host: 'r1', vars: v, facts, params: undefined });

describe('nftables task', () => {
  it('asks for its file and the live table', () => {
    expect(nftablesTask.needs(vars, undefined)).toEqual({ files: [PATHS.nftRuleset], nftTables: [NFT_TABLE] });
  });

  it('on a fresh router: writes /etc/edge/edge.nft (0600) after nft -c accepts it, then loads it and re-syncs the preferred WAN', () => {
    const p = plan();
    expect(p.changes).toHaveLength(1);
    const c = p.changes[0]!;
    expect(c.summary).toBe(`create ${PATHS.nftRuleset} and load table inet edge`);
    expect(c.diff).toContain('+++ b/etc/edge/edge.nft');
    // edge-failover sync rewrites the rule the router's own traffic follows: edge's rule range is saved too
    expect(changeScope(c)).toEqual({ files: [PATHS.nftRuleset], nftTables: [NFT_TABLE], ruleRange: [1000, 1099] });
    const a = changeShell(c);
    const check = a.indexOf('if ! nft -c -f "$edge_t"');
    expect(check).toBeGreaterThan(0);
    expect(a.indexOf("mv -f -- \"$edge_t\" /etc/edge/edge.nft")).toBeGreaterThan(check);
    expect(a.indexOf('nft -f /etc/edge/edge.nft')).toBeGreaterThan(a.indexOf('mv -f'));
    expect(a).toContain('if [ -x /usr/local/sbin/edge-failover ]; then /usr/local/sbin/edge-failover sync; fi');
    expect(a).toContain('chmod 0600 "$edge_t"');
    expect(a).not.toMatch(/flush ruleset/);
    expect(spawnSync('bash', ['-n'], { input: `${PREAMBLE}\n${a}` }).status).toBe(0);
  });

  it('an IPv6 steering rule on a router whose IPv6 edge does not translate: refused with why, nothing changed', () => {
    const steering = [
      { name: 'guest', source: '10.1.30.0/24', action: 'wan2' as const, on_down: 'only' as const },
      { name: 'guest6', source: 'fd00:10:30::/64', action: 'wan2' as const, on_down: 'only' as const },
    ];
    const p = plan(freshRouter(), { ...vars, edge_steering: steering });
    expect(p.changes).toEqual([]);
    expect(p.failures).toEqual([
      'edge_steering[1] ("guest6") steers IPv6 flows, but IPv6 is not translated on this host (edge_ipv6_mode is off): no flow would match it',
    ]);
    // an IPv4 rule alone is planned as ever
    expect(plan(freshRouter(), { ...vars, edge_steering: steering.slice(0, 1) }).failures).toBeUndefined();
  });

  it('on a configured router: nothing to do', () => {
    expect(plan(configure(freshRouter(), vars)).changes).toEqual([]);
  });

  it('file in place but the table gone (someone ran nft flush ruleset): reloads it', () => {
    const f = configure(freshRouter(), vars);
    f.nftTables = [];
    delete f.nftTableText[NFT_TABLE];
    const p = plan(f);
    expect(p.changes).toHaveLength(1);
    expect(p.changes[0]!.summary).toBe('load table inet edge from /etc/edge/edge.nft (it is not loaded)');
    expect(changeShell(p.changes[0]!).split('\n')[0]).toBe('nft -f /etc/edge/edge.nft');
    expect(changeScope(p.changes[0]!)).toEqual({ nftTables: [NFT_TABLE], ruleRange: [1000, 1099] });
  });

  it('a changed inventory (new SSH sources) rewrites the file', () => {
    const f = configure(freshRouter(), vars);
    const p = plan(f, labVars({ edge_ssh_allowed_sources: ['192.0.2.0/24'] }));
    expect(p.changes).toHaveLength(1);
    expect(p.changes[0]!.diff).toContain('+\t\telements = { 192.0.2.0/24 }');
  });

  it('SSH sources default to the management subnets plus the LAN, without overlaps', () => {
    const t = (v = vars) => {
      const r = resolveTopology(v, freshRouter());
      if (!r.ok) throw new Error('unresolved');
      return sshSources(v, r.topology);
    };
    expect(t()).toEqual(['198.18.0.0/24', '10.1.0.0/24']);
    expect(t(labVars({ edge_mgmt_subnets: ['10.0.0.0/8', '198.18.0.0/15'] }))).toEqual(['10.0.0.0/8', '198.18.0.0/15']);
    expect(t(labVars({ edge_ssh_allowed_sources: ['203.0.113.77/32'] }))).toEqual(['203.0.113.77/32']);
  });

  it('lockout preflight: a ruleset that would refuse edge\'s own SSH access names the rule (defect 13)', () => {
    const f = freshRouter({ session: { clientAddress: '192.0.2.200', clientPort: 40000, serverAddress: '198.51.100.10', serverPort: 22 } });
    expect(plan(f).lockout).toEqual([
      'table inet edge, chain input, rule "counter drop (input policy drop)" would refuse new SSH connections like edge\'s own (192.0.2.200 to 198.51.100.10:22 on wan1): add 192.0.2.200\'s network to edge_ssh_allowed_sources or edge_mgmt_subnets, or set edge_mgmt_interface',
    ]);
    expect(plan(f, labVars({ edge_ssh_allowed_sources: ['192.0.2.0/24'] })).lockout).toBeUndefined();
    // over the management interface the mgmt rule keeps it, even with no subnets configured
    expect(plan(freshRouter(), labVars({ edge_mgmt_subnets: [] })).lockout).toBeUndefined();
    expect(plan(freshRouter(), labVars({ edge_mgmt_subnets: [], edge_mgmt_interface: undefined })).lockout).toHaveLength(1);
    // nothing to apply: nothing to preflight
    const configured = configure(f, labVars({ edge_ssh_allowed_sources: ['192.0.2.0/24'] }));
    expect(plan(configured, labVars({ edge_ssh_allowed_sources: ['192.0.2.0/24'] }))).toEqual({ changes: [] });
  });

  it('lockout preflight: a session edge cannot see on the host is a refusal, never a pass', () => {
    const unseen = { ...freshRouter(), session: undefined };
    expect(plan(unseen).lockout).toEqual([expect.stringContaining('edge cannot see its own SSH session on the host')]);
  });

  it('verify checks the map is loaded', () => {
    expect(nftablesTask.verify!({ host: 'r1', vars, facts: freshRouter(), params: undefined })).toContain('nft list map inet edge preferred_wan');
  });
});

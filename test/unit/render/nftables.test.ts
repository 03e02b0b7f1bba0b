import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nftString } from '../../../src/encode/index.js';
import { inputVerdict, renderEdgeNft, type EdgeNftModel } from '../../../src/render/nftables.js';
import { containsAddress } from '../../../src/ipv4.js';
import { canNetns, has, inNetns } from '../../fixtures/host-tools.js';

const model: EdgeNftModel = {
  wan1: { ifname: 'wan1', mark: 1 },
  wan2: { ifname: 'wan2', mark: 2 },
  lan: 'lan0',
  lanPrefix: '10.1.0.0/24',
  mgmt: 'mgmt0',
  sshPort: 22,
  sshSources: ['198.18.0.0/24', '10.1.0.0/24'],
  kaLinks: ['edge-ka0', 'edge-ka1'],
  policy: { mode: 'failover', weights: [1, 1], stickySeconds: 0, rules: [] },
};

const dir = mkdtempSync(join(tmpdir(), 'edge-nft-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
/** `nft -c -f FILE` in a fresh network namespace: validated by the kernel, nothing changes anywhere. */
function nftCheck(text: string): { status: number | null; stderr: string } {
  const file = join(dir, `r${Math.random().toString(36).slice(2)}.nft`);
  writeFileSync(file, text);
  return inNetns(`nft -c -f ${file}`);
}
const canNft = canNetns && has('nft');

describe('edge nftables ruleset', () => {
  const text = renderEdgeNft(model);

  it('replaces only table inet edge, in one transaction, and never flushes the ruleset (defect 14)', () => {
    expect(text).not.toMatch(/flush\s+ruleset/);
    expect(text).toContain('table inet edge {}\ndelete table inet edge\ntable inet edge {\n');
    expect(text.match(/^table /gm)).toHaveLength(2);
    expect(text).toContain('comment "managed by edge"');
  });

  it('has no shell variables: every value is rendered (defects 1, 2)', () => {
    expect(text).not.toContain('$');
    expect(text).not.toMatch(/^\s*define /m);
    expect(text).toContain('iifname "wan1" ct state new ct mark set 0x1');
    expect(text).toContain('elements = { "lan0" : 0x1 }');
  });

  it('restores the flow mark only for packets from the LAN and for the router\'s own replies (defect 6)', () => {
    const pre = text.slice(text.indexOf('chain prerouting'), text.indexOf('chain output'));
    const restores = pre.split('\n').filter((l) => l.includes('meta mark set'));
    expect(restores).toEqual(['\t\tiifname "lan0" ct mark != 0 ct mark != @dead_wans meta mark set ct mark']);
    expect(text).toContain('iifname "lan0" ct state new ct mark 0 jump lan_new');
    expect(text).toContain('ct mark set iifname map @preferred_wan counter comment "new LAN flows pinned"');
    expect(text).toContain('type route hook output priority mangle; policy accept;\n');
    expect(text).toContain('ct mark != 0 meta mark 0 meta mark set ct mark');
  });

  it('keeps management first-class and drops the rest of input, with counters (defects 12, 13)', () => {
    const input = text.slice(text.indexOf('chain input'), text.indexOf('chain forward'));
    expect(input).toContain('policy drop;');
    expect(input).toContain('iifname "mgmt0" accept');
    expect(input).toContain('tcp dport 22 ip saddr @ssh_sources counter accept');
    expect(input.trim().split('\n').slice(-2)[0]).toContain('counter drop');
    expect(text).toContain('elements = { 198.18.0.0/24, 10.1.0.0/24 }');
    expect(text).toContain('oifname "wan1" meta nfproto ipv4 counter masquerade');
    expect(text).toContain('oifname "wan2" meta nfproto ipv4 counter masquerade');
    // the NAT counters count LAN flows only: the router's own health checks of the other WAN do not move them
    expect(text).toContain('iifname "lan0" oifname "wan1" meta nfproto ipv4 counter masquerade comment "NAT WAN1"');
    expect(text).toContain('iifname "lan0" oifname "wan2" meta nfproto ipv4 counter masquerade comment "NAT WAN2"');
    expect(text).toMatch(/^\t\toifname \{ "wan1", "wan2" \} meta nfproto ipv4 masquerade comment/m);
    expect(text).toContain('iifname { "wan1", "wan2" } counter drop');
    expect(text).toContain('iifname "lan0" oifname { "wan1", "wan2" } counter accept');
  });

  it('without a management interface or SSH sources: no mgmt rule, an empty set', () => {
    const t = renderEdgeNft({ ...model, mgmt: undefined, sshSources: [] });
    expect(t).not.toContain('mgmt0');
    expect(t).not.toMatch(/elements = \{\s*\}/);
  });

  it('refuses names that could escape an nft string', () => {
    expect(() => nftString('lan0"; flush ruleset; "')).toThrow(/refusing/);
    expect(() => renderEdgeNft({ ...model, lan: 'a b' })).toThrow();
    expect(nftString('eth0.100')).toBe('"eth0.100"');
  });

  it('never forwards what conntrack cannot place, and after NAT drops anything with a LAN source leaving a WAN', () => {
    expect(text).toContain('\t\tct state established,related counter accept comment "replies"\n\t\t# A packet conntrack');
    expect(text).toContain('ct state invalid,untracked counter drop comment "invalid, never forwarded"\n\t\tiifname "lan0" oifname { "wan1", "wan2" } counter accept');
    expect(text).toContain('type filter hook postrouting priority srcnat + 10; policy accept;');
    expect(text).toContain('oifname { "wan1", "wan2" } ip saddr 10.1.0.0/24 counter drop comment "LAN source leaving a WAN un-NATed"');
    expect(renderEdgeNft({ ...model, lanPrefix: undefined })).not.toContain('leak_guard');
    expect(() => renderEdgeNft({ ...model, lanPrefix: '10.1.0.0/24; flush ruleset' })).toThrow(/refusing/);
  });

  it.skipIf(!canNft)('is accepted by nft -c (the kernel checks it; nothing is loaded)', () => {
    const r = nftCheck(text);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const bare = nftCheck(renderEdgeNft({ ...model, mgmt: undefined, sshSources: [], lanPrefix: undefined }));
    expect(bare.status).toBe(0);
    // and nft -c does reject a broken one, so the check means something
    expect(nftCheck(text.replace('policy drop', 'policy dorp')).status).not.toBe(0);
  });

  it.skipIf(!canNft)('a reload leaves other tables alone (a Docker-like table survives)', () => {
    const file = join(dir, 'edge.nft');
    writeFileSync(file, text);
    const r = inNetns(
      `set -e; nft add table ip docker; nft add chain ip docker DOCKER; nft -f ${file}; nft -f ${file}; nft list tables`,
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('table ip docker');
    expect(r.stdout).toContain('table inet edge');
  });

  it('inputVerdict follows the input chain for a new SSH connection', () => {
    const v = (iif: string, saddr: string, dport = 22) => inputVerdict(model, { iif, saddr, dport }, containsAddress).verdict;
    expect(v('mgmt0', '192.0.2.99')).toBe('accept');
    expect(v('wan1', '198.18.0.1')).toBe('accept');
    expect(v('wan1', '192.0.2.99')).toBe('drop');
    expect(v('lan0', '10.9.9.9', 2222)).toBe('accept');
    expect(inputVerdict({ ...model, mgmt: undefined }, { iif: 'mgmt0', saddr: '192.0.2.99', dport: 22 }, containsAddress).verdict).toBe('drop');
  });
});

describe('edge nftables ruleset with translated IPv6', () => {
  const six: EdgeNftModel = {
    ...model,
    ipv6: { mode: 'translated', lanPrefix: 'fd00:10:1::/64', mapped1: '2001:db8:11:100::/64', mapped2: '2001:db8:21:100::/64', own1: ['2001:db8:11::/64'], own2: ['2001:db8:21::/64'] },
  };
  const text = renderEdgeNft(six);

  it('pins new IPv6 flows by their own map, and resets and restores each family by its own dead set', () => {
    expect(text).toContain('\tmap preferred_wan6 {\n\t\ttype ifname : mark\n\t\telements = { "lan0" : 0x1 }\n\t}');
    expect(text).toContain('\tset dead_wans6 {\n\t\ttype mark\n\t}');
    expect(text).toContain('\t\tmeta nfproto ipv6 ct mark set iifname map @preferred_wan6 counter comment "new LAN IPv6 flows pinned"\n\t\tmeta nfproto ipv4 ct mark set iifname map @preferred_wan counter');
    const pre = text.slice(text.indexOf('chain prerouting'), text.indexOf('chain output'));
    expect(pre.split('\n').filter((l) => l.includes('meta mark set ct mark'))).toEqual([
      '\t\tiifname "lan0" meta nfproto ipv4 ct mark != 0 ct mark != @dead_wans meta mark set ct mark',
      '\t\tiifname "lan0" meta nfproto ipv6 ct mark != 0 ct mark != @dead_wans6 meta mark set ct mark',
    ]);
    const fwd = text.slice(text.indexOf('chain forward'), text.indexOf('chain postrouting'));
    expect(fwd).toContain('iifname "lan0" meta nfproto ipv4 ct mark @dead_wans meta l4proto tcp counter reject with tcp reset');
    expect(fwd).toContain('iifname "lan0" meta nfproto ipv6 ct mark @dead_wans6 meta l4proto tcp counter reject with tcp reset');
    // balance spreads both families alike: no IPv6 map is read there
    expect(renderEdgeNft({ ...six, policy: { ...six.policy, mode: 'balance' } })).not.toContain('@preferred_wan6');
  });

  it.skipIf(!canNft)('nft -c accepts it', () => {
    const r = nftCheck(text);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('edge nftables ruleset with native IPv6', () => {
  const native: EdgeNftModel = {
    ...model,
    ipv6: { mode: 'native', lan1: '2001:db8:11:100::/64', lan2: '2001:db8:21:100::/64', own1: ['2001:db8:11::/56'], own2: ['2001:db8:21::/56'] },
  };
  const text = renderEdgeNft(native);
  const lanNew = text.slice(text.indexOf('chain lan_new {'), text.indexOf('\t}', text.indexOf('chain lan_new {')));

  it('marks a new IPv6 flow by its source prefix before any steering rule or mode, and translates nothing', () => {
    const lines = lanNew.split('\n').filter((l) => l.includes('ipv6'));
    expect(lines).toEqual([
      '\t\tmeta nfproto ipv6 ct mark set ip6 saddr map { 2001:db8:11:100::/64 : 0x1, 2001:db8:21:100::/64 : 0x2 } counter return comment "native IPv6: the WAN of the source prefix"',
      '\t\tmeta nfproto ipv6 counter return comment "native IPv6: a source of neither ISP\'s prefix"',
    ]);
    expect(lanNew.indexOf('ipv6')).toBeLessThan(lanNew.indexOf('preferred_wan'));
    expect(text).not.toContain('snat ip6 prefix');
    // balance: the same two lines come before `goto balance`
    const bal = renderEdgeNft({ ...native, policy: { ...native.policy, mode: 'balance' } });
    expect(bal.indexOf('native IPv6: the WAN of the source prefix')).toBeLessThan(bal.indexOf('\t\tgoto balance'));
  });

  it('guards: no ULA source out of a WAN, no ISP\'s prefix out of the other\'s WAN', () => {
    const guard = text.slice(text.indexOf('chain leak_guard'), text.indexOf('\t}', text.indexOf('chain leak_guard')));
    expect(guard).toContain('oifname { "wan1", "wan2" } ip6 saddr fc00::/7 counter drop comment "ULA IPv6 source leaving a WAN"');
    expect(guard).toContain('oifname "wan1" ip6 saddr 2001:db8:21::/56 counter drop');
    expect(guard).toContain('oifname "wan2" ip6 saddr 2001:db8:11::/56 counter drop');
  });

  it.skipIf(!canNft)('nft -c accepts it (failover and balance)', () => {
    for (const t of [text, renderEdgeNft({ ...native, policy: { ...native.policy, mode: 'balance' } })]) {
      const r = nftCheck(t);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });
});

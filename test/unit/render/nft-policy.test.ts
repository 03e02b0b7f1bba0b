import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { balanceExpr, steerMatch, type NftPolicy } from '../../../src/render/nft-policy.js';
import { renderEdgeNft, type EdgeNftModel } from '../../../src/render/nftables.js';
import { canNetns, has, inNetns } from '../../fixtures/host-tools.js';

const worked: NftPolicy = {
  mode: 'balance',
  weights: [3, 1],
  stickySeconds: 600,
  rules: [
    { name: 'phones', source: '10.1.20.0/24', action: 'wan2', onDown: 'fallback' },
    { name: 'voip', protocol: 'udp', ports: [[5060, 5060], [10000, 20000]], action: 'wan2', onDown: 'fallback' },
    { name: 'guest', source: '10.1.30.0/24', action: 'wan2', onDown: 'only' },
    { name: 'bank', destination: '203.0.113.0/24', action: 'wan1', onDown: 'fallback' },
    { name: 'ping', protocol: 'icmp', action: 'balance', onDown: 'fallback' },
  ],
};
const model = (policy: NftPolicy): EdgeNftModel => ({
  wan1: { ifname: 'wan1', mark: 1 },
  wan2: { ifname: 'wan2', mark: 2 },
  lan: 'lan0',
  lanPrefix: '10.1.0.0/16',
  sshPort: 22,
  sshSources: ['198.18.0.0/24'],
  kaLinks: ['edge-ka0', 'edge-ka1'],
  policy,
});
/** The worked example and an IPv6 guest rule, on a router translating IPv6. */
const worked6: NftPolicy = { ...worked, rules: [...worked.rules, { name: 'guest6', family: 6, source: 'fd00:10:1::/64', action: 'wan2', onDown: 'only' }] };
const model6 = (policy: NftPolicy): EdgeNftModel => ({
  ...model(policy),
  ipv6: { mode: 'translated', lanPrefix: 'fd00:10:1::/64', mapped1: '2001:db8:11:100::/64', mapped2: '2001:db8:21:100::/64', own1: ['2001:db8:11::/64'], own2: ['2001:db8:21::/64'] },
});
const chain = (text: string, name: string) => text.slice(text.indexOf(`chain ${name} {`), text.indexOf('\t}', text.indexOf(`chain ${name} {`)));

const dir = mkdtempSync(join(tmpdir(), 'edge-nft-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const canNft = canNetns && has('nft');

describe('new LAN flows: steering rules, then the mode, decided in the kernel', () => {
  it('balance by reduced weights: numgen into the mark', () => {
    expect(balanceExpr([3, 1], [1, 2])).toBe('numgen random mod 4 map { 0-2 : 0x1, 3 : 0x2 }');
    expect(balanceExpr([50, 50], [1, 2])).toBe('numgen random mod 2 map { 0 : 0x1, 1 : 0x2 }');
    expect(balanceExpr([2, 6], [0x10, 0x20])).toBe('numgen random mod 4 map { 0 : 0x10, 1-3 : 0x20 }');
  });

  it('matches source, destination, protocol and ports', () => {
    expect(steerMatch(worked.rules[1]!)).toBe('meta l4proto udp udp dport { 5060, 10000-20000 }');
    expect(steerMatch({ name: 'x', protocol: 'tcp', ports: [[443, 443]], source: '10.1.0.0/24', destination: '192.0.2.0/24', action: 'wan1', onDown: 'only' })).toBe(
      'ip saddr 10.1.0.0/24 ip daddr 192.0.2.0/24 meta l4proto tcp tcp dport 443',
    );
    // icmp is the flow's family's ICMP; a rule without prefixes matches both families
    expect(steerMatch(worked.rules[4]!)).toBe('meta l4proto { icmp, ipv6-icmp }');
    expect(steerMatch({ name: 'x', family: 4, source: '10.1.0.0/24', protocol: 'icmp', action: 'wan1', onDown: 'only' })).toBe('ip saddr 10.1.0.0/24 meta l4proto icmp');
    expect(steerMatch({ name: 'x', family: 6, source: 'fd00:20::/64', destination: '2001:db8::/32', protocol: 'icmp', action: 'wan1', onDown: 'only' })).toBe(
      'ip6 saddr fd00:20::/64 ip6 daddr 2001:db8::/32 meta l4proto ipv6-icmp',
    );
    expect(() => steerMatch({ name: 'x', family: 6, source: '10.1.0.0/24', action: 'wan1', onDown: 'only' })).toThrow(/refusing/);
    expect(() => steerMatch({ name: 'x', source: '10.1.0.0/24; flush ruleset', action: 'wan1', onDown: 'only' })).toThrow(/refusing/);
  });

  it('rules in order, each with its named counter, then the mode; fallback, only and balance consult the switcher\'s elements', () => {
    const text = renderEdgeNft(model(worked));
    expect(text).toContain('iifname "lan0" ct state new ct mark 0 jump lan_new\n');
    expect(chain(text, 'lan_new').split('\n').slice(1, -1)).toEqual([
      '\t\tip saddr 10.1.20.0/24 counter name "steer_1" ct mark set 0x2 goto fallback comment "steering phones"',
      '\t\tmeta l4proto udp udp dport { 5060, 10000-20000 } counter name "steer_2" ct mark set 0x2 goto fallback comment "steering voip"',
      '\t\tip saddr 10.1.30.0/24 counter name "steer_3" ct mark set 0x2 goto only comment "steering guest"',
      '\t\tip daddr 203.0.113.0/24 counter name "steer_4" ct mark set 0x1 goto fallback comment "steering bank"',
      '\t\tmeta l4proto { icmp, ipv6-icmp } counter name "steer_5" goto balance comment "steering ping"',
      '\t\tgoto balance',
    ]);
    expect(chain(text, 'fallback')).toContain('ct mark set ct mark map @avoid');
    expect(chain(text, 'only')).toContain('ct mark @down counter drop');
    expect(chain(text, 'balance').split('\n').slice(1, -1)).toEqual([
      '\t\tct mark set ip saddr map @sticky4',
      '\t\tct mark set ip6 saddr map @sticky6',
      '\t\tct mark 0 ct mark set numgen random mod 4 map { 0-2 : 0x1, 3 : 0x2 }',
      '\t\tct mark set ct mark map @avoid',
      '\t\tupdate @sticky4 { ip saddr : ct mark }',
      '\t\tupdate @sticky6 { ip6 saddr : ct mark }',
    ]);
    expect(text).toContain('map sticky4 {\n\t\ttype ipv4_addr : mark\n\t\tflags dynamic,timeout\n\t\ttimeout 600s\n\t}');
    expect(text).toContain('counter steer_3 {\n\t\tcomment "steering guest"\n\t}');
  });

  it('translated IPv6: IPv6 flows avoid and drop by their own map and set (avoid6, down6), IPv4 flows by theirs', () => {
    const text = renderEdgeNft(model6(worked6));
    expect(chain(text, 'lan_new')).toContain('\t\tip6 saddr fd00:10:1::/64 counter name "steer_6" ct mark set 0x2 goto only comment "steering guest6"');
    expect(chain(text, 'fallback').split('\n').slice(1, -1)).toEqual([
      '\t\tmeta nfproto ipv4 ct mark set ct mark map @avoid',
      '\t\tmeta nfproto ipv6 ct mark set ct mark map @avoid6',
    ]);
    expect(chain(text, 'only').split('\n').slice(1, -1)).toEqual([
      '\t\tmeta nfproto ipv4 ct mark @down counter drop comment "steering only: its WAN is down"',
      '\t\tmeta nfproto ipv6 ct mark @down6 counter drop comment "steering only: its WAN is down"',
    ]);
    expect(chain(text, 'balance')).toContain('\t\tmeta nfproto ipv4 ct mark set ct mark map @avoid\n\t\tmeta nfproto ipv6 ct mark set ct mark map @avoid6\n');
    expect(text).toContain('map avoid6 {\n\t\ttype mark : mark\n\t}');
    expect(text).toContain('set down6 {\n\t\ttype mark\n\t}');
    // without translated IPv6: one map and set, no family test
    expect(renderEdgeNft(model(worked))).not.toMatch(/avoid6|down6|meta nfproto ipv4 ct mark set ct mark map/);
  });

  it('failover without rules: new flows follow preferred_wan, as before; no sticky maps', () => {
    const text = renderEdgeNft(model({ mode: 'failover', weights: [1, 1], stickySeconds: 0, rules: [] }));
    expect(chain(text, 'lan_new').split('\n').slice(1, -1)).toEqual(['\t\tct mark set iifname map @preferred_wan counter comment "new LAN flows pinned"']);
    expect(text).not.toContain('sticky');
    expect(text).not.toContain('counter steer_');
  });

  it.skipIf(!canNft)('nft -c accepts every mode with and without rules and stickiness', () => {
    const cases = [worked, { ...worked, mode: 'failover' as const, stickySeconds: 0 }, { ...worked, rules: [] }].flatMap((p) => [
      { name: `${p.mode}-${p.rules.length}-${p.stickySeconds}`, text: renderEdgeNft(model(p)) },
      { name: `${p.mode}-${p.rules.length}-${p.stickySeconds}-v6`, text: renderEdgeNft(model6({ ...p, rules: [...p.rules, ...worked6.rules.slice(-1)] })) },
    ]);
    for (const c of cases) {
      const file = join(dir, `${c.name}.nft`);
      writeFileSync(file, c.text);
      const r = inNetns(`nft -c -f ${file}`);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
  });

  it.skipIf(!canNft)('the switcher\'s state is elements: avoid and down change without a reload, counters stay', () => {
    const file = join(dir, 'loaded.nft');
    writeFileSync(file, renderEdgeNft(model6(worked6)));
    const r = inNetns(
      `set -e; nft -f ${file}
printf 'flush map inet edge avoid\\nadd element inet edge avoid { 0x1 : 0x2 }\\nflush set inet edge down\\nadd element inet edge down { 0x1 }\\n' | nft -f -
printf 'flush map inet edge avoid6\\nadd element inet edge avoid6 { 0x2 : 0x1 }\\nflush set inet edge down6\\nadd element inet edge down6 { 0x2 }\\n' | nft -f -
nft list map inet edge avoid; nft list set inet edge down; nft list map inet edge avoid6; nft list set inet edge down6; nft list counter inet edge steer_1`,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/elements = \{ 0x00000001 : 0x00000002 \}/);
    expect(r.stdout).toMatch(/elements = \{ 0x00000001 \}/);
    expect(r.stdout).toMatch(/map avoid6 \{[^}]*elements = \{ 0x00000002 : 0x00000001 \}/);
    expect(r.stdout).toMatch(/set down6 \{[^}]*elements = \{ 0x00000002 \}/);
    expect(r.stdout).toContain('counter steer_1');
  });
});

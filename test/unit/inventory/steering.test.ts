import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { covers, deadRules, overlappingPort, portRange, portRanges, ruleFamily, type SteeringRule } from '../../../src/inventory/steering.js';
import { errorsOf } from './helpers.js';

const inv = (text: string) => parseInventory(parseYaml(text, 'inv.yaml'));
const rule = (r: Partial<SteeringRule>): SteeringRule => ({ name: 'r', action: 'wan2', on_down: 'fallback', ...r });

describe('steering rules: ports and dead rules', () => {
  it('reads ports and ranges, refuses backwards or out-of-range ones', () => {
    expect(portRange(5060)).toEqual([5060, 5060]);
    expect(portRange('10000-20000')).toEqual([10000, 20000]);
    expect(portRange('20000-10000')).toBeUndefined();
    expect(portRange(0)).toBeUndefined();
    expect(portRange('1-65536')).toBeUndefined();
    expect(portRanges(['10000-20000', 5060])).toEqual([[5060, 5060], [10000, 20000]]);
    expect(overlappingPort([5060, '5000-6000'])).toEqual({ index: 1, other: 0 });
    expect(overlappingPort([5060, '10000-20000'])).toBeUndefined();
  });

  it('a rule is covered when an earlier one matches all it matches (prefix, protocol, ports)', () => {
    expect(covers(rule({ source: '10.1.0.0/16' }), rule({ source: '10.1.20.0/24', protocol: 'udp' }))).toBe(true);
    expect(covers(rule({ source: '10.1.20.0/24' }), rule({ source: '10.1.0.0/16' }))).toBe(false);
    expect(covers(rule({ source: '10.1.20.0/24' }), rule({ destination: '192.0.2.0/24' }))).toBe(false);
    expect(covers(rule({ protocol: 'udp', ports: ['1-100', '101-200'] }), rule({ protocol: 'udp', ports: ['50-150'] }))).toBe(true);
    expect(covers(rule({ protocol: 'udp', ports: ['1-100'] }), rule({ protocol: 'udp', ports: ['50-150'] }))).toBe(false);
    expect(covers(rule({ protocol: 'udp', ports: [53] }), rule({ protocol: 'tcp', ports: [53] }))).toBe(false);
    expect(covers(rule({ protocol: 'tcp' }), rule({ protocol: 'tcp', ports: [443] }))).toBe(true);
    expect(deadRules([rule({ source: '10.1.0.0/16' }), rule({ destination: '192.0.2.0/24' }), rule({ source: '10.1.5.0/24' })])).toEqual([{ index: 2, by: 0 }]);
  });

  it('IPv6 prefixes: a prefix covers only its own family; a rule without prefixes covers both', () => {
    expect(covers(rule({ source: 'fd00:10::/48' }), rule({ source: 'fd00:10:0:1::/64', protocol: 'tcp' }))).toBe(true);
    expect(covers(rule({ source: 'fd00:10:0:1::/64' }), rule({ source: 'fd00:10::/48' }))).toBe(false);
    expect(covers(rule({ source: '10.1.0.0/16' }), rule({ source: 'fd00:10::/48' }))).toBe(false);
    expect(covers(rule({ source: 'fd00:10::/48' }), rule({ source: '10.1.0.0/16' }))).toBe(false);
    expect(covers(rule({ destination: '0.0.0.0/0' }), rule({ destination: '2001:db8::/32' }))).toBe(false);
    expect(covers(rule({ protocol: 'udp' }), rule({ source: 'fd00:10::/48', protocol: 'udp' }))).toBe(true);
    expect(covers(rule({ source: 'fd00:10::/48' }), rule({ protocol: 'udp' }))).toBe(false);
    expect(ruleFamily(rule({ destination: '2001:db8::/32' }))).toBe(6);
    expect(ruleFamily(rule({ source: '10.1.0.0/16' }))).toBe(4);
    expect(ruleFamily(rule({ protocol: 'tcp' }))).toBeUndefined();
  });
});

describe('steering and mode variables are validated at load, with file:line:col', () => {
  const host = (vars: string) => `all:\n  hosts:\n    r1:\n${vars}`;

  it('accepts the worked examples', () => {
    const i = inv(
      host(`      edge_wan_mode: balance
      edge_wan1_weight: 3
      edge_wan2_weight: 1
      edge_balance_sticky_timeout: 600
      edge_steering:
        - { name: phones, source: 10.1.20.0/24, action: wan2 }
        - { name: voip, protocol: udp, ports: [5060, "10000-20000"], action: wan2 }
        - { name: guest, source: 10.1.30.0/24, action: wan2, on_down: only }
        - { name: bank, destination: 203.0.113.0/24, action: wan1 }
`),
    );
    const v = i.hosts.get('r1')!.vars;
    expect(v.edge_wan_mode).toBe('balance');
    expect(v.edge_steering.map((r) => `${r.name}:${r.action}:${r.on_down}`)).toEqual(['phones:wan2:fallback', 'voip:wan2:fallback', 'guest:wan2:only', 'bank:wan1:fallback']);
  });

  it('defaults: failover, weights 1:1, no stickiness, no rules', () => {
    const v = inv(host('      edge_wan1_interface: eth1\n')).hosts.get('r1')!.vars;
    expect([v.edge_wan_mode, v.edge_wan1_weight, v.edge_wan2_weight, v.edge_balance_sticky_timeout, v.edge_steering]).toEqual(['failover', 1, 1, 0, []]);
  });

  it('a dead rule is refused at the rule, naming the one above that takes all its flows', () => {
    expect(
      errorsOf(() =>
        inv(host(`      edge_steering:
        - { name: lan, source: 10.1.0.0/16, action: wan2 }
        - { name: phones, source: 10.1.20.0/24, action: wan1 }
`)),
      ),
    ).toEqual([
      'inv.yaml:6:11: all.hosts.r1.edge_steering[1]: rule "phones" never matches: edge_steering[0] ("lan") comes first and matches every flow it would: remove it or move it above',
    ]);
  });

  it('refuses ports without tcp/udp, overlapping ports, only with balance, bad prefixes, unknown keys and values', () => {
    const errors = errorsOf(() =>
      inv(host(`      edge_steering:
        - { name: a, ports: [80], action: wan1 }
        - { name: b, protocol: tcp, ports: [80, "70-90"], action: wan1 }
        - { name: c, source: 10.9.0.0/16, action: balance, on_down: only }
        - { name: d, source: 10.7.0.1/16, action: wan2 }
        - { name: e, src: 10.6.0.0/16, action: wan2 }
        - { name: f, protocol: udp, ports: ["9-1"], action: wan3 }
`)),
    );
    expect(errors).toEqual([
      'inv.yaml:5:29: all.hosts.r1.edge_steering[0].ports: ports need protocol: tcp or protocol: udp',
      'inv.yaml:6:49: all.hosts.r1.edge_steering[1].ports[1]: overlaps ports[0]: write each port once, got "70-90"',
      'inv.yaml:7:69: all.hosts.r1.edge_steering[2].on_down: only needs action wan1 or wan2 (balance uses whichever WAN is up), got "only"',
      'inv.yaml:8:30: all.hosts.r1.edge_steering[3].source: "10.7.0.1/16" has host bits set: refused — write the network 10.7.0.0/16, or 10.7.0.1/32 for one host',
      'inv.yaml:9:22: all.hosts.r1.edge_steering[4].src: unknown key src',
      'inv.yaml:10:45: all.hosts.r1.edge_steering[5].ports[0]: expected a port 1-65535 or a range like "10000-20000" (low-high), got "9-1"',
      'inv.yaml:10:61: all.hosts.r1.edge_steering[5].action: expected one of "wan1", "wan2", "balance", got "wan3"',
    ]);
  });

  it('IPv6 rules: accepted with IPv6 prefixes; source and destination of two families refused (no flow has both)', () => {
    const v = inv(
      host(`      edge_steering:
        - { name: guest, source: 10.1.30.0/24, action: wan2, on_down: only }
        - { name: guest6, source: "fd00:10:30::/64", action: wan2, on_down: only }
        - { name: bank6, destination: "2001:db8:b::/48", protocol: tcp, ports: [443], action: wan1 }
`),
    ).hosts.get('r1')!.vars;
    expect(v.edge_steering.map((r) => r.name)).toEqual(['guest', 'guest6', 'bank6']);
    expect(
      errorsOf(() =>
        inv(host(`      edge_steering:
        - { name: mixed, source: 10.1.30.0/24, destination: "2001:db8::/32", action: wan2 }
        - { name: hostbits, source: "fd00:10:30::1/64", action: wan2 }
`)),
      ),
    ).toEqual([
      'inv.yaml:5:61: all.hosts.r1.edge_steering[0].destination: is not the family of source: a flow is IPv4 or IPv6, so no flow would match (write one rule per family), got "2001:db8::/32"',
      'inv.yaml:6:37: all.hosts.r1.edge_steering[1].source: "fd00:10:30::1/64" has host bits set: refused — write the network fd00:10:30::/64',
    ]);
  });

  it('rule names are unique (they name the counters)', () => {
    expect(
      errorsOf(() =>
        inv(host(`      edge_steering:
        - { name: a, source: 10.9.0.0/16, action: wan1 }
        - { name: a, source: 10.8.0.0/16, action: wan2 }
`)),
      ),
    ).toEqual(['inv.yaml:6:19: all.hosts.r1.edge_steering[1].name: "a" is already the name of edge_steering[0]']);
  });

  it('weights and the sticky timeout are bounded whole numbers', () => {
    const errors = errorsOf(() => inv(host('      edge_wan_mode: spread\n      edge_wan1_weight: 0\n      edge_balance_sticky_timeout: 1.5\n')));
    expect(errors.join('\n')).toMatch(/inv\.yaml:4:22: all\.hosts\.r1\.edge_wan_mode: /);
    expect(errors.join('\n')).toMatch(/inv\.yaml:5:25: all\.hosts\.r1\.edge_wan1_weight: /);
    expect(errors.join('\n')).toMatch(/inv\.yaml:6:36: all\.hosts\.r1\.edge_balance_sticky_timeout: /);
  });
});

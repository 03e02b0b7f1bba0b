import { describe, expect, it } from 'vitest';
import { bigToIp6, containsAddress6, formatPrefix6, hasHostBits6, ip6ToBig, isUla, linkLocalOfMac, parsePrefix6, subnet6 } from '../../src/ipv6.js';

describe('ipv6 arithmetic', () => {
  it('parses and prints addresses in canonical form (RFC 5952)', () => {
    for (const [inp, out] of [
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
      ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::45:ff:fe03:201', 'fe80::45:ff:fe03:201'],
      ['2001:db8:1:0:1:0:0:1', '2001:db8:1:0:1::1'],
      ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ])
      expect(bigToIp6(ip6ToBig(inp!)!)).toBe(out);
    expect(ip6ToBig('192.0.2.1')).toBeUndefined();
    expect(ip6ToBig('fe80::1%eth0')).toBeUndefined();
    expect(ip6ToBig('2001:db8::g')).toBeUndefined();
  });

  it('clears host bits, checks containment and cuts subnets', () => {
    expect(formatPrefix6(parsePrefix6('2001:db8:11:1ff::1/56')!)).toBe('2001:db8:11:100::/56');
    expect(parsePrefix6('2001:db8::/129')).toBeUndefined();
    expect(parsePrefix6('2001:db8::/6x')).toBeUndefined();
    expect(hasHostBits6('2001:db8::1/64')).toBe(true);
    expect(hasHostBits6('2001:db8::/64')).toBe(false);
    expect(containsAddress6('2001:db8:11:100::/56', '2001:db8:11:1ff::9')).toBe(true);
    expect(containsAddress6('2001:db8:11:100::/56', '2001:db8:11:200::9')).toBe(false);
    expect(formatPrefix6(subnet6(parsePrefix6('2001:db8:11:100::/56')!, 64, 3)!)).toBe('2001:db8:11:103::/64');
    expect(subnet6(parsePrefix6('2001:db8:11:100::/56')!, 64, 256)).toBeUndefined();
    expect(isUla('fd00:10:1::100')).toBe(true);
    expect(isUla('2001:db8::1')).toBe(false);
  });

  it('forms the EUI-64 link-local address of a MAC as the kernel does', () => {
    // the lab router r1 (instance 8) wan1: its kernel showed fe80::45:8ff:fe01:201
    expect(linkLocalOfMac('02:45:08:01:02:01')).toBe('fe80::45:8ff:fe01:201');
  });
});

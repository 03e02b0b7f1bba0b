import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bigToIp6, formatPrefix6, parsePrefix6, subnet6 } from '../../../src/ipv6.js';

/**
 * A router follows a new delegated prefix by itself (edge-routes), so the subnet the LAN uses of a
 * prefix is computed twice: by the run (src/ipv6.ts) and by the router (lib.sh's subnet6, bash). They
 * must agree to the byte, or a run after a prefix change would undo what the router did.
 */
const LIB = fileURLToPath(new URL('../../../src/router/lib.sh', import.meta.url));

/** lib.sh's subnet6 over many cases in one bash: "SUBNET|-" per case. */
function shellSubnets(cases: [string, number, number][]): string[] {
  const calls = cases.map(([p, len, id]) => `if subnet6 ${p} ${len} ${id}; then echo "$SUBNET6"; else echo -; fi`).join('\n');
  const r = spawnSync('bash', ['-c', `PROG=test; . ${JSON.stringify(LIB)}\n${calls}`], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout.trim().split('\n');
}

const tsSubnet = (p: string, len: number, id: number) => {
  const s = subnet6(parsePrefix6(p)!, len, id);
  return s ? formatPrefix6(s) : '-';
};

describe('subnet6 on the router is the run\'s subnet6', () => {
  it('on prefixes ISPs delegate and the subnets a LAN takes', () => {
    const cases: [string, number, number][] = [
      ['2001:db8:11:100::/56', 64, 0],
      ['2001:db8:11:100::/56', 64, 255],
      ['2001:db8:11:100::/56', 64, 256],
      ['2001:db8:1200::/40', 56, 3],
      ['2001:db8::/32', 48, 65535],
      ['2001:db8::/48', 48, 0],
      ['2001:db8::/48', 48, 1],
      ['fd00::/8', 64, 1],
      ['::/0', 64, 1],
    ];
    expect(shellSubnets(cases)).toEqual(cases.map((c) => tsSubnet(...c)));
    expect(shellSubnets([['2001:db8:1200::/40', 56, 3]])).toEqual(['2001:db8:1200:300::/56']);
  });

  it('on any prefix, length and subnet number', () => {
    const arb = fc
      .tuple(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.integer({ min: 0, max: 128 }), fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 70000 }))
      .map(([n, plen, extra, id]): [string, number, number] => {
        const len = Math.min(128, plen + extra);
        const p = parsePrefix6(`${bigToIp6(n)}/${plen}`)!;
        return [formatPrefix6(p), len, id];
      });
    const cases = fc.sample(arb, { numRuns: 300, seed: 6296 });
    expect(shellSubnets(cases)).toEqual(cases.map((c) => tsSubnet(...c)));
  });
});

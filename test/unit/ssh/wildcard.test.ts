import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchWildcard } from '../../../src/ssh/wildcard.js';

/**
 * The one OpenSSH wildcard (ssh_config Host/Match and Include, known_hosts patterns). The two
 * RegExp matchers it replaced are kept here as the oracle: on ordinary patterns it must agree with
 * both; on a hostile one it must not take their exponential time.
 */

// ssh-config-read.ts's matchGlob and known-hosts.ts's matchWildcard before issue 19.
const oldGlob = (text: string, pattern: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\/]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's').test(text);
const oldWildcard = (text: string, pattern: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`))}$`, 's').test(text);

const PATTERNS = ['*', '?', '', '**', '*.lab.example', 'r?', 'r*', 'r*1', '10.0.0.?', '[10.1.*]:2222', 'a+b', 'a.b', 'a?b', '*a*b*', '?*?', 'R1', 'x\\y', '$(id)', '%h', '.*', '*.conf', 'a/b'];
const TEXTS = ['', 'r1', 'R1', 'r10', 'r', 'a.b', 'ab', 'a+b', 'axb', 'r1.lab.example', 'lab.example', '10.0.0.5', '10.0.0.55', '[10.1.2.3]:2222', 'x\\y', '$(id)', '%h', 'a\nb', 'ba', '50-edge.conf', 'a/b', '.hidden'];

describe('matchWildcard (OpenSSH match_pattern)', () => {
  it('agrees with both matchers it replaced on ordinary patterns', () => {
    for (const p of PATTERNS) {
      for (const t of TEXTS) {
        const want = oldGlob(t, p);
        expect(oldWildcard(t, p), `${t} ~ ${p}`).toBe(want);
        expect(matchWildcard(t, p), `${t} ~ ${p}`).toBe(want);
      }
    }
  });

  it('agrees with them on random short patterns (fast-check, seeded)', () => {
    const s = (n: number) => fc.array(fc.constantFrom('a', 'b', '.', '*', '?', 'A'), { maxLength: n }).map((c) => c.join(''));
    fc.assert(fc.property(s(10), s(8), (t, p) => matchWildcard(t, p) === oldWildcard(t, p)), { seed: 20261201, numRuns: 5000 });
  });

  it('`*?` twelve times and X against a 40-character name ends at once', () => {
    const pattern = `${'*?'.repeat(12)}X`;
    const t0 = performance.now();
    expect(matchWildcard('a'.repeat(40), pattern)).toBe(false);
    expect(matchWildcard(`${'a'.repeat(39)}X`, pattern)).toBe(true);
    expect(performance.now() - t0).toBeLessThan(50);
  });
});

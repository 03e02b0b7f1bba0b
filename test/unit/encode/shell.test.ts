import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shJoin, shQuote } from '../../../src/encode/index.js';

// What a POSIX shell turns the quoted text back into: the round trip is the real test.
function argvThroughShell(cmdline: string): string[] {
  const out = execFileSync('sh', ['-c', `for a in ${cmdline}; do printf '%s\\0' "$a"; done`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('shQuote', () => {
  it('leaves plain words bare', () => {
    expect(shQuote('bash')).toBe('bash');
    expect(shQuote('/etc/nftables.d/edge.nft')).toBe('/etc/nftables.d/edge.nft');
    expect(shQuote('net.ipv4.ip_forward=1')).toBe('net.ipv4.ip_forward=1');
  });

  it('quotes the empty string and anything special', () => {
    expect(shQuote('')).toBe("''");
    expect(shQuote('a b')).toBe("'a b'");
    expect(shQuote("it's")).toBe("'it'\\''s'");
    expect(shQuote('~root')).toBe("'~root'");
    expect(shQuote('=cmd')).toBe("'=cmd'");
    expect(shQuote('#x')).toBe("'#x'");
  });

  it('survives a real shell unchanged', () => {
    const nasty = ['', ' ', "'", '"', '$(id)', '`id`', '$HOME', 'a\nb', '*', '?', '[x]', '\\', '!', ';rm -rf /', "''''", 'é ü', '-n', '~', '=x', 'a=b c', '\t'];
    expect(argvThroughShell(shJoin(nasty))).toEqual(nasty);
    for (const s of nasty) expect(argvThroughShell(shQuote(s))).toEqual([s]);
  });

  it('refuses NUL bytes', () => {
    expect(() => shQuote('a\0b')).toThrow(/NUL/);
  });
});

describe('shJoin', () => {
  it('joins quoted words with spaces', () => {
    expect(shJoin(['sudo', '-S', '-p', '', '--', 'bash', '-s'])).toBe("sudo -S -p '' -- bash -s");
    expect(shJoin([])).toBe('');
  });
});

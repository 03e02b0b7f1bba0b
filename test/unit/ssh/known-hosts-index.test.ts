import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { knownHostsFor } from '../../../src/ssh/known-hosts-index.js';
import { appendKnownHost, hashHostName, knownKeyTypes, loadKnownHosts, lookup } from '../../../src/ssh/known-hosts.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-khi-'));
function key(name: string): { type: string; b64: string } {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, name)]);
  const [type, b64] = readFileSync(join(dir, `${name}.pub`), 'utf8').trim().split(/\s+/);
  return { type: type!, b64: b64! };
}

describe('known_hosts index: the same answers as reading the whole file, once per version', () => {
  const a = key('a');
  const b = key('b');
  const file = join(dir, 'known_hosts');
  writeFileSync(
    file,
    [
      `10.0.0.1,r1 ${a.type} ${a.b64}`,
      `[10.0.0.2]:2222 ${a.type} ${a.b64}`,
      `10.0.0.* ${b.type} ${b.b64}`,
      `*,!10.0.0.3 ${b.type} ${b.b64}`,
      `${hashHostName('10.0.0.4')} ${a.type} ${a.b64}`,
      `@revoked 10.0.0.5 ${a.type} ${a.b64}`,
      '',
    ].join('\n'),
  );

  it('answers lookup and knownKeyTypes exactly as the whole file does', () => {
    const whole = loadKnownHosts([file]);
    for (const [host, port] of [['10.0.0.1', 22], ['r1', 22], ['10.0.0.2', 2222], ['10.0.0.2', 22], ['10.0.0.3', 22], ['10.0.0.4', 22], ['10.0.0.5', 22], ['other', 22]] as const) {
      const narrow = knownHostsFor([file], host, port);
      for (const k of [a, b]) expect(lookup(narrow, host, port, k.type, k.b64)).toEqual(lookup(whole, host, port, k.type, k.b64));
      expect(knownKeyTypes(narrow, host, port)).toEqual(knownKeyTypes(whole, host, port));
    }
  });

  it('sees a key appended since (accept-new on another host of the run)', () => {
    expect(lookup(knownHostsFor([file], '10.9.9.9', 22), '10.9.9.9', 22, a.type, a.b64).status).toBe('mismatch'); // the `*` line
    appendKnownHost(file, '10.9.9.9', 22, a.type, a.b64);
    expect(lookup(knownHostsFor([file], '10.9.9.9', 22), '10.9.9.9', 22, a.type, a.b64).status).toBe('match');
  });
});

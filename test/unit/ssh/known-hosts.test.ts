import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  fingerprint,
  hashHostName,
  knownKeyTypes,
  loadKnownHosts,
  lookup,
  parseKnownHosts,
} from '../../../src/ssh/known-hosts.js';
import { matchWildcard } from '../../../src/ssh/wildcard.js';

let dir: string;
const keys: Record<string, { type: string; b64: string; pubFile: string }> = {};

function genKey(name: string, type: 'ed25519' | 'ecdsa' | 'rsa'): void {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  const [kt, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  keys[name] = { type: kt!, b64: b64!, pubFile: `${file}.pub` };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edge-kh-'));
  genKey('a', 'ed25519');
  genKey('b', 'ed25519');
  genKey('e', 'ecdsa');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const k = (name: string) => keys[name]!;
const line = (hosts: string, name: string) => `${hosts} ${k(name).type} ${k(name).b64}`;

describe('fingerprint', () => {
  it('equals ssh-keygen -lf', () => {
    for (const name of ['a', 'e']) {
      const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', k(name).pubFile], { encoding: 'utf8' });
      expect(out.split(/\s+/)[1]).toBe(fingerprint(k(name).b64));
    }
    expect(fingerprint(k('a').b64)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('lookup: plain entries', () => {
  it('matches comma lists, case-insensitively, on port 22 only', () => {
    const kh = parseKnownHosts(`# comment\n\n${line('r1,192.0.2.1', 'a')}\n`);
    expect(lookup(kh, 'r1', 22, k('a').type, k('a').b64).status).toBe('match');
    expect(lookup(kh, 'R1', 22, k('a').type, k('a').b64).status).toBe('match');
    expect(lookup(kh, '192.0.2.1', 22, k('a').type, k('a').b64).status).toBe('match');
    expect(lookup(kh, 'r2', 22, k('a').type, k('a').b64).status).toBe('unknown');
    expect(lookup(kh, 'r1', 2222, k('a').type, k('a').b64).status).toBe('unknown');
  });

  it('uses [host]:port for other ports', () => {
    const kh = parseKnownHosts(`${line('[r1]:2222', 'a')}\n${line('r1', 'b')}\n`);
    expect(lookup(kh, 'r1', 2222, k('a').type, k('a').b64).status).toBe('match');
    expect(lookup(kh, 'r1', 22, k('b').type, k('b').b64).status).toBe('match');
    // Each port has its own key: a on 22 is not b.
    expect(lookup(kh, 'r1', 22, k('a').type, k('a').b64).status).toBe('mismatch');
    expect(lookup(kh, 'r1', 2200, k('a').type, k('a').b64).status).toBe('unknown');
  });

  it('supports * and ? wildcards', () => {
    const kh = parseKnownHosts(`${line('*.lab.example,10.0.0.?,[10.1.*]:2222', 'a')}\n`);
    expect(lookup(kh, 'r1.lab.example', 22, k('a').type, k('a').b64).status).toBe('match');
    expect(lookup(kh, '10.0.0.5', 22, k('a').type, k('a').b64).status).toBe('match');
    expect(lookup(kh, '10.0.0.55', 22, k('a').type, k('a').b64).status).toBe('unknown');
    expect(lookup(kh, 'lab.example', 22, k('a').type, k('a').b64).status).toBe('unknown');
    expect(lookup(kh, '10.1.2.3', 2222, k('a').type, k('a').b64).status).toBe('match');
    expect(matchWildcard('a.b', 'a?b')).toBe(true);
    expect(matchWildcard('ab', 'a?b')).toBe(false);
    expect(matchWildcard('a+b', 'a+b')).toBe(true);
  });

  it('lets a negated pattern veto the line', () => {
    const kh = parseKnownHosts(`${line('*.lab.example,!bad.lab.example', 'a')}\n`);
    expect(lookup(kh, 'good.lab.example', 22, k('a').type, k('a').b64).status).toBe('match');
    expect(lookup(kh, 'bad.lab.example', 22, k('a').type, k('a').b64).status).toBe('unknown');
  });
});

describe('lookup: hashed entries', () => {
  it('matches a line hashed in the test with HMAC-SHA1', () => {
    const salt = randomBytes(20);
    const mac = createHmac('sha1', salt).update('[r9]:2222').digest('base64');
    const kh = parseKnownHosts(`|1|${salt.toString('base64')}|${mac} ${k('a').type} ${k('a').b64}\n`);
    expect(lookup(kh, 'r9', 2222, k('a').type, k('a').b64).status).toBe('match');
    expect(lookup(kh, 'r9', 22, k('a').type, k('a').b64).status).toBe('unknown');
    expect(lookup(kh, 'r9', 2222, k('b').type, k('b').b64).status).toBe('mismatch');
    expect(hashHostName('r9', salt)).toBe(`|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('r9').digest('base64')}`);
  });

  it('matches lines hashed by ssh-keygen -H', () => {
    const file = join(dir, 'kh-hashed');
    writeFileSync(file, `${line('r1', 'a')}\n${line('[r2]:2222', 'b')}\n${line('r3,10.9.9.9', 'e')}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    // every host field is hashed (not `not.toContain('r1')`: random salts in base64 may contain it)
    const hostFields = text.split('\n').filter(Boolean).map((l) => l.split(' ')[0]!);
    expect(hostFields).toHaveLength(4); // r3,10.9.9.9 becomes two hashed lines
    for (const h of hostFields) expect(h).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+$/);
    const kh = loadKnownHosts([file]);
    expect(kh.entries.every((e) => e.hosts.kind === 'hashed')).toBe(true);
    expect(lookup(kh, 'r1', 22, k('a').type, k('a').b64).status).toBe('match');
    expect(lookup(kh, 'r2', 2222, k('b').type, k('b').b64).status).toBe('match');
    expect(lookup(kh, 'r2', 22, k('b').type, k('b').b64).status).toBe('unknown');
    expect(lookup(kh, '10.9.9.9', 22, k('e').type, k('e').b64).status).toBe('match');
    expect(lookup(kh, 'r3', 22, k('e').type, k('e').b64).status).toBe('match');
  });
});

describe('lookup: changed, revoked, cert-authority', () => {
  it('reports a changed key with the known fingerprints', () => {
    const kh = parseKnownHosts(`${line('r1', 'a')}\n`, '/x/known_hosts');
    const r = lookup(kh, 'r1', 22, k('b').type, k('b').b64);
    expect(r.status).toBe('mismatch');
    expect(r.knownFingerprints).toEqual([fingerprint(k('a').b64)]);
    expect(r.known[0]).toMatchObject({ keyType: 'ssh-ed25519', file: '/x/known_hosts', line: 1 });
    expect(fingerprint(k('b').b64)).not.toBe(r.knownFingerprints[0]);
  });

  it('treats a key of a type not known for the host as changed', () => {
    const kh = parseKnownHosts(`${line('r1', 'e')}\n`);
    const r = lookup(kh, 'r1', 22, k('a').type, k('a').b64);
    expect(r.status).toBe('mismatch');
    expect(knownKeyTypes(kh, 'r1', 22)).toEqual(['ecdsa-sha2-nistp256']);
  });

  it('refuses a revoked key even if also listed as known', () => {
    const kh = parseKnownHosts(`${line('r1', 'a')}\n@revoked * ${k('a').type} ${k('a').b64}\n`);
    expect(lookup(kh, 'r1', 22, k('a').type, k('a').b64).status).toBe('revoked');
    // Revocation is about that key only.
    const kh2 = parseKnownHosts(`${line('r1', 'b')}\n@revoked * ${k('a').type} ${k('a').b64}\n`);
    expect(lookup(kh2, 'r1', 22, k('b').type, k('b').b64).status).toBe('match');
  });

  it('ignores @cert-authority lines for plain keys', () => {
    const kh = parseKnownHosts(`@cert-authority *.lab ${k('a').type} ${k('a').b64}\n`);
    const r = lookup(kh, 'r1.lab', 22, k('a').type, k('a').b64);
    expect(r.status).toBe('unknown');
    expect(r.knownFingerprints).toEqual([]);
  });

  it('skips malformed lines with a warning', () => {
    const kh = parseKnownHosts(`r1 ssh-ed25519\n@bogus r1 ${k('a').type} ${k('a').b64}\nr1 ssh-rsa ${k('a').b64}\n|1|short|x ${k('a').type} ${k('a').b64}\n`);
    expect(kh.entries).toHaveLength(0);
    expect(kh.warnings).toHaveLength(4);
  });

  it('skips missing files', () => {
    expect(loadKnownHosts([join(dir, 'nope')]).entries).toEqual([]);
  });
});

describe('appendKnownHost', () => {
  it('creates the directory 0700 and the file 0600, writes [host]:port', () => {
    const file = join(dir, 'new', 'sub', 'known_hosts');
    const written = appendKnownHost(file, '127.0.0.1', 2222, k('a').type, k('a').b64);
    expect(written).toBe(`[127.0.0.1]:2222 ${k('a').type} ${k('a').b64}`);
    expect(readFileSync(file, 'utf8')).toBe(`${written}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'new', 'sub')).mode & 0o777).toBe(0o700);
    appendKnownHost(file, 'R1', 22, k('b').type, k('b').b64);
    expect(readFileSync(file, 'utf8').split('\n')[1]).toBe(`r1 ${k('b').type} ${k('b').b64}`);
    const kh = loadKnownHosts([file]);
    expect(lookup(kh, '127.0.0.1', 2222, k('a').type, k('a').b64).status).toBe('match');
    expect(lookup(kh, 'r1', 22, k('b').type, k('b').b64).status).toBe('match');
    // ssh-keygen agrees on the format.
    const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file], { encoding: 'utf8' });
    expect(found).toContain(k('a').b64);
  });

  it('hashes the name when the file already uses hashed names, and repairs a missing final newline', () => {
    const file = join(dir, 'kh-append-hashed');
    writeFileSync(file, `${hashHostName('other')} ${k('e').type} ${k('e').b64}`);
    const written = appendKnownHost(file, 'r5', 2222, k('a').type, k('a').b64);
    expect(written).toMatch(/^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /);
    expect(written).not.toContain('[r5]:2222'); // (a bare 'r5' may occur in base64 by chance)
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(lookup(loadKnownHosts([file]), 'r5', 2222, k('a').type, k('a').b64).status).toBe('match');
    const found = execFileSync('ssh-keygen', ['-F', '[r5]:2222', '-f', file], { encoding: 'utf8' });
    expect(found).toContain(k('a').b64);
  });
});

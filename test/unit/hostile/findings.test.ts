import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { connectorFor } from '../../../src/engine/connect.js';
import type { EdgeError } from '../../../src/errors.js';
import { MARK } from '../../../src/facts/probe.js';
import { FACTS_MAX_CHARS, parseFacts } from '../../../src/facts/parse.js';
import { selectHosts } from '../../../src/inventory/limit.js';
import { parseIniInventory } from '../../../src/inventory/ini-source.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { writeTextAtomic } from '../../../src/inventory/write-vars.js';
import { gunzipIfGzip } from '../../../src/ssh/connection.js';
import { EXEC_OUTPUT_CAP } from '../../../src/ssh/exec.js';
import { preferredHostKeyAlgorithms } from '../../../src/ssh/host-key-verifier.js';
import { readSshValues } from '../../../src/ssh/ssh-config-read.js';
import { errorsOf } from '../inventory/helpers.js';

/**
 * Issue 19's findings, each as its proof: the input that triggered it on the old code, and what edge
 * does with it now. The sysctl allowlist is in refusals.test.ts; the encoders in test/unit/encode.
 */

const dir = mkdtempSync(join(tmpdir(), 'edge-issue19-'));
const WANTED = { files: [], packages: [], units: [], nftTables: [] };

describe('a host name is never shell syntax on the way to ssh', () => {
  const name = 'r1$(touch${IFS}/tmp/edge-issue19-pwned)';

  it('a name with shell metacharacters is refused at its key when it would be the SSH address', () => {
    const errors = errorsOf(() => parseInventory(parseYaml(`all:\n  hosts:\n    ${name}:\n      edge_lan_interface: lan0\n`, 'inv.yaml')));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^inv\.yaml:3:5: .*is the SSH address \(no ansible_host\) and holds "\$"/);
  });

  it('with ansible_host the same name loads (it is only ever quoted)', () => {
    const inv = parseInventory(parseYaml(`all:\n  hosts:\n    ${name}:\n      ansible_host: 192.0.2.10\n`, 'inv.yaml'));
    expect([...inv.hosts.keys()]).toEqual([name]);
  });

  it("the README's names rule says so: such a name only with ansible_host", () => {
    const row = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8').split('\n').find((l) => l.startsWith('| host, group and variable names |'));
    expect(row).toContain('`r1$(id)` is a valid host name only with `ansible_host` set');
    expect(() => parseInventory(parseYaml('all:\n  hosts:\n    r1$(id):\n', 'inv.yaml'))).toThrow(/is the SSH address \(no ansible_host\)/);
    expect(() => parseInventory(parseYaml('all:\n  hosts:\n    r1$(id):\n      ansible_host: 192.0.2.10\n', 'inv.yaml'))).not.toThrow();
  });

  it('the built-in ssh_config reader refuses Match exec with such a token instead of running it', () => {
    const canary = join(dir, 'match-exec-canary');
    const config = join(dir, 'ssh_config');
    writeFileSync(config, 'Match exec "true %h"\n  User matched\n');
    const host = `r1$(touch${canary})`;
    const e = (() => {
      try {
        readSshValues({ host, files: [config], home: dir, localUser: 'edge' });
      } catch (err) {
        return err as EdgeError;
      }
      return undefined;
    })();
    expect(e?.code).toBe('CONFIG');
    expect(e?.message).toMatch(/Match exec: %h is .* refused, not run/);
    expect(existsSync(canary)).toBe(false);
    // A plain name still runs the command, as ssh does.
    expect(readSshValues({ host: 'r1', files: [config], home: dir, localUser: 'edge' }).get('user')).toEqual(['matched']);
  });
});

describe('host patterns match in linear time (RE2)', () => {
  it('a glob that backtracked for hours ends at once', () => {
    const inv = parseInventory(parseYaml(`all:\n  hosts:\n    ${'a'.repeat(32)}:\n      ansible_host: 192.0.2.10\n`, 'inv.yaml'));
    const t0 = performance.now();
    // 16 pairs of `*?`: the backtracking RegExp took 17 s with 12 and ~5x more per pair.
    expect(() => selectHosts(inv, undefined, `${'*?'.repeat(16)}X`)).not.toThrow();
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(selectHosts(inv, undefined, 'a*a?a')).toEqual(['a'.repeat(32)]);
  });
});

describe('what a router sends is bounded', () => {
  it('a gzip bomb is refused at the cap, not inflated', async () => {
    const bomb = gzipSync(Buffer.alloc(EXEC_OUTPUT_CAP + 1024 * 1024));
    expect(bomb.length).toBeLessThan(EXEC_OUTPUT_CAP / 100);
    await expect(gunzipIfGzip(bomb, 'r1')).rejects.toThrow(/decompresses to more than 32 MiB: refused/);
    expect((await gunzipIfGzip(gzipSync('hello'), 'r1')).toString()).toBe('hello');
  });

  it('an oversized or malformed facts document fails its host with a clear error', () => {
    const facts = (body: string) => `${MARK} hostname\nr1\n${MARK} ip-link\n${body}\n${MARK} end\n`;
    const e = (out: string) => {
      try {
        parseFacts('r1', out, WANTED);
      } catch (err) {
        return err as EdgeError;
      }
      throw new Error('accepted');
    };
    expect(e(facts('x'.repeat(FACTS_MAX_CHARS))).message).toMatch(/over the 16 Mi limit: refused/);
    const malformed = e(facts('{"not": "a list"}'));
    expect(malformed.code).toBe('EXEC');
    expect(malformed.message).toMatch(/^the facts the host sent are malformed/);
  });
});

describe('LOW items', () => {
  it('the SHA-1 ssh-rsa signature is never offered, even for a host known by an RSA key', () => {
    expect(preferredHostKeyAlgorithms(['ssh-rsa'])).not.toContain('ssh-rsa');
    expect(preferredHostKeyAlgorithms(['ssh-rsa']).slice(0, 2)).toEqual(['rsa-sha2-512', 'rsa-sha2-256']);
  });

  it('edge pick writes through a temporary name no one can plant a symlink at', () => {
    const file = join(dir, 'inv.yaml');
    const victim = join(dir, 'victim');
    writeFileSync(file, 'old\n');
    writeFileSync(victim, 'untouched\n');
    symlinkSync(victim, `${file}.edge-tmp`);
    writeTextAtomic(file, 'new\n');
    expect(readFileSync(victim, 'utf8')).toBe('untouched\n');
    expect(readFileSync(file, 'utf8')).toBe('new\n');
    expect(lstatSync(file).isSymbolicLink()).toBe(false);
  });

  it('an INI value nested past 100 brackets is refused at file:line:col, not a stack overflow', () => {
    const e = (() => {
      try {
        parseIniInventory(`[edge]\nr1 x=${'['.repeat(200000)}\n`, 'inv.ini');
      } catch (err) {
        return err as EdgeError;
      }
      return undefined;
    })();
    expect(e?.code).toBe('CONFIG');
    expect(e?.pos).toMatchObject({ file: 'inv.ini', line: 2 });
    expect(e?.message).toMatch(/value of x: brackets nested more than 100 deep: refused/);
    expect(() => parseIniInventory(`[edge]\nr1 x=${'['.repeat(100)}${']'.repeat(100)}\n`, 'inv.ini')).not.toThrow();
  });

  it('an edge_known_hosts_file another user can write is refused where the inventory names it', () => {
    const kh = join(dir, 'known_hosts');
    writeFileSync(kh, '');
    const inv = parseInventory(parseYaml(`all:\n  hosts:\n    r1:\n      ansible_host: 192.0.2.10\n      ansible_user: root\n      edge_known_hosts_file: ${kh}\n`, 'inv.yaml'));
    const h = inv.hosts.get('r1')!;
    const connect = () => connectorFor('r1', h.vars, { acceptNewHostKeys: false, connectTimeoutMs: 1000, commandTimeoutMs: 1000 }, h.varSources);
    expect(connect).not.toThrow();
    chmodSync(kh, 0o666);
    expect(errorsOf(connect)[0]).toMatch(/^inv\.yaml:6:\d+: .*known_hosts \(owner uid \d+, mode 0666\) is writable by every user: refusing to read known host keys/);
  });

  it('an edge_known_hosts_file not there yet is refused where another user could create it first', () => {
    const open = join(dir, 'open');
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    for (const kh of [join(open, 'known_hosts'), join(open, 'sub', 'known_hosts')]) {
      const inv = parseInventory(parseYaml(`all:\n  hosts:\n    r1:\n      ansible_host: 192.0.2.10\n      ansible_user: root\n      edge_known_hosts_file: ${kh}\n`, 'inv.yaml'));
      const h = inv.hosts.get('r1')!;
      const connect = () => connectorFor('r1', h.vars, { acceptNewHostKeys: true, connectTimeoutMs: 1000, commandTimeoutMs: 1000 }, h.varSources);
      expect(errorsOf(connect)[0]).toMatch(new RegExp(`^inv\\.yaml:6:\\d+: .*${open} \\(owner uid \\d+, mode 0777\\) is writable by every user: refusing to read known host keys`));
    }
    chmodSync(open, 0o700);
    const inv = parseInventory(parseYaml(`all:\n  hosts:\n    r1:\n      ansible_host: 192.0.2.10\n      ansible_user: root\n      edge_known_hosts_file: ${join(open, 'sub', 'known_hosts')}\n`, 'inv.yaml'));
    const h = inv.hosts.get('r1')!;
    expect(() => connectorFor('r1', h.vars, { acceptNewHostKeys: true, connectTimeoutMs: 1000, commandTimeoutMs: 1000 }, h.varSources)).not.toThrow();
  });
});

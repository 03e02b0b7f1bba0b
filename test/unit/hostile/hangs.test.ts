import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FILE_CAPS } from '../../../src/config/read-file.js';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { formatError } from '../../../src/errors.js';
import { selectHosts } from '../../../src/inventory/limit.js';
import { parseInventory, readInventory } from '../../../src/inventory/load.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import { planAuth } from '../../../src/ssh/auth.js';
import { SshConnection } from '../../../src/ssh/connection.js';
import { loadKnownHosts } from '../../../src/ssh/known-hosts.js';
import { loadSshConfig } from '../../../src/ssh/ssh-config.js';
import { errorsOf } from '../inventory/helpers.js';

/**
 * Each input that used to hang edge with no output (issue #10) now ends in well under 5 s with an
 * error naming the file. Each test measures its own time; vitest's 5 s timeout is the backstop.
 */

const dir = mkdtempSync(join(tmpdir(), 'edge-hangs-'));
const LIMIT_MS = 5000;

/** The error text `fn` throws, and that it came within the limit. */
function quickly(fn: () => unknown): string[] {
  const t0 = performance.now();
  const errors = errorsOf(fn);
  expect(performance.now() - t0).toBeLessThan(LIMIT_MS);
  return errors;
}

describe('former hangs end in under 5 s with a clear error', () => {
  it('host range r[1:99999999]', () => {
    expect(quickly(() => parseInventory(parseYaml('all:\n  hosts:\n    r[1:99999999]:\n', 'inv.yaml')))).toEqual([
      'inv.yaml:3:5: host range r[1:99999999] (99999999 hosts) takes the inventory over the limit of 100000 hosts: refused\n' +
        '  hint: a typo in a range bound? (e.g. r[1:99999999]); split a real fleet this large into several inventories',
    ]);
  }, LIMIT_MS);

  it('many ranges that add up past the cap are refused once', () => {
    const text = `all:\n  hosts:\n${Array.from({ length: 50 }, (_, i) => `    g${i}-[1:9999]:\n`).join('')}`;
    const errors = quickly(() => parseInventory(parseYaml(text, 'inv.yaml')));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^inv\.yaml:13:5: host range g10-\[1:9999\] \(9999 hosts\) with the 99990 listed before it takes the inventory over the limit/);
  }, LIMIT_MS);

  it('-i /dev/zero, and /dev/zero as a playbook', () => {
    expect(quickly(() => readInventory('/dev/zero'))).toEqual([
      'inventory /dev/zero: is a character device, not a regular file: refused (edge reads only regular files)',
    ]);
    expect(quickly(() => loadPlaybook('/dev/zero'))[0]).toContain('playbook /dev/zero: is a character device');
  }, LIMIT_MS);

  it('a FIFO with no writer as the inventory', () => {
    const fifo = join(dir, 'inv.fifo');
    execFileSync('mkfifo', [fifo]);
    expect(quickly(() => readInventory(fifo))).toEqual([`inventory ${fifo}: is a FIFO (named pipe), not a regular file: refused (edge reads only regular files)`]);
  }, LIMIT_MS);

  it('an inventory over the size cap (a sparse file: nothing is read)', () => {
    const big = join(dir, 'big.yaml');
    execFileSync('truncate', ['-s', String(FILE_CAPS.config + 1), big]);
    expect(quickly(() => readInventory(big))[0]).toBe(`inventory ${big}: is ${FILE_CAPS.config + 1} bytes, over the ${FILE_CAPS.config}-byte limit for this kind of file: refused`);
  }, LIMIT_MS);

  it('ansible_ssh_private_key_file: /dev/zero', () => {
    const target = { name: 'r1', host: '127.0.0.1', port: 22, user: 'root', privateKeyPath: '/dev/zero' };
    expect(quickly(() => planAuth(target))).toEqual([
      'r1: ansible_ssh_private_key_file: private key file /dev/zero: is a character device, not a regular file: refused (edge reads only regular files)',
    ]);
  }, LIMIT_MS);

  it('edge_known_hosts_file: /dev/zero, and ssh_config /dev/zero', () => {
    expect(quickly(() => loadKnownHosts(['/dev/zero']))[0]).toContain('known_hosts file /dev/zero: is a character device');
    expect(quickly(() => loadSshConfig(['/dev/zero']))[0]).toContain('ssh config /dev/zero: is a character device');
  }, LIMIT_MS);

  it('connecting with a /dev/zero key fails at once, whatever the connect timeout', async () => {
    const key = join(dir, 'id');
    writeFileSync(key, '');
    const t0 = performance.now();
    const err = await SshConnection.connect(
      { name: 'r1', host: '127.0.0.1', port: 1, user: 'root', privateKeyPath: '/dev/zero' },
      { knownHostsFiles: ['/dev/zero'], acceptNewHostKeys: false, connectTimeoutMs: 60_000 },
    ).catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(LIMIT_MS);
    expect(formatError(err)).toContain('private key file /dev/zero: is a character device');
  }, LIMIT_MS);

  it.each([
    ['flow', `a: ${'['.repeat(200_000)}${']'.repeat(200_000)}`, 'x.yaml:1:104'],
    ['block', Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i)}k:`).join('\n'), 'x.yaml:101:101'],
  ])('deep %s nesting: a clear limit, not "Maximum call stack size exceeded"', (_, text, at) => {
    expect(quickly(() => parseYaml(text, 'x.yaml'))).toEqual([
      `${at}: YAML nesting deeper than 100 levels: refused\n  hint: an inventory or playbook needs a few levels; this looks generated or corrupted`,
    ]);
  }, LIMIT_MS);

  it('a play pattern that backtracks exponentially, ~(a|aa)*b, against a long host name', () => {
    const inv = parseInventory(parseYaml(`all:\n  hosts:\n    ${'a'.repeat(60)}!:\n    r1:\n`, 'inv.yaml'));
    const t0 = performance.now();
    expect(selectHosts(inv, '~(a|aa)*b|r1')).toEqual(['r1']);
    expect(performance.now() - t0).toBeLessThan(LIMIT_MS);
  }, LIMIT_MS);

  it('an alias bomb', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) lines.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9).fill(`*${'abcdefghi'[i - 1]}`).join(', ')}]`);
    expect(quickly(() => parseYaml(lines.join('\n'), 'x.yaml'))[0]).toBe(
      'x.yaml:2:8: YAML aliases expand to more than 1000 nodes (an "alias bomb"): refused\n' +
        '  hint: anchors (&name) and aliases (*name) may share a block of variables, not multiply it',
    );
  }, LIMIT_MS);
});

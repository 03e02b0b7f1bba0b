import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PREAMBLE, writeCheckedFileCommand, writeFileCommand } from '../../../src/render/shell.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-shell-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const user = spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim();
const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();
const mode = (p: string) => (statSync(p).mode & 0o7777).toString(8).padStart(4, '0');
const run = (script: string) => spawnSync('bash', ['-s'], { input: `${PREAMBLE}\n${script}\n`, encoding: 'utf8' });

describe('file writes on the host', () => {
  it('a file gets its own mode; directories it needs are created 0755 despite umask 077 (daemons such as systemd-networkd read them as their own user)', () => {
    const path = join(dir, 'etc/systemd/networkd.conf.d/edge.conf');
    const r = run(writeFileCommand(path, '[Network]\n', '0644', user, group));
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('[Network]\n');
    expect(mode(path)).toBe('0644');
    expect(mode(join(dir, 'etc/systemd/networkd.conf.d'))).toBe('0755');
    expect(mode(join(dir, 'etc/systemd'))).toBe('0755');
    // a secret stays private: the mode is the file's
    const secret = join(dir, 'etc/edge/edge.nft');
    expect(run(writeFileCommand(secret, 'table inet edge {}\n', '0600', user, group)).status).toBe(0);
    expect(mode(secret)).toBe('0600');
  });

  it('an existing directory keeps its mode', () => {
    spawnSync('mkdir', ['-m', '0700', join(dir, 'private')]);
    expect(run(writeFileCommand(join(dir, 'private/x'), 'x\n', '0644', user, group)).status).toBe(0);
    expect(mode(join(dir, 'private'))).toBe('0700');
  });

  it('a checked write creates its directory 0755 too, and leaves nothing when the check fails', () => {
    const path = join(dir, 'checked/sub/file');
    expect(run(writeCheckedFileCommand(path, 'ok\n', '0640', 'grep -q ok', user, group)).status).toBe(0);
    expect(mode(join(dir, 'checked/sub'))).toBe('0755');
    expect(mode(path)).toBe('0640');
    const bad = run(writeCheckedFileCommand(path, 'nope\n', '0640', 'grep -q ok', user, group));
    expect(bad.status).toBe(1);
    expect(readFileSync(path, 'utf8')).toBe('ok\n');
    expect(spawnSync('ls', ['-A', join(dir, 'checked/sub')], { encoding: 'utf8' }).stdout.trim()).toBe('file');
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askAhead, resolveHost, type SshConfigOptions } from '../../../src/ssh/ssh-config.js';
import { sshInstalled } from '../../../src/ssh/ssh-g.js';

/**
 * askAhead asks ssh -G about a fleet concurrently; resolving each host afterwards must then find
 * the answer waiting (no ssh process), and a host ssh refuses must still be refused in its place,
 * with ssh's words. With ssh taken off PATH after the ask, any resolution that spawned ssh would fail.
 */
describe.skipIf(!sshInstalled())('askAhead', () => {
  let dir: string;
  let opts: SshConfigOptions;
  const path = process.env.PATH;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'edge-ahead-'));
    const file = join(dir, 'config');
    writeFileSync(file, 'Host bad\n  HostName x%z\nHost r*\n  User zed\n  Port 2222\n');
    opts = { configFiles: [file] };
  });

  afterAll(() => {
    process.env.PATH = path;
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every host from what was asked ahead, and leaves a refusal to the host itself', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `r${i}`);
    await askAhead([...names, 'bad'].map((name) => ({ name, inv: {} })), opts);
    process.env.PATH = dir; // no ssh here
    try {
      for (const name of names) expect(resolveHost(name, {}, opts)).toMatchObject({ host: name, user: 'zed', port: 2222 });
      // Not kept ahead, so asked again now: without ssh on PATH that fails too, naming the host.
      expect(() => resolveHost('bad', {}, opts)).toThrow(/ssh config for bad: ssh -G refused it/);
    } finally {
      process.env.PATH = path;
    }
    expect(() => resolveHost('bad', {}, opts)).toThrow(/ssh -G refused it: .*unknown key %z/);
  });

  it('asks nothing once its signal is aborted (an interrupted run)', async () => {
    const stop = new AbortController();
    stop.abort();
    await askAhead([{ name: 'r-never', inv: {} }], opts, stop.signal);
    process.env.PATH = dir;
    try {
      expect(() => resolveHost('r-never', {}, opts)).toThrow(/ssh config for r-never: ssh -G refused it/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('asks for the address the host is reached at (ansible_host), with its user and port', async () => {
    await askAhead([{ name: 'inventory-name', inv: { host: 'r-addr', user: 'ops', port: 2022 } }], opts);
    process.env.PATH = dir;
    try {
      expect(resolveHost('r-addr', { user: 'ops', port: 2022 }, opts)).toMatchObject({ host: 'r-addr', user: 'ops', port: 2022 });
    } finally {
      process.env.PATH = path;
    }
  });
});

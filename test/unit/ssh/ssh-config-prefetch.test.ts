import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prefetchSshConfig, resolveHost } from '../../../src/ssh/ssh-config.js';
import { sshInstalled } from '../../../src/ssh/ssh-g.js';

/**
 * A fleet's ssh_config is asked of `ssh -G` in parallel before the run: afterwards each host
 * resolves from those answers without a process of its own. Shown by taking ssh off the PATH once
 * the fleet is prefetched: every prefetched host still resolves, as ssh said; one that was not
 * prefetched cannot be asked.
 */
const D = mkdtempSync(join(tmpdir(), 'edge-sshprefetch-'));
const CONFIG = join(D, 'config');
writeFileSync(CONFIG, 'Host pf-r*\n  HostName 192.0.2.%h\n  User ops\nHost pf-r7\n  Port 2207\n');
const opts = { configFiles: [CONFIG] };
const fleet = Array.from({ length: 24 }, (_, i) => ({ name: `pf-r${i}`, inv: i === 3 ? { user: 'other' } : {} }));

describe.skipIf(!sshInstalled())('ssh -G for a fleet, up front', () => {
  it('prefetched hosts resolve without asking ssh again, to what ssh said', async () => {
    const direct = resolveHost('pf-r7', {}, { ...opts, backend: 'builtin' });
    await prefetchSshConfig(fleet, opts);
    const path = process.env.PATH;
    process.env.PATH = join(D, 'no-ssh-here');
    try {
      for (const { name, inv } of fleet) {
        const r = resolveHost(name, inv, opts);
        expect(r.host, name).toBe(`192.0.2.${name}`);
        expect(r.user, name).toBe(name === 'pf-r3' ? 'other' : 'ops');
      }
      expect(resolveHost('pf-r7', {}, opts)).toEqual(direct);
      expect(() => resolveHost('pf-r99', {}, opts)).toThrow(/ssh -G refused it/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('a host ssh refuses is left for the one-host path, which says why', async () => {
    writeFileSync(join(D, 'bad'), 'Host pf-bad\n  Port 0\n');
    const bad = { configFiles: [join(D, 'bad')] };
    await prefetchSshConfig([{ name: 'pf-bad', inv: {} }, { name: 'pf-good', inv: {} }], bad);
    expect(() => resolveHost('pf-bad', {}, bad)).toThrow(/pf-bad: ssh -G refused it: .*[Pp]ort/);
  });
});

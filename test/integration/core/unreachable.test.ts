import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edge } from '../edge-cli.js';

const isRoot = process.getuid?.() === 0;
const NS = 'edge-t-unreach';
const SINK = 'edge-t-sink';

/**
 * `edge run ... -i prod --check` against hosts that do not answer. The CLI runs inside a network
 * namespace whose only route to the prod addresses (203.0.113.0/24) leads to a namespace that drops
 * everything, so the SYNs time out and no packet ever leaves this machine.
 */
describe.skipIf(!isRoot)('unreachable hosts', () => {
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
  let home: string;

  beforeAll(() => {
    for (const ns of [NS, SINK]) {
      try {
        ip('netns', 'del', ns);
      } catch {}
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('-n', NS, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'down0', 'netns', SINK);
    ip('-n', NS, 'addr', 'add', '198.18.250.1/30', 'dev', 'up0');
    ip('-n', SINK, 'addr', 'add', '198.18.250.2/30', 'dev', 'down0');
    ip('-n', NS, 'link', 'set', 'up0', 'up');
    ip('-n', SINK, 'link', 'set', 'down0', 'up');
    ip('-n', NS, 'route', 'add', '203.0.113.0/24', 'via', '198.18.250.2');
    home = mkdtempSync(join(tmpdir(), 'edge-home-'));
    mkdirSync(join(home, '.ssh'), { mode: 0o700 });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(home, '.ssh', 'id_ed25519')]);
  });

  afterAll(() => {
    for (const ns of [NS, SINK]) {
      try {
        ip('netns', 'del', ns);
      } catch {}
    }
  });

  it('reports each host\'s connection error and exits 4 (unreachable), trying the hosts side by side', async () => {
    const r = await edge(['run', 'playbooks/failover.yaml', '-i', 'inventories/prod.yaml', '--check', '--connect-timeout', '3', '--json'], {
      wrap: ['ip', 'netns', 'exec', NS],
      env: { HOME: home, SSH_AUTH_SOCK: '' },
    });
    expect(r.code).toBe(4);
    for (const h of ['rtr-ams-1', 'rtr-ams-2', 'rtr-nyc-1']) {
      expect(r.stderr).toMatch(new RegExp(`^${h} +ok=0 .* unreachable {2}`, 'm'));
    }
    expect(r.stderr.match(/timed out after 3000 ms/g)?.length).toBe(3);
    // Hosts are tried side by side: the run spans about one timeout, where one after another it
    // would span at least the sum of the three. Compared within the run, so a loaded machine's slow
    // start does not count.
    const run = JSON.parse(r.stdout) as { startedAt: string; finishedAt: string; hosts: { durationMs: number }[] };
    const span = Date.parse(run.finishedAt) - Date.parse(run.startedAt);
    const serial = run.hosts.reduce((sum, h) => sum + h.durationMs, 0);
    expect(run.hosts.every((h) => h.durationMs >= 3000)).toBe(true);
    expect(span).toBeLessThan(serial - 3000);
  }, 60_000);
});

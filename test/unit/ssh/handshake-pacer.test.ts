import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SshConnection } from '../../../src/ssh/connection.js';
import { HandshakePacer, isSaturated } from '../../../src/ssh/handshake-pacer.js';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('handshake pacing', () => {
  it('keeps at most `limit` handshakes in flight, whatever the number of hosts', async () => {
    const pacer = new HandshakePacer(4);
    let now = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 40 }, () =>
        pacer.run(async () => {
          most = Math.max(most, ++now);
          await new Promise((r) => setTimeout(r, 2));
          now--;
        }),
      ),
    );
    expect(most).toBe(4);
  });

  it('tells how busy the controller was while a handshake ran', async () => {
    const pacer = new HandshakePacer(2);
    const s = await pacer.run(async (saturation) => {
      busy(150);
      return saturation();
    });
    expect(s.eventLoop).toBeGreaterThan(0.8);
    expect(isSaturated(s)).toBe(true);
    expect(s.inFlight).toBe(1);
  });

  it('a connect timeout on a saturated controller says so (a server on 127.0.0.1 that never answers)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-pacer-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    writeFileSync(join(dir, 'known_hosts'), '');
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      // The event loop is kept busy for most of the timeout, as hundreds of handshakes would.
      const hog = setTimeout(() => busy(470), 10);
      const err = await SshConnection.connect(
        { name: 'silent', host: '127.0.0.1', port, user: 'root', privateKeyPath: join(dir, 'id') },
        { knownHostsFiles: [join(dir, 'known_hosts')], acceptNewHostKeys: false, connectTimeoutMs: 500, handshakes: new HandshakePacer(1) },
      ).catch((e: unknown) => e as Error);
      clearTimeout(hog);
      expect(String(err)).toMatch(/timed out after 500 ms while the controller was saturated \(event loop busy \d+%/);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});

import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeError } from '../../../src/errors.js';
import { SshConnection } from '../../../src/ssh/connection.js';
import { fingerprint } from '../../../src/ssh/known-hosts.js';
import type { ConnectOptions, SshTarget } from '../../../src/ssh/types.js';
import { keygen, SSHD, startSshd, stopChild } from './test-sshd.js';

/**
 * Against a real OpenSSH server started for the test on 127.0.0.1 (never any other address).
 * sshd must run as root (privilege separation, root login), hence the skip.
 */

const isRoot = process.getuid?.() === 0;

let dir: string;
let port: number;
let sshd: ChildProcess | undefined;
let hostKeyB64: string;
let hostFp: string;
let clientKey: string;
let otherKeyB64: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function target(extra: Partial<SshTarget> = {}): SshTarget {
  return { name: 'lab1', host: '127.0.0.1', port, user: 'root', privateKeyPath: clientKey, ...extra };
}

function knownHosts(name: string, content?: string): string {
  const file = join(dir, name);
  if (content !== undefined) writeFileSync(file, content);
  return file;
}

function opts(files: string[], extra: Partial<ConnectOptions> = {}): ConnectOptions {
  return { knownHostsFiles: files, acceptNewHostKeys: false, connectTimeoutMs: 5000, ...extra };
}

async function trusted(extra: Partial<ConnectOptions> = {}, t: Partial<SshTarget> = {}): Promise<SshConnection> {
  const file = knownHosts('kh-trusted', `[127.0.0.1]:${port} ssh-ed25519 ${hostKeyB64}\n`);
  return SshConnection.connect(target(t), opts([file], extra));
}

async function rejection(p: Promise<unknown>): Promise<EdgeError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EdgeError);
    return e as EdgeError;
  }
  throw new Error('expected a rejection');
}

/** Children of the sshd we started: the per-connection session processes. */
function sessionPids(): number[] {
  if (!sshd?.pid) return [];
  try {
    return execFileSync('pgrep', ['-P', String(sshd.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

// Each exec pays for root's shell startup files on the test machine, hence the generous timeout.
describe.skipIf(!isRoot || !existsSync(SSHD))('SshConnection against a real sshd (needs root)', { timeout: 30_000 }, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edge-sshd-'));
    port = await freePort();
    otherKeyB64 = keygen(join(dir, 'other_ed25519'));
    clientKey = join(dir, 'client_ed25519');
    keygen(clientKey);
    const server = await startSshd({
      dir,
      host: '127.0.0.1',
      port,
      authorizedKeys: readFileSync(`${clientKey}.pub`, 'utf8'),
      config: [`Port ${port}`, 'ListenAddress 127.0.0.1', `PidFile ${join(dir, 'sshd.pid')}`, 'MaxSessions 10', 'AllowTcpForwarding yes', 'LogLevel ERROR'],
    });
    sshd = server.child;
    hostKeyB64 = server.hostKey;
    hostFp = fingerprint(hostKeyB64);
  });

  afterAll(async () => {
    await stopChild(sshd); // only the sshd this file started, by its PID
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('host keys', () => {
    it('refuses an unknown host key in strict mode, showing its fingerprint', async () => {
      const err = await rejection(SshConnection.connect(target(), opts([knownHosts('kh-empty')])));
      expect(err.code).toBe('HOSTKEY');
      expect(err.message).toContain(hostFp);
      expect(err.message).toMatch(/not known/);
      expect(err.hint).toMatch(/--accept-new-host-keys/);
      expect(err.hint).toMatch(/ssh-keyscan -p \d+ 127\.0\.0\.1/);
      expect(existsSync(join(dir, 'kh-empty'))).toBe(false);
    });

    it('with acceptNew records [127.0.0.1]:PORT, after which strict mode connects', async () => {
      const file = join(dir, 'fresh', 'known_hosts');
      const first = await SshConnection.connect(target(), opts([file], { acceptNewHostKeys: true }));
      first.close();
      expect(readFileSync(file, 'utf8')).toBe(`[127.0.0.1]:${port} ssh-ed25519 ${hostKeyB64}\n`);
      const second = await SshConnection.connect(target(), opts([file]));
      expect(second.isAlive).toBe(true);
      second.close();
      expect(second.isAlive).toBe(false);
    });

    it('always refuses a changed host key, showing both fingerprints', async () => {
      const file = knownHosts('kh-changed', `[127.0.0.1]:${port} ssh-ed25519 ${otherKeyB64}\n`);
      for (const acceptNewHostKeys of [false, true]) {
        const err = await rejection(SshConnection.connect(target(), opts([file], { acceptNewHostKeys })));
        expect(err.code).toBe('HOSTKEY');
        expect(err.message).toMatch(/CHANGED/);
        expect(err.message).toContain(fingerprint(otherKeyB64));
        expect(err.message).toContain(hostFp);
        expect(err.message).toContain(`${file}:1`);
      }
      expect(readFileSync(file, 'utf8')).toBe(`[127.0.0.1]:${port} ssh-ed25519 ${otherKeyB64}\n`);
    });

    it('does not confuse the port-22 entry with this port', async () => {
      const file = knownHosts('kh-port22', `127.0.0.1 ssh-ed25519 ${hostKeyB64}\n`);
      const err = await rejection(SshConnection.connect(target(), opts([file])));
      expect(err.code).toBe('HOSTKEY');
    });
  });

  describe('connecting', () => {
    it('reports a refused port as CONNECT quickly', async () => {
      const closed = await freePort();
      const t0 = Date.now();
      const err = await rejection(SshConnection.connect(target({ port: closed }), opts([knownHosts('kh-x')])));
      expect(err.code).toBe('CONNECT');
      expect(err.message).toMatch(/ECONNREFUSED/);
      expect(Date.now() - t0).toBeLessThan(2000);
    });

    it('gives up within connectTimeoutMs on a server that never answers', async () => {
      // A local listener that accepts and stays silent: the loopback stand-in for an unroutable host.
      const sockets: import('node:net').Socket[] = [];
      const silent: Server = createServer((s) => sockets.push(s));
      const silentPort = await new Promise<number>((resolve) =>
        silent.listen(0, '127.0.0.1', () => resolve((silent.address() as { port: number }).port)),
      );
      try {
        const t0 = Date.now();
        const err = await rejection(
          SshConnection.connect(target({ port: silentPort }), opts([knownHosts('kh-x')], { connectTimeoutMs: 700 })),
        );
        const took = Date.now() - t0;
        expect(err.code).toBe('CONNECT');
        expect(err.message).toMatch(/timed out after 700 ms/);
        expect(took).toBeGreaterThanOrEqual(650);
        expect(took).toBeLessThan(2000);
      } finally {
        for (const s of sockets) s.destroy();
        silent.close();
      }
    });

    it('reports an authentication failure as CONNECT with what was tried', async () => {
      const wrongKey = join(dir, 'other_ed25519');
      const err = await rejection(trusted({}, { privateKeyPath: wrongKey }));
      expect(err.code).toBe('CONNECT');
      expect(err.message).toMatch(/authentication failed/);
      expect(err.message).toContain(wrongKey);
    });

    it('reports a missing inventory key before connecting', async () => {
      const err = await rejection(trusted({}, { privateKeyPath: join(dir, 'nope') }));
      expect(err.code).toBe('CONFIG');
      expect(err.field).toBe('ansible_ssh_private_key_file');
    });

    it('reaches a host through ProxyJump, checking both hops', async () => {
      const file = knownHosts('kh-trusted', `[127.0.0.1]:${port} ssh-ed25519 ${hostKeyB64}\n`);
      const conn = await SshConnection.connect(
        target({ name: 'behind', proxyJump: target({ name: 'bastion' }) }),
        opts([file]),
      );
      try {
        const r = await conn.exec('echo "$SSH_CONNECTION"');
        // The target saw the connection coming from the jump host's forwarded channel.
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+\n$/);
      } finally {
        conn.close();
      }
      const err = await rejection(
        SshConnection.connect(target({ name: 'behind', proxyJump: target({ name: 'bastion' }) }), opts([knownHosts('kh-none2')])),
      );
      expect(err.code).toBe('HOSTKEY');
      expect(err.host).toBe('bastion');
      // Shown in the target's row: the message says the bastion is what failed, and for which host.
      expect(err.message).toMatch(/^cannot reach 127\.0\.0\.1:\d+ through jump host bastion: host key of bastion \(127\.0\.0\.1:\d+\) is not known/);
    });
  });

  describe('exec', () => {
    it('returns stdout, stderr and the exit code untrimmed', async () => {
      const conn = await trusted();
      try {
        const r = await conn.exec("printf '  out\\n\\n'\nprintf ' err \\n' >&2\nexit 3\n");
        expect(r.code).toBe(3);
        expect(r.stdout).toBe('  out\n\n');
        // root's own shell startup files on this machine may write to stderr first.
        expect(r.stderr.endsWith(' err \n')).toBe(true);
        expect(r.signal).toBeUndefined();
        expect(r.durationMs).toBeGreaterThanOrEqual(0);

        const ok = await conn.exec('echo ok');
        expect(ok).toMatchObject({ code: 0, stdout: 'ok\n' });
      } finally {
        conn.close();
      }
    });

    it('feeds extra stdin after the script, and runs a custom command', async () => {
      const conn = await trusted();
      try {
        const payload = 'line 1\n\u00e9\u00e8 \u2713\nno final newline';
        const r = await conn.exec('cat\n', { stdin: payload });
        expect(r.stdout).toBe(payload);
        const wc = await conn.exec('abc', { command: ['wc', '-c'] });
        expect(wc.stdout.trim()).toBe('3');
      } finally {
        conn.close();
      }
    });

    it('reports death by signal', async () => {
      const conn = await trusted();
      try {
        const r = await conn.exec('kill -KILL $$\n');
        expect(r.code).toBeNull();
        expect(r.signal).toBe('SIGKILL');
      } finally {
        conn.close();
      }
    });

    it('times out a command, kills it on the host, and keeps the connection usable', async () => {
      const conn = await trusted();
      try {
        const t0 = Date.now();
        const err = await rejection(conn.exec('sleep 37.123\n', { timeoutMs: 500 }));
        expect(err.code).toBe('TIMEOUT');
        expect(Date.now() - t0).toBeLessThan(2000);
        // The command is gone from the host too (timeout(1) on the host, 1 s after ours).
        let left = 'x';
        for (let i = 0; i < 40 && left !== ''; i++) {
          left = (await conn.exec("pgrep -f 'sleep 37[.]123' || true\n")).stdout;
          if (left !== '') await new Promise((r) => setTimeout(r, 100));
        }
        expect(left).toBe('');
        expect(conn.isAlive).toBe(true);
      } finally {
        conn.close();
      }
    });

    it('runs 12 concurrent execs on one connection under sshd MaxSessions 10, and counts them', async () => {
      const conn = await trusted();
      try {
        const before = { execs: conn.execs, sent: conn.bytesSent, received: conn.bytesReceived };
        const script = 'sleep 0.3; echo "n=$N"\n';
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => conn.exec(`N=${i}\n${script}`)),
        );
        results.forEach((r, i) => expect(r).toMatchObject({ code: 0, stdout: `n=${i}\n` }));
        expect(conn.execs - before.execs).toBe(12);
        expect(conn.bytesSent - before.sent).toBe(results.reduce((n, _, i) => n + Buffer.byteLength(`N=${i}\n${script}`), 0));
        expect(conn.bytesReceived - before.received).toBeGreaterThanOrEqual(results.reduce((n, r) => n + r.stdout.length, 0));
      } finally {
        conn.close();
      }
    });

    it('shows why the cap exists: without it sshd refuses sessions past MaxSessions', async () => {
      const conn = await trusted({ maxChannels: 12 });
      try {
        const settled = await Promise.allSettled(Array.from({ length: 12 }, () => conn.exec('sleep 1\n')));
        const refused = settled.filter((s) => s.status === 'rejected');
        expect(refused.length).toBeGreaterThan(0);
        for (const s of refused) expect((s as PromiseRejectedResult).reason).toMatchObject({ code: 'EXEC' });
      } finally {
        conn.close();
      }
    });

    it('fails cleanly when the server side dies mid-run', async () => {
      // Only this connection may be open: its session processes are the sshd's only children.
      for (let i = 0; i < 30 && sessionPids().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
      const conn = await trusted({ keepaliveIntervalMs: 1000 });
      // Orphaned by the kill, these end on their own shortly after.
      const running = conn.exec('sleep 3\n');
      const pending = conn.exec('sleep 3\n');
      await new Promise((r) => setTimeout(r, 300));
      const pids = sessionPids();
      expect(pids.length).toBeGreaterThan(0);
      for (const pid of pids) process.kill(pid, 'SIGKILL');

      for (const p of [running, pending]) {
        const err = await rejection(p);
        expect(err.code).toBe('CONNECT');
        expect(err.message).toMatch(/connection to lab1 lost/);
        expect(err.host).toBe('lab1');
      }
      expect(conn.isAlive).toBe(false);
      const later = await rejection(conn.exec('true\n'));
      expect(later.code).toBe('CONNECT');
      conn.close();
    });
  });
});

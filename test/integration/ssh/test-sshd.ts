import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';

/** The host's OpenSSH server, which the SSH tests start for themselves (as root). */
export const SSHD = '/usr/sbin/sshd';

/** A new ed25519 key pair at `file` (and `file`.pub); returns the public key's base64. */
export function keygen(file: string, comment = 'edge-test'): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/)[1]!;
}

export interface TestSshd {
  /** sshd itself: `wrap` must exec it (as `ip netns exec` does), so this PID is sshd's. */
  child: ChildProcess;
  /** Its stderr so far (-e: its log). */
  log: () => string;
  /** The base64 of its host key (DIR/host_ed25519). */
  hostKey: string;
}

/**
 * An sshd for one test file, in the foreground (-D), its files in `dir`: a new host key, the
 * authorized keys given, keys only and root by key only; `config` adds the file's own lines
 * (ListenAddress, Port, what it permits). Resolves once it sends its banner on `host:port`.
 */
export async function startSshd(o: { dir: string; host: string; port: number; authorizedKeys: string; config: string[]; wrap?: string[]; keyComment?: string }): Promise<TestSshd> {
  const hostKey = keygen(join(o.dir, 'host_ed25519'), o.keyComment);
  writeFileSync(join(o.dir, 'authorized_keys'), o.authorizedKeys);
  writeFileSync(
    join(o.dir, 'sshd_config'),
    [
      ...o.config,
      `HostKey ${join(o.dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${join(o.dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  const argv = [...(o.wrap ?? []), SSHD, '-D', '-e', '-f', join(o.dir, 'sshd_config')];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await waitForBanner(o.host, o.port, 20_000, () => log);
  return { child, log: () => log, hostKey };
}

/** Resolves once `host:port` sends an SSH banner. */
async function waitForBanner(host: string, port: number, deadlineMs: number, log: () => string): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, host);
      s.setTimeout(1000);
      s.once('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('SSH-'));
      });
      s.once('error', () => resolve(false));
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd did not come up on ${host}:${port}:\n${log()}`);
}

/** Ends a child the test file started, by its PID, and waits for it. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  await exited;
}

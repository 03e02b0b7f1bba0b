/**
 * SSH identity of the lab: one client key (ed25519) that every router authorizes for root, and a
 * known_hosts file with each router's own host key — generated on the host before the router first
 * boots, so strict host-key checking works from the first connection.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { knownHosts } from './render.js';
import { run } from './sys.js';

export async function ensureClientKey(key: string): Promise<string> {
  mkdirSync(dirname(key), { recursive: true, mode: 0o700 });
  if (!existsSync(key) || !existsSync(`${key}.pub`)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'edge-lab', '-f', key], { input: 'y\n' });
  }
  return readFileSync(`${key}.pub`, 'utf8').trim();
}

/** A host key pair at `path` (private) and `path.pub`; returns the public key line. */
export async function ensureHostKey(path: string, comment: string): Promise<string> {
  if (!existsSync(path) || !existsSync(`${path}.pub`)) {
    mkdirSync(dirname(path), { recursive: true });
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], { input: 'y\n' });
  }
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

export function writeKnownHosts(file: string, entries: { address: string; publicKey: string }[]): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, knownHosts(entries), { mode: 0o644 });
  renameSync(tmp, file);
}

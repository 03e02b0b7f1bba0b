import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { FILE_CAPS, isMissingFile, readBoundedText } from '../config/read-file.js';
import { dirname } from 'node:path';
import { EdgeError, errorMessage } from '../errors.js';
import { matchWildcard } from './wildcard.js';

/**
 * OpenSSH known_hosts, read the way ssh(1) reads it (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
 *   [@revoked|@cert-authority] patterns keytype base64 [comment]
 * where patterns is a comma list with `*`, `?` and `!` negation, or one hashed name `|1|salt|hmac`.
 * Hosts on a port other than 22 are stored and looked up as `[host]:port`.
 */

export type HostMatcher =
  | { kind: 'patterns'; patterns: string[] }
  | { kind: 'hashed'; salt: Buffer; hash: Buffer };

export interface KnownHostEntry {
  file: string;
  line: number; // 1-based
  marker?: 'revoked' | 'cert-authority';
  hosts: HostMatcher;
  keyType: string;
  key: Buffer;
}

export interface KnownHosts {
  files: string[];
  entries: KnownHostEntry[];
  /** Lines ssh(1) would skip too; kept so a caller can explain an unexpected "unknown". */
  warnings: string[];
}

export interface KnownKey {
  keyType: string;
  fingerprint: string;
  file: string;
  line: number;
}

export type LookupStatus = 'match' | 'mismatch' | 'unknown' | 'revoked';

export interface LookupResult {
  status: LookupStatus;
  /** SHA256 fingerprints of the keys known_hosts holds for this host (not revoked ones). */
  knownFingerprints: string[];
  /** The same keys with their type and where they are written, for "offending key in FILE:LINE". */
  known: KnownKey[];
}

/** `SHA256:...` exactly as `ssh-keygen -lf` prints it: base64 of the sha256 of the key blob, unpadded. */
export function fingerprint(keyBlob: string | Buffer): string {
  const blob = typeof keyBlob === 'string' ? Buffer.from(keyBlob, 'base64') : keyBlob;
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type written inside an SSH public key blob (its first length-prefixed string). */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** The name ssh(1) looks up: `host` on port 22, `[host]:port` elsewhere. Host names compare lowercased. */
export function hostKeyName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** `|1|salt|hmac` for a name, with a fresh random salt (what `ssh-keygen -H` writes). */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const mac = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${mac.toString('base64')}`;
}

/** known_hosts is read bounded: /dev/zero or a FIFO named as edge_known_hosts_file must not hang a run. */
function readKnownHostsText(file: string): string {
  return readBoundedText(file, { what: 'known_hosts file', maxBytes: FILE_CAPS.known_hosts, code: 'HOSTKEY' });
}

export function loadKnownHosts(paths: readonly string[]): KnownHosts {
  const kh: KnownHosts = { files: [...paths], entries: [], warnings: [] };
  for (const file of paths) {
    let text: string;
    try {
      text = readKnownHostsText(file);
    } catch (e) {
      // A missing file is the normal state before the first accepted key.
      if (isMissingFile(e)) continue;
      throw e;
    }
    parseInto(kh, file, text);
  }
  return kh;
}

/** Parse known_hosts text (exported for tests and for callers holding the text already). */
export function parseKnownHosts(text: string, file = '<text>'): KnownHosts {
  const kh: KnownHosts = { files: [file], entries: [], warnings: [] };
  parseInto(kh, file, text);
  return kh;
}

function parseInto(kh: KnownHosts, file: string, text: string): void {
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else {
        kh.warnings.push(`${file}:${lineNo}: unknown marker ${m}`);
        return;
      }
    }
    const [hostField, keyType, keyB64] = fields;
    if (!hostField || !keyType || !keyB64) {
      kh.warnings.push(`${file}:${lineNo}: expected "hosts keytype key"`);
      return;
    }
    const key = Buffer.from(keyB64, 'base64');
    // The blob names its own type; a line whose two disagree (or an old RSA1 "bits e n" line) is
    // not a key ssh(1) would use either.
    if (keyTypeOfBlob(key) !== keyType) {
      kh.warnings.push(`${file}:${lineNo}: key is not a valid ${keyType} public key`);
      return;
    }
    const hosts = parseHostField(hostField);
    if (!hosts) {
      kh.warnings.push(`${file}:${lineNo}: malformed hashed host name`);
      return;
    }
    kh.entries.push({ file, line: lineNo, marker, hosts, keyType, key });
  });
}

function parseHostField(field: string): HostMatcher | undefined {
  if (!field.startsWith('|')) {
    return { kind: 'patterns', patterns: field.split(',').filter((p) => p !== '').map((p) => p.toLowerCase()) };
  }
  // Only hash type 1 (HMAC-SHA1) exists.
  const m = /^\|1\|([^|]+)\|([^|]+)$/.exec(field);
  if (!m) return undefined;
  const salt = Buffer.from(m[1]!, 'base64');
  const hash = Buffer.from(m[2]!, 'base64');
  if (salt.length !== 20 || hash.length !== 20) return undefined;
  return { kind: 'hashed', salt, hash };
}

/** ssh's match_hostname: any negated pattern that matches vetoes the whole line. */
export function matchHostPatterns(name: string, patterns: readonly string[]): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matchWildcard(name, p.slice(1))) return false;
    } else if (matchWildcard(name, p)) {
      matched = true;
    }
  }
  return matched;
}

function entryMatchesName(entry: KnownHostEntry, name: string): boolean {
  const h = entry.hosts;
  if (h.kind === 'patterns') return matchHostPatterns(name, h.patterns);
  return timingSafeEqual(createHmac('sha1', h.salt).update(name).digest(), h.hash);
}

/** Key types known_hosts holds for this host (plain entries only), in file order, deduplicated. */
export function knownKeyTypes(kh: KnownHosts, host: string, port: number): string[] {
  const name = hostKeyName(host, port);
  const types = kh.entries.filter((e) => e.marker === undefined && entryMatchesName(e, name)).map((e) => e.keyType);
  return [...new Set(types)];
}

/**
 * Decide about the key a host offered.
 * - `revoked`: a matching `@revoked` line holds this very key: refuse, whatever else is known.
 * - `match`: a matching plain line holds this key.
 * - `unknown`: nothing is known for this host.
 * - `mismatch`: keys are known for this host and the offered one is not among them. That includes
 *   a key of a type not known for the host: a server that still has its known key would have been
 *   asked for that type first (see connection's host key algorithm order), so a different type is a
 *   changed key as far as edge is concerned (stricter than `accept-new` in ssh(1), on purpose).
 * `@cert-authority` lines vouch for certificates, not plain keys, and are ignored here.
 */
export function lookup(kh: KnownHosts, host: string, port: number, keyType: string, keyBase64: string): LookupResult {
  const name = hostKeyName(host, port);
  const offered = Buffer.from(keyBase64, 'base64');
  const matching = kh.entries.filter((e) => e.marker !== 'cert-authority' && entryMatchesName(e, name));
  const plain = matching.filter((e) => e.marker === undefined);
  const known = plain.map((e) => ({ keyType: e.keyType, fingerprint: fingerprint(e.key), file: e.file, line: e.line }));
  const knownFingerprints = [...new Set(known.map((k) => k.fingerprint))];

  const sameKey = (e: KnownHostEntry) => e.keyType === keyType && e.key.equals(offered);
  let status: LookupStatus;
  if (matching.some((e) => e.marker === 'revoked' && sameKey(e))) status = 'revoked';
  else if (plain.some(sameKey)) status = 'match';
  else if (plain.length === 0) status = 'unknown';
  else status = 'mismatch';
  return { status, knownFingerprints, known };
}

/**
 * Record a key the way ssh(1) does with accept-new: one line appended to `path`, `[host]:port` for a
 * port other than 22, and the name hashed when the file already holds hashed names (the owner
 * chose HashKnownHosts; a clear-text name would undo that). Creates the directory 0700 and the
 * file 0600 when they do not exist; existing modes are left alone.
 */
export function appendKnownHost(path: string, host: string, port: number, keyType: string, keyBase64: string): string {
  const name = hostKeyName(host, port);
  let existing = '';
  try {
    existing = readKnownHostsText(path);
  } catch (e) {
    if (!isMissingFile(e)) throw e;
  }
  const hashed = /^\s*(@\S+\s+)?\|1\|/m.test(existing);
  const line = `${hashed ? hashHostName(name) : name} ${keyType} ${keyBase64}\n`;
  // A hand-edited file may lack its final newline; do not glue our line onto the last key.
  const text = existing !== '' && !existing.endsWith('\n') ? `\n${line}` : line;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // O_APPEND with one write() keeps concurrent appends (many hosts accepted at once) whole.
    const fd = openSync(path, 'a', 0o600);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new EdgeError('HOSTKEY', `cannot write known_hosts file ${path}: ${errorMessage(e)}`, { cause: e });
  }
  return line.trimEnd();
}

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { contentHash } from '../facts/content-hash.js';
import { EDGE_VAR } from './host-layout.js';
import { checkPrivateDir, privateDir, readPrivate, writePrivate } from './private-files.js';

/**
 * The scripts edge sends on every run (the lock library and the facts probe, ~18 KiB) live on the
 * router by content hash, so a no-op run sends a reference of a few hundred bytes instead.
 *
 * The controller remembers, per host, which hashes it left there (CacheRecord); only those are sent
 * as a reference, so a first run or a changed script travels whole in the same exec, with no extra
 * round trip. The router runs a cached file only if its content still hashes to its name: a missing
 * or altered one ends the exec with CACHE_MISS_EXIT before anything ran, and edge sends the script
 * again and says so. The directory is root's (0700), keeps the KEEP most recently used files, and
 * goes with a rollback to the baseline.
 */
export const SCRIPT_CACHE = `${EDGE_VAR}/cache`;
export const CACHE_MISS_EXIT = 91;
/** Files the router keeps; the controller remembers fewer, so what it remembers is still there. */
const KEEP = 8;
const RECORD_KEEP = 4;
/** A record is RECORD_KEEP lines of 65 bytes; anything near this is not edge's. */
const RECORD_MAX_BYTES = 64 * 1024;
const RECORDS = 'the script cache record';

/** How a cached script reached the router in one exec. */
export type CacheUse = 'reference' | 'installed' | 'inline';

export interface CachedScript {
  /** Shell that defines what `body` defines, ready for the lines that use it. */
  script: string;
  hash: string;
  use: CacheUse;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * `body` (shell that only defines functions and variables) as the exec will carry it: a reference
 * when the host is known to hold it, else whole, and stored on the way unless `store` is false
 * (--check changes nothing on a host, not even edge's cache).
 */
export function cachedScript(body: string, known: (hash: string) => boolean, store: boolean): CachedScript {
  const text = body.endsWith('\n') ? body : `${body}\n`;
  const hash = contentHash(text);
  if (known(hash)) return { script: referenceScript(hash, store), hash, use: 'reference' };
  if (!store) return { script: text, hash, use: 'inline' };
  return { script: installScript(text, hash), hash, use: 'installed' };
}

/** Runs the cached file if it is there and still what its name says; else says which and exits. */
function referenceScript(hash: string, touch: boolean): string {
  const miss = (why: string) => `{ echo "edge-cache: ${why} \${edge_c##*/}" >&2; exit ${CACHE_MISS_EXIT}; }`;
  return [
    `edge_c=${SCRIPT_CACHE}/${hash}`,
    `[ -f "$edge_c" ] || ${miss('missing')}`,
    `edge_h=$(sha256sum < "$edge_c"); [ "\${edge_h%% *}" = "\${edge_c##*/}" ] || ${miss('altered')}`,
    ...(touch ? ['touch "$edge_c" 2>/dev/null || true'] : []),
    '. "$edge_c"',
    '',
  ].join('\n');
}

/**
 * The body whole, kept in a variable (a quoted here-document, its end word carrying the hash, so
 * no line of the body can end it), stored best-effort and run from the variable: a full disk costs
 * the cache, never the run. The oldest files beyond KEEP go.
 */
function installScript(text: string, hash: string): string {
  const end = `EDGE_CACHE_${hash}`;
  const dir = SCRIPT_CACHE;
  return [
    `edge_body=$(cat <<'${end}'`,
    `${text}${end}`,
    ')',
    `(umask 077; mkdir -p ${dir} && [ ! -L ${dir} ] && printf '%s\\n' "$edge_body" > ${dir}/.${hash}.$$ &&`,
    `  mv -f ${dir}/.${hash}.$$ ${dir}/${hash} && cd ${dir} && ls -1t | tail -n +${KEEP + 1} | xargs -r rm -f --) 2>/dev/null || true`,
    'eval "$edge_body"',
    '',
  ].join('\n');
}

/** What the router said when a reference missed: why, for the note; undefined when it did not miss. */
export function cacheMiss(code: number | null, stderr: string): 'missing' | 'altered' | undefined {
  if (code !== CACHE_MISS_EXIT) return undefined;
  return /^edge-cache: (missing|altered) [0-9a-f]{64}$/m.exec(stderr)?.[1] as 'missing' | 'altered' | undefined;
}

/** Shell that empties the host's cache (a rollback to the baseline leaves nothing of edge's behind). */
export const CLEAR_CACHE = `rm -rf ${SCRIPT_CACHE}\n`;

/**
 * Whose cache a record is about: the host's name and the fingerprint of the host key edge verified.
 * A reinstalled router (or a lab built anew) under the same name then starts from nothing instead
 * of missing every reference once.
 */
export function cacheHost(name: string, hostKeyFingerprint: string | undefined): string {
  return `${name} ${hostKeyFingerprint ?? 'unknown-host-key'}`;
}

/**
 * The controller's memory of which cached scripts each host holds (.edge/cache/HOST, a hash per
 * line, newest last). Losing it costs one whole send per host; it is never trusted for more (the
 * router checks every hash). It lives under .edge as the journals do (private-files.ts).
 */
export class CacheRecord {
  constructor(private readonly dir = join('.edge', 'cache')) {}

  private file(host: string): string {
    return join(this.dir, encodeURIComponent(host));
  }

  /** Whether the directory is there to use, after the checks of a private one. */
  private present(): boolean {
    if (!existsSync(this.dir)) return false;
    checkPrivateDir(this.dir, RECORDS);
    return true;
  }

  private read(host: string): string[] {
    const text = this.present() ? readPrivate(this.file(host), RECORDS, RECORD_MAX_BYTES) : undefined;
    return (text ?? '').split('\n').filter((l) => HEX64.test(l));
  }

  has(host: string, hash: string): boolean {
    return this.read(host).includes(hash);
  }

  add(host: string, hash: string): void {
    this.write(host, [...this.read(host).filter((h) => h !== hash), hash].slice(-RECORD_KEEP));
  }

  forget(host: string, hash?: string): void {
    if (hash !== undefined) this.write(host, this.read(host).filter((h) => h !== hash));
    else if (this.present()) rmSync(this.file(host), { force: true });
  }

  private write(host: string, hashes: string[]): void {
    privateDir(this.dir, RECORDS);
    writePrivate(this.file(host), hashes.map((h) => `${h}\n`).join(''));
  }
}

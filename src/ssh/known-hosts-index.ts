import { statSync } from 'node:fs';
import { hostKeyName, loadKnownHosts, type KnownHosts } from './known-hosts.js';

/**
 * known_hosts read once per version of its files for the whole process, and indexed by exact host
 * name. With one line per router, every connection used to read, parse and scan the whole file
 * (82 ms per connection at 1,000 lines, most of it one RegExp per line and lookup): the
 * controller's cost per host grew with the fleet. Lines with wildcards, negations or hashed names
 * cannot be indexed by name and are still checked for every host, as ssh(1) does.
 */

interface Indexed {
  stamp: string;
  kh: KnownHosts;
  /** Entry positions by exact host name (`host` or `[host]:port`). */
  exact: Map<string, number[]>;
  /** Entries every lookup must test. */
  scan: number[];
}

const cache = new Map<string, Indexed>();

/** Changes whenever any of the files does (an accepted key is appended: size and mtime move). */
function stampOf(paths: readonly string[]): string {
  return paths
    .map((p) => {
      try {
        const s = statSync(p);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    })
    .join('|');
}

const exactPattern = (p: string) => !/[*?]/.test(p) && !p.startsWith('!');

function index(kh: KnownHosts, stamp: string): Indexed {
  const exact = new Map<string, number[]>();
  const scan: number[] = [];
  kh.entries.forEach((e, i) => {
    if (e.hosts.kind !== 'patterns' || !e.hosts.patterns.every(exactPattern)) return void scan.push(i);
    for (const p of new Set(e.hosts.patterns)) exact.set(p, [...(exact.get(p) ?? []), i]);
  });
  return { stamp, kh, exact, scan };
}

/**
 * The known_hosts of `paths` narrowed to the lines that can concern `host`:`port`, in file order.
 * lookup() and knownKeyTypes() on it answer exactly as on the whole files.
 */
export function knownHostsFor(paths: readonly string[], host: string, port: number): KnownHosts {
  const key = paths.join('\0');
  const stamp = stampOf(paths);
  let idx = cache.get(key);
  if (!idx || idx.stamp !== stamp) {
    idx = index(loadKnownHosts(paths), stamp);
    cache.set(key, idx);
  }
  const ids = [...(idx.exact.get(hostKeyName(host, port)) ?? []), ...idx.scan].sort((a, b) => a - b);
  return { files: idx.kh.files, warnings: idx.kh.warnings, entries: ids.map((i) => idx.kh.entries[i]!) };
}

/**
 * The router image: a Debian 12 root filesystem built once with debootstrap and cached under
 * /var/cache/edge-lab/rootfs-bookworm-<hash of the recipe>. Every router is an overlay on it, so
 * the cache is never written after it is finished.
 *
 * Build: debootstrap into `<final>.partial` (resumable: a finished debootstrap there is kept),
 * then make it an image (below), then rename to the final name (atomic: a cache dir either is
 * complete or does not exist). The mirror is the host's own (apt sources), never hard-coded.
 *
 * Making it an image, i.e. what a Debian router installer would leave:
 *  - systemd-networkd enabled (minbase does not enable it), so routers configure their own links;
 *  - no SSH host keys and an empty machine-id: each router gets its own (written in its upper dir);
 *  - no copied host identity (/etc/hostname of the build host), an /etc/hosts, no .deb cache.
 * Nothing of the failover design: no sysctl, no rules, no nftables ruleset, keepalived left as the
 * package installs it (enabled, but it does not start without a config file).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeError } from '../errors.js';
import { acquireLock } from './state.js';
import { run } from './sys.js';

export const SUITE = 'bookworm';
export const PACKAGES = [
  'systemd',
  'systemd-sysv',
  'openssh-server',
  'nftables',
  'keepalived',
  'iproute2',
  'iputils-ping',
  'dbus',
  'conntrack',
  'procps',
];
/** Bump when the image recipe below changes: a new cache dir is built, old ones are left alone. */
const RECIPE = 1;

export function rootfsKey(): string {
  const h = createHash('sha256').update(JSON.stringify({ SUITE, PACKAGES, RECIPE, variant: 'minbase' })).digest('hex');
  return `rootfs-${SUITE}-${h.slice(0, 10)}`;
}

/**
 * Pure: the Debian mirror from apt sources. Takes the one-line format (sources.list) and deb822
 * (*.sources, `URIs:`), prefers an entry carrying the suite, skips security and updates mirrors.
 */
export function mirrorFromSources(files: { name: string; text: string }[], suite = SUITE): string | undefined {
  const found: { uri: string; suites: string[] }[] = [];
  for (const f of files) {
    if (f.name.endsWith('.sources')) {
      for (const stanza of f.text.split(/\n\s*\n/)) {
        const field = (k: string) =>
          new RegExp(`^${k}:[ \\t]*(.*)$`, 'mi').exec(stanza.replace(/^#.*$/gm, ''))?.[1]?.trim();
        const types = field('Types') ?? '';
        const enabled = (field('Enabled') ?? 'yes').toLowerCase() !== 'no';
        const uris = (field('URIs') ?? '').split(/\s+/).filter(Boolean);
        if (!enabled || !types.split(/\s+/).includes('deb')) continue;
        const suites = (field('Suites') ?? '').split(/\s+/).filter(Boolean);
        for (const uri of uris) found.push({ uri, suites });
      }
    } else {
      for (const raw of f.text.split('\n')) {
        const line = raw.replace(/#.*$/, '').trim();
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
        if (m) found.push({ uri: m[1]!, suites: [m[2]!] });
      }
    }
  }
  const usable = found.filter((f) => /^https?:\/\//.test(f.uri) && !/security/.test(f.uri));
  const best = usable.find((f) => f.suites.includes(suite)) ?? usable.find((f) => /debian/.test(f.uri));
  return best?.uri.replace(/\/+$/, '');
}

export function hostMirror(): string {
  const files: { name: string; text: string }[] = [];
  const add = (p: string) => {
    try {
      files.push({ name: p, text: readFileSync(p, 'utf8') });
    } catch {
      /* unreadable: skip */
    }
  };
  add('/etc/apt/sources.list');
  try {
    for (const f of readdirSync('/etc/apt/sources.list.d').sort())
      if (f.endsWith('.list') || f.endsWith('.sources')) add(join('/etc/apt/sources.list.d', f));
  } catch {
    /* no dir */
  }
  const m = mirrorFromSources(files);
  if (!m)
    throw new EdgeError('LAB', `no Debian mirror for ${SUITE} in /etc/apt/sources.list or /etc/apt/sources.list.d`, {
      hint: 'add a deb line for a Debian mirror (the lab builds its router image from it)',
    });
  return m;
}

/** A debootstrap run that finished: its scratch dir is gone and systemd is in place. */
function debootstrapDone(dir: string): boolean {
  return existsSync(join(dir, 'usr/lib/systemd/systemd')) && existsSync(join(dir, 'var/lib/dpkg/status')) && !existsSync(join(dir, 'debootstrap'));
}

export async function ensureRootfs(cacheDir: string, log: (s: string) => void): Promise<string> {
  const final = join(cacheDir, rootfsKey());
  if (existsSync(final)) return final;
  mkdirSync(cacheDir, { recursive: true });
  const release = await acquireLock(join(cacheDir, 'build.lock'), { waitMs: 1_800_000, log });
  try {
    if (existsSync(final)) return final; // built by whoever held the lock
    const partial = `${final}.partial`;
    if (!debootstrapDone(partial)) {
      rmSync(partial, { recursive: true, force: true });
      const mirror = hostMirror();
      log(`building the router image (debootstrap ${SUITE} from ${mirror}, about a minute, once)…`);
      const t0 = Date.now();
      await run(
        'debootstrap',
        ['--variant=minbase', `--include=${PACKAGES.join(',')}`, SUITE, partial, mirror],
        { timeoutMs: 1_800_000 },
      );
      log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    makeImage(partial);
    renameSync(partial, final);
    log(`router image cached at ${final}`);
    return final;
  } finally {
    release();
  }
}

/** Turn a debootstrapped tree into the router image (idempotent). */
function makeImage(dir: string): void {
  const enable = (target: string, unit: string) => {
    const wants = join(dir, 'etc/systemd/system', `${target}.wants`);
    mkdirSync(wants, { recursive: true });
    const link = join(wants, unit);
    rmSync(link, { force: true });
    symlinkSync(`/lib/systemd/system/${unit}`, link);
  };
  enable('multi-user.target', 'systemd-networkd.service');
  enable('sockets.target', 'systemd-networkd.socket');
  for (const f of readdirSync(join(dir, 'etc/ssh')))
    if (f.startsWith('ssh_host_')) rmSync(join(dir, 'etc/ssh', f), { force: true });
  writeFileSync(join(dir, 'etc/machine-id'), '');
  writeFileSync(join(dir, 'etc/hostname'), 'localhost\n');
  writeFileSync(join(dir, 'etc/hosts'), '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n');
  const debs = join(dir, 'var/cache/apt/archives');
  for (const f of existsSync(debs) ? readdirSync(debs) : []) if (f.endsWith('.deb')) rmSync(join(debs, f), { force: true });
}

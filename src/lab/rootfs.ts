/**
 * The router images: one per router kind (release × network setup), each built once and cached
 * under /var/cache/edge-lab. Every router is an overlay on its kind's image, so a cached image is
 * never written after it is finished.
 *
 *   rootfs-SUITE-HASH            debootstrap of SUITE + systemd-networkd enabled (the `networkd` kind)
 *   rootfs-SUITE-ifupdown-HASH   a copy of the one above + ifupdown and the release's DHCP client,
 *                                systemd-networkd left disabled (the `ifupdown` kind)
 *
 * One debootstrap per release: the ifupdown image is derived from the networkd one (a copy and an
 * apt-get install of two packages, ~10 s) instead of a second debootstrap (~45 s). Each key hashes
 * only its own recipe, so adding a kind or changing the ifupdown recipe never rebuilds the
 * networkd images (bookworm's key is the one it had before kinds existed).
 *
 * Build: into `<final>.partial` (a finished debootstrap there is kept and resumed from), then make it
 * an image (below), then rename to the final name (atomic: a cache dir is complete or absent). The
 * mirror is the host's own (apt sources; a Debian mirror serves every suite), never hard-coded.
 *
 * Making it an image, i.e. what a Debian router installer would leave:
 *  - the network setup of the kind enabled (minbase enables neither networkd nor ifupdown's
 *    networking.service), so routers configure their own links;
 *  - no SSH host keys and an empty machine-id: each router gets its own (written in its upper dir);
 *  - no copied host identity (/etc/hostname of the build host), an /etc/hosts, no .deb cache.
 * Nothing of the failover design: no sysctl, no rules, no nftables ruleset, keepalived left as the
 * package installs it (enabled, but it does not start without a config file).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeError } from '../errors.js';
import type { Release, RouterKind } from './plan.js';
import { acquireLock } from './state.js';
import { LAB_PATH, run } from './sys.js';

export const SUITE: Release = 'bookworm';
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
  // What a team that runs Prometheus has on its routers (edge's metrics go through its textfile
  // collector); the lab has no internet, so the packages task could not install it there.
  'prometheus-node-exporter',
];
/** Bump when the image recipe below changes: a new cache dir is built, old ones are left alone. */
const RECIPE = 1;

/** What the ifupdown image adds: ifupdown and the DHCP client Debian's installer puts in that release. */
export const IFUPDOWN_PACKAGES: Record<Release, string[]> = {
  bookworm: ['ifupdown', 'isc-dhcp-client'],
  trixie: ['ifupdown', 'dhcpcd-base'],
};
const IFUPDOWN_RECIPE = 1;

const hash = (x: unknown) => createHash('sha256').update(JSON.stringify(x)).digest('hex').slice(0, 10);

/** Cache dir name of a kind's image (pure; only that kind's recipe goes into it). */
export function rootfsKey(kind: RouterKind = { release: SUITE, net: 'networkd' }): string {
  const base = `rootfs-${kind.release}-${hash({ SUITE: kind.release, PACKAGES, RECIPE, variant: 'minbase' })}`;
  if (kind.net === 'networkd') return base;
  return `rootfs-${kind.release}-ifupdown-${hash({ base, packages: IFUPDOWN_PACKAGES[kind.release], IFUPDOWN_RECIPE })}`;
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

export function hostMirror(suite: Release = SUITE): string {
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
  const m = mirrorFromSources(files, suite);
  if (!m)
    throw new EdgeError('LAB', `no Debian mirror for ${suite} in /etc/apt/sources.list or /etc/apt/sources.list.d`, {
      hint: 'add a deb line for a Debian mirror (the lab builds its router image from it)',
    });
  return m;
}

/** A debootstrap run that finished: its scratch dir is gone and systemd is in place. */
function debootstrapDone(dir: string): boolean {
  return existsSync(join(dir, 'usr/lib/systemd/systemd')) && existsSync(join(dir, 'var/lib/dpkg/status')) && !existsSync(join(dir, 'debootstrap'));
}

/** The image of `kind`, built (and its networkd parent first) if it is not cached yet. */
export async function ensureRootfs(cacheDir: string, kind: RouterKind, log: (s: string) => void): Promise<string> {
  const final = join(cacheDir, rootfsKey(kind));
  if (existsSync(final)) return final;
  const parent = kind.net === 'ifupdown' ? await ensureRootfs(cacheDir, { ...kind, net: 'networkd' }, log) : undefined;
  mkdirSync(cacheDir, { recursive: true });
  const release = await acquireLock(join(cacheDir, 'build.lock'), { waitMs: 1_800_000, log });
  try {
    if (existsSync(final)) return final; // built by whoever held the lock
    const partial = `${final}.partial`;
    const t0 = Date.now();
    if (parent) await deriveIfupdown(parent, partial, kind.release, log);
    else await debootstrap(partial, kind.release, log);
    makeImage(partial, kind);
    renameSync(partial, final);
    log(`router image ${rootfsKey(kind)} cached at ${final} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    return final;
  } finally {
    release();
  }
}

async function debootstrap(dir: string, suite: Release, log: (s: string) => void): Promise<void> {
  if (debootstrapDone(dir)) return;
  rmSync(dir, { recursive: true, force: true });
  const mirror = hostMirror(suite);
  log(`building the ${suite} router image (debootstrap ${suite} from ${mirror}, about a minute, once)…`);
  await run('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, suite, dir, mirror], { timeoutMs: 1_800_000 });
}

/**
 * The ifupdown image: a copy of the release's networkd image with ifupdown and the DHCP client
 * installed by apt inside it (chroot; the image's own sources.list and keyring, so the packages
 * come from the release's archive, verified). The copy is redone from scratch if a build was cut short.
 */
async function deriveIfupdown(parent: string, dir: string, suite: Release, log: (s: string) => void): Promise<void> {
  const pkgs = IFUPDOWN_PACKAGES[suite];
  log(`building the ${suite} ifupdown router image (the ${suite} image + ${pkgs.join(', ')}, once)…`);
  rmSync(dir, { recursive: true, force: true });
  await run('cp', ['-a', '--reflink=auto', parent, dir], { timeoutMs: 600_000 });
  const env = { PATH: LAB_PATH, DEBIAN_FRONTEND: 'noninteractive', LANG: 'C.UTF-8' };
  const hostResolv = readFileSync('/etc/resolv.conf');
  const resolv = join(dir, 'etc/resolv.conf');
  const saved = existsSync(resolv) ? readFileSync(resolv) : undefined;
  writeFileSync(resolv, hostResolv); // name resolution for apt inside the chroot
  try {
    await run('chroot', [dir, 'apt-get', '-q', 'update'], { env, timeoutMs: 600_000 });
    await run('chroot', [dir, 'apt-get', '-q', '-y', '--no-install-recommends', 'install', ...pkgs], { env, timeoutMs: 600_000 });
    await run('chroot', [dir, 'apt-get', 'clean'], { env });
  } finally {
    if (saved) writeFileSync(resolv, saved);
    else rmSync(resolv, { force: true });
  }
}

/** Turn a built tree into the router image of `kind` (idempotent). */
function makeImage(dir: string, kind: RouterKind): void {
  const link = (target: string, unit: string, on: boolean) => {
    const wants = join(dir, 'etc/systemd/system', `${target}.wants`);
    const l = join(wants, unit);
    rmSync(l, { force: true });
    if (!on) return;
    mkdirSync(wants, { recursive: true });
    symlinkSync(`/lib/systemd/system/${unit}`, l);
  };
  const networkd = kind.net === 'networkd';
  link('multi-user.target', 'systemd-networkd.service', networkd);
  link('sockets.target', 'systemd-networkd.socket', networkd);
  // ifupdown's package enables networking.service itself; said here so the image does not depend on it.
  link('multi-user.target', 'networking.service', !networkd);
  link('network-online.target', 'networking.service', !networkd);
  for (const f of readdirSync(join(dir, 'etc/ssh')))
    if (f.startsWith('ssh_host_')) rmSync(join(dir, 'etc/ssh', f), { force: true });
  writeFileSync(join(dir, 'etc/machine-id'), '');
  writeFileSync(join(dir, 'etc/hostname'), 'localhost\n');
  writeFileSync(join(dir, 'etc/hosts'), '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n');
  const debs = join(dir, 'var/cache/apt/archives');
  for (const f of existsSync(debs) ? readdirSync(debs) : []) if (f.endsWith('.deb')) rmSync(join(debs, f), { force: true });
}

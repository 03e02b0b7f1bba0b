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
 *  - no copied host identity (/etc/hostname of the build host), an /etc/hosts, no .deb cache;
 *  - the lab's own apt repository (repo.ts), made from that cache first: the image's only apt source.
 * Nothing of the failover design: no sysctl, no rules, no nftables ruleset, keepalived left as the
 * package installs it (enabled, but it does not start without a config file).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { EdgeError } from '../errors.js';
import type { Release, RouterKind } from './plan.js';
import { buildRepo, REPO_PACKAGES, REPO_SOURCES } from './repo.js';
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
  // collector). Preinstalled, as radvd below, so a first run on a lab router finds everything edge
  // needs (the tests count on a packages task with nothing to do); a test that needs apt to install
  // removes a package first and edge installs it from the image's repository (repo.ts).
  'prometheus-node-exporter',
  // what edge installs for translated IPv6 (router advertisements on the LAN)
  'radvd',
];
/** Bump when the image recipe below changes: a new cache dir is built, old ones are left alone. */
const RECIPE = 1;

/** What the ifupdown image adds: ifupdown and the DHCP client Debian's installer puts in that release. */
export const IFUPDOWN_PACKAGES: Record<Release, string[]> = {
  bookworm: ['ifupdown', 'isc-dhcp-client'],
  trixie: ['ifupdown', 'dhcpcd-base'],
};
const IFUPDOWN_RECIPE = 1;
/** Bump when the repository's recipe (repo.ts) changes. 2: its Release file has a Date (apt warned without one). */
const REPO_RECIPE = 2;

const hash = (x: unknown) => createHash('sha256').update(JSON.stringify(x)).digest('hex').slice(0, 10);

/** Cache dir name of a release's debootstrap (pure): what the images of its kinds are made from. */
export function baseKey(release: Release = SUITE): string {
  return `rootfs-${release}-${hash({ SUITE: release, PACKAGES, RECIPE, variant: 'minbase' })}`;
}

/** Cache dir name of a kind's image (pure; only that kind's recipe goes into it). */
export function rootfsKey(kind: RouterKind = { release: SUITE, net: 'networkd' }): string {
  const repo = `rootfs-${kind.release}-repo-${hash({ base: baseKey(kind.release), REPO_PACKAGES, REPO_RECIPE })}`;
  if (kind.net === 'networkd') return repo;
  return `rootfs-${kind.release}-ifupdown-${hash({ base: repo, packages: IFUPDOWN_PACKAGES[kind.release], IFUPDOWN_RECIPE })}`;
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

/** The image of `kind`, built (and the images it is made from first) if it is not cached yet. */
export async function ensureRootfs(cacheDir: string, kind: RouterKind, log: (s: string) => void): Promise<string> {
  const final = join(cacheDir, rootfsKey(kind));
  if (existsSync(final)) return final;
  const parent = kind.net === 'ifupdown' ? await ensureRootfs(cacheDir, { ...kind, net: 'networkd' }, log) : await ensureBase(cacheDir, kind.release, log);
  return build(cacheDir, final, log, async (partial) => {
    if (kind.net === 'ifupdown') await deriveIfupdown(parent, partial, kind.release, log);
    else await deriveRepo(parent, partial, kind.release, log);
    makeImage(partial, kind);
  });
}

/** The release's debootstrap, made an image of the networkd kind (without the lab's repository). */
async function ensureBase(cacheDir: string, release: Release, log: (s: string) => void): Promise<string> {
  const final = join(cacheDir, baseKey(release));
  if (existsSync(final)) return final;
  return build(cacheDir, final, log, async (partial) => {
    await debootstrap(partial, release, log);
    makeImage(partial, { release, net: 'networkd' });
  });
}

/** Builds `final` under the cache's lock: into `<final>.partial`, then renamed (a cache dir is complete or absent). */
async function build(cacheDir: string, final: string, log: (s: string) => void, make: (partial: string) => Promise<void>): Promise<string> {
  mkdirSync(cacheDir, { recursive: true });
  const release = await acquireLock(join(cacheDir, 'build.lock'), { waitMs: 1_800_000, log });
  try {
    if (existsSync(final)) return final; // built by whoever held the lock
    const partial = `${final}.partial`;
    const t0 = Date.now();
    await make(partial);
    renameSync(partial, final);
    log(`router image ${basename(final)} cached at ${final} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
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
 * installed by apt inside it (chroot; the image's keyring, and for the install the host's mirror in
 * place of the image's own sources, so the packages come from the release's archive, verified; then
 * the lab's repository is the only source again). The copy is redone from scratch if a build was cut short.
 */
async function deriveIfupdown(parent: string, dir: string, suite: Release, log: (s: string) => void): Promise<void> {
  const pkgs = IFUPDOWN_PACKAGES[suite];
  log(`building the ${suite} ifupdown router image (the ${suite} image + ${pkgs.join(', ')}, once)…`);
  rmSync(dir, { recursive: true, force: true });
  await run('cp', ['-a', '--reflink=auto', parent, dir], { timeoutMs: 600_000 });
  const env = { PATH: LAB_PATH, DEBIAN_FRONTEND: 'noninteractive', LANG: 'C.UTF-8' };
  await withMirror(dir, suite, async () => {
    await run('chroot', [dir, 'apt-get', '-q', 'update'], { env, timeoutMs: 600_000 });
    await run('chroot', [dir, 'apt-get', '-q', '-y', '--no-install-recommends', 'install', ...pkgs], { env, timeoutMs: 600_000 });
    await run('chroot', [dir, 'apt-get', 'clean'], { env });
  });
}

/**
 * The networkd image: a copy of the release's debootstrap with the lab's apt repository (repo.ts),
 * whose .debs apt fetches inside it from the host's mirror (chroot, the image's keyring: verified).
 * Redone from scratch if a build was cut short.
 */
async function deriveRepo(parent: string, dir: string, suite: Release, log: (s: string) => void): Promise<void> {
  log(`building the ${suite} router image (the ${suite} debootstrap + the lab's apt repository, once)…`);
  rmSync(dir, { recursive: true, force: true });
  await run('cp', ['-a', '--reflink=auto', parent, dir], { timeoutMs: 600_000 });
  await withMirror(dir, suite, () => buildRepo(dir, log));
}

/** Runs `fn` with the host's name resolution and mirror in image `dir`; then the lab's repository is its only source again. */
async function withMirror(dir: string, suite: Release, fn: () => Promise<void>): Promise<void> {
  const resolv = join(dir, 'etc/resolv.conf');
  const saved = existsSync(resolv) ? readFileSync(resolv) : undefined;
  const sources = join(dir, 'etc/apt/sources.list');
  writeFileSync(resolv, readFileSync('/etc/resolv.conf')); // name resolution for apt inside the chroot
  writeFileSync(sources, `deb ${hostMirror(suite)} ${suite} main\n`);
  try {
    await fn();
  } finally {
    if (saved) writeFileSync(resolv, saved);
    else rmSync(resolv, { force: true });
    writeFileSync(sources, REPO_SOURCES);
  }
  // The image's package lists are the repository's (a file: source: no network).
  await run('chroot', [dir, 'apt-get', '-q', 'update'], { env: { PATH: LAB_PATH, LANG: 'C.UTF-8' }, timeoutMs: 600_000 });
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

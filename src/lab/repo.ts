/**
 * The lab's own apt repository, inside every router image. The lab reaches no Debian mirror, yet
 * edge's packages task must really install on a lab router what it lacks (and a rollback really
 * purge it again): so the image keeps the .debs of the packages edge installs and of everything
 * they depend on (fetched by the image's own apt from the release's archive, verified), with a
 * Packages index and a Release file, and its apt sources name only this repository (file:, trusted).
 * A test removes a package from its router, and edge installs it back the way it would from a
 * mirror (apt-get update, apt-get install).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_PATH, run } from './sys.js';

/** Where the repository lives in an image. */
export const REPO_DIR = '/srv/edge-lab-repo';

/** What edge's packages task may install (src/tasks/packages.ts; the lab does not import tasks): the roots of the repository. */
export const REPO_PACKAGES = ['nftables', 'keepalived', 'conntrack', 'iproute2', 'iputils-ping', 'mawk', 'radvd', 'prometheus-node-exporter'];

/** The image's only apt source. */
export const REPO_SOURCES = `# The lab reaches no Debian mirror: its routers install from the image's own repository (src/lab/repo.ts).\ndeb [trusted=yes] file:${REPO_DIR} ./\n`;

export interface DebFile {
  /** The file's name in the repository. */
  name: string;
  /** Its control fields as `dpkg-deb -f` prints them. */
  control: string;
  size: number;
  md5: string;
  sha256: string;
}

/** The Packages index of a flat repository (pure): each control stanza with where the file is and its hashes. */
export function packagesIndex(debs: DebFile[]): string {
  const sorted = [...debs].sort((a, b) => a.name.localeCompare(b.name));
  return sorted
    .map((d) => `${d.control.trimEnd()}\nFilename: ./${d.name}\nSize: ${d.size}\nMD5sum: ${d.md5}\nSHA256: ${d.sha256}\n`)
    .join('\n');
}

/** The Release file of a flat repository holding `packages` (pure): apt checks the index against it (and wants a Date). */
export function releaseFile(packages: string, date: Date): string {
  const size = Buffer.byteLength(packages);
  const h = (alg: string) => createHash(alg).update(packages).digest('hex');
  return `Origin: edge-lab\nLabel: edge-lab\nDate: ${date.toUTCString()}\nMD5Sum:\n ${h('md5')} ${size} Packages\nSHA256:\n ${h('sha256')} ${size} Packages\n`;
}

const ENV = { PATH: LAB_PATH, LANG: 'C.UTF-8' };

/** The packages REPO_PACKAGES need, themselves included, as installed in image `dir` (those are the versions a router has). */
async function closure(dir: string): Promise<string[]> {
  const r = await run(
    'chroot',
    [dir, 'apt-cache', 'depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', ...REPO_PACKAGES],
    { env: ENV, timeoutMs: 120_000 },
  );
  const names = new Set(r.stdout.split('\n').filter((l) => l && !l.startsWith(' ') && !l.startsWith('<')).map((l) => l.trim()));
  const installed = (await run('chroot', [dir, 'dpkg-query', '-W', '-f', '${Package}\\n'], { env: ENV })).stdout.split('\n');
  return installed.filter((n) => names.has(n)).sort();
}

async function debFile(path: string, name: string): Promise<DebFile> {
  const data = readFileSync(path);
  const control = (await run('dpkg-deb', ['-f', path])).stdout;
  return { name, control, size: statSync(path).size, md5: createHash('md5').update(data).digest('hex'), sha256: createHash('sha256').update(data).digest('hex') };
}

/**
 * Builds the repository into image `dir`, whose apt sources name the release's mirror for the time
 * of the build (rootfs.ts): apt-get download of every package REPO_PACKAGES need, then the index and
 * the Release file (written last).
 */
export async function buildRepo(dir: string, log: (s: string) => void): Promise<void> {
  const repo = join(dir, REPO_DIR);
  await run('chroot', [dir, 'apt-get', '-q', 'update'], { env: ENV, timeoutMs: 600_000 });
  const names = await closure(dir);
  mkdirSync(repo, { recursive: true });
  await run('chroot', [dir, 'sh', '-c', `cd ${REPO_DIR} && apt-get -q download "$@"`, 'sh', ...names], { env: ENV, timeoutMs: 900_000 });
  const debs: DebFile[] = [];
  for (const f of readdirSync(repo).filter((x) => x.endsWith('.deb')).sort()) debs.push(await debFile(join(repo, f), f));
  const missing = REPO_PACKAGES.filter((p) => !debs.some((d) => d.name.startsWith(`${p}_`)));
  if (missing.length) throw new Error(`internal: apt-get download fetched no .deb of ${missing.join(', ')}`);
  const index = packagesIndex(debs);
  writeFileSync(join(repo, 'Packages'), index);
  writeFileSync(join(repo, 'Release.tmp'), releaseFile(index, new Date()));
  renameSync(join(repo, 'Release.tmp'), join(repo, 'Release'));
  log(`lab apt repository: ${debs.length} packages in ${REPO_DIR}`);
}

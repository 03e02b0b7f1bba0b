/**
 * A control group of its own for each router container.
 *
 * With --keep-unit (the host has no systemd to give it a scope), nspawn puts the container in a
 * `payload` group under its own group. Started from one process, every router would get the same
 * `…/payload` — and the routers' systemds would share `system.slice/keepalived.service` and every
 * other unit's group: a stop on r1 kills or waits for r2's processes, a unit's group vanishes under
 * another router ("Failed to kill control group … Input/output error", then status=219/CGROUP at
 * the next start). So nspawn is started inside `<hierarchy>/edge-lab/<machine>` of each hierarchy
 * it tracks containers in (the cgroup2 one, and the named `systemd` one of a hybrid host), as
 * Docker's cgroupfs driver does.
 */
import { mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const PARENT = 'edge-lab';

/** Mount points of the hierarchies nspawn places a container in, from /proc/self/mountinfo text. */
export function trackingHierarchies(mountinfo: string): string[] {
  const found: string[] = [];
  for (const line of mountinfo.split('\n')) {
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTS"
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const mountPoint = pre.split(' ')[4];
    const [fstype, , superOpts = ''] = post.split(' ');
    if (!mountPoint) continue;
    if (fstype === 'cgroup2' || (fstype === 'cgroup' && superOpts.split(',').includes('name=systemd'))) found.push(unescapeMount(mountPoint));
  }
  return [...new Set(found)];
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

function hierarchies(): string[] {
  return trackingHierarchies(readFileSync('/proc/self/mountinfo', 'utf8'));
}

/**
 * The `cgroup.procs` files a router's nspawn joins before it execs (fresh, empty groups: what a
 * killed container left behind is removed first). A hierarchy this process may not write to (a
 * read-only /sys/fs/cgroup in a container) is left out: the router then shares its group there,
 * as every router did before.
 */
export function routerCgroups(machine: string): string[] {
  return hierarchies().flatMap((h) => {
    const dir = join(h, PARENT, machine);
    removeTree(dir);
    try {
      mkdirSync(dir, { recursive: true });
    } catch {
      return [];
    }
    return [join(dir, 'cgroup.procs')];
  });
}

/** Remove a router's groups (a router taken out of the lab). */
export function removeRouterCgroup(machine: string): void {
  for (const h of hierarchies()) removeTree(join(h, PARENT, machine));
}

/** The groups of this lab's routers (`<prefix>-*`), in every hierarchy. */
export function labCgroups(prefix: string): string[] {
  return hierarchies().flatMap((h) =>
    subgroups(join(h, PARENT))
      .filter((m) => m.startsWith(`${prefix}-`))
      .map((m) => join(h, PARENT, m)),
  );
}

/** Remove the groups of this lab's routers, and their parent once no lab uses it. */
export function removeLabCgroups(prefix: string): void {
  for (const dir of labCgroups(prefix)) removeTree(dir);
  for (const h of hierarchies()) tryRmdir(join(h, PARENT)); // another instance's routers keep it
}

function subgroups(dir: string): string[] {
  try {
    return readdirSync(dir).filter((e) => statSync(join(dir, e)).isDirectory());
  } catch {
    return [];
  }
}

/**
 * Depth first, as a cgroup is removed with rmdir of a group without children. A group that still
 * holds a process stays (its rmdir fails with EBUSY): nothing is killed here.
 */
function removeTree(dir: string): void {
  for (const sub of subgroups(dir)) removeTree(join(dir, sub));
  tryRmdir(dir);
}

function tryRmdir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    /* gone, or still in use */
  }
}

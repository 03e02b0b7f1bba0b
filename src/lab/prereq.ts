/**
 * Host prerequisites: root, the tools the lab drives (installed with apt-get when missing, with a
 * clear message), the kernel features it needs, and a guard that the management subnet (the one
 * lab range that lives in the host's own namespace, on the lab bridge) is not already in use.
 */
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { EdgeError } from '../errors.js';
import { overlaps } from './plan.js';
import { LAB_PATH, requireRoot, run } from './sys.js';

/** Host tool → Debian package that provides it. */
export const HOST_TOOLS: { tool: string; pkg: string; why: string }[] = [
  { tool: 'debootstrap', pkg: 'debootstrap', why: 'builds the router root filesystem' },
  { tool: 'systemd-nspawn', pkg: 'systemd-container', why: 'runs the router containers' },
  { tool: 'ip', pkg: 'iproute2', why: 'namespaces, links, addresses, routes' },
  { tool: 'dnsmasq', pkg: 'dnsmasq-base', why: "the ISP1 DHCP server" },
  { tool: 'radvd', pkg: 'radvd', why: "the ISPs' IPv6 router advertisements" },
  { tool: 'dhcpd', pkg: 'isc-dhcp-server', why: "the ISPs' DHCPv6 server (addresses and prefix delegation; dnsmasq cannot delegate)" },
  { tool: 'ssh-keygen', pkg: 'openssh-client', why: 'lab SSH key and router host keys' },
  { tool: 'ssh', pkg: 'openssh-client', why: 'SSH to the routers' },
  { tool: 'nsenter', pkg: 'util-linux', why: 'commands inside a router' },
  { tool: 'setpriv', pkg: 'util-linux', why: "commands in the lab with a router root's capabilities only" },
  { tool: 'ping', pkg: 'iputils-ping', why: "the LAN client's probe" },
  { tool: 'nft', pkg: 'nftables', why: 'the loss fault (in the ISP namespace)' },
  { tool: '/usr/bin/python3', pkg: 'python3-minimal', why: 'the latency fault (this kernel has no netem)' },
];

export function findTool(tool: string): string | undefined {
  const candidates = tool.startsWith('/') ? [tool] : LAB_PATH.split(':').map((d) => `${d}/${tool}`);
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** Pure: which packages to install for the missing tools (deduplicated, in table order). */
export function missingPackages(present: (tool: string) => boolean): { tools: string[]; pkgs: string[] } {
  const missing = HOST_TOOLS.filter((t) => !present(t.tool));
  return { tools: missing.map((t) => t.tool), pkgs: [...new Set(missing.map((t) => t.pkg))] };
}

export async function ensurePrerequisites(log: (s: string) => void): Promise<void> {
  requireRoot();
  const { tools, pkgs } = missingPackages((t) => findTool(t) !== undefined);
  if (pkgs.length > 0) {
    if (!findTool('apt-get'))
      throw new EdgeError('LAB', `missing host tools: ${tools.join(', ')}, and no apt-get to install them`, {
        hint: `install the packages ${pkgs.join(' ')} and run again`,
      });
    log(`installing missing host packages with apt-get: ${pkgs.join(' ')} (for ${tools.join(', ')})`);
    const env = { PATH: LAB_PATH, DEBIAN_FRONTEND: 'noninteractive', LANG: 'C.UTF-8' };
    const args = ['install', '-y', '--no-install-recommends', ...pkgs];
    let r = await run('apt-get', args, { env, allowFail: true, timeoutMs: 600_000 });
    if (r.code !== 0) {
      log('apt-get install failed; running apt-get update and trying again');
      await run('apt-get', ['update'], { env, allowFail: true, timeoutMs: 600_000 });
      r = await run('apt-get', args, { env, allowFail: true, timeoutMs: 600_000 });
    }
    const still = missingPackages((t) => findTool(t) !== undefined);
    if (still.pkgs.length > 0)
      throw new EdgeError('LAB', `could not install ${still.pkgs.join(' ')}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`, {
        hint: `install them by hand: apt-get install ${still.pkgs.join(' ')}`,
      });
  }
  let fs = '';
  try {
    fs = readFileSync('/proc/filesystems', 'utf8');
  } catch {
    /* checked below */
  }
  if (!/\boverlay\b/.test(fs))
    throw new EdgeError('LAB', 'the kernel has no overlay filesystem; routers are overlays on a shared root filesystem');
}

/**
 * Each router's systemd (and logind, journald, getty…) takes several inotify instances, all counted
 * against root on the host; the kernel's default of 128 runs out at about 15 routers ("Failed to
 * create inotify object: Too many open files" and a boot that never finishes). Raise it if lower
 * (never lowered; not restored by `down` — it is a limit, not a lab object).
 */
export function inotifyInstancesNeeded(routers: number): number {
  return 256 + 24 * routers;
}

export function ensureHostLimits(routers: number, log: (s: string) => void): void {
  const path = '/proc/sys/fs/inotify/max_user_instances';
  const want = inotifyInstancesNeeded(routers);
  let have = 0;
  try {
    have = Number(readFileSync(path, 'utf8').trim());
  } catch {
    return;
  }
  if (have >= want) return;
  writeFileSync(path, `${want}\n`);
  log(`raised fs.inotify.max_user_instances from ${have} to ${want} (every router's systemd needs several)`);
}

/**
 * Refuse when a non-lab interface of the host already has an address or route in the management
 * subnet: the lab bridge would shadow it. (The other lab ranges live only inside lab namespaces, so
 * the host using them — e.g. 192.0.2.0/24 on a CI VM — does not matter.)
 */
export async function checkHostAddressing(mgmtSubnet: string, labPrefix: string): Promise<void> {
  const conflicts = await hostConflicts(mgmtSubnet, labPrefix);
  if (conflicts.length > 0)
    throw new EdgeError('LAB', `the lab management subnet ${mgmtSubnet} is already used on this host: ${conflicts.join('; ')}`, {
      hint: 'use another lab instance (EDGE_LAB_INSTANCE=1..9 uses 198.18.K.0/24)',
    });
}

async function hostConflicts(subnet: string, labPrefix: string): Promise<string[]> {
  const routes = JSON.parse((await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])).stdout || '[]') as {
    dst: string;
    dev?: string;
    table?: string;
    type?: string;
  }[];
  return hostRouteConflicts(routes, subnet, labPrefix);
}

/** Pure: routes of the host (ip -j route) that overlap the subnet and are not on a lab link. */
export function hostRouteConflicts(
  routes: { dst: string; dev?: string; type?: string }[],
  subnet: string,
  labPrefix: string,
): string[] {
  return routes
    .filter((r) => r.dst !== 'default' && !(r.dev ?? '').startsWith(`${labPrefix}-`))
    .filter((r) => r.type !== 'broadcast' && r.type !== 'multicast')
    .filter((r) => overlaps(r.dst.includes('/') ? r.dst : `${r.dst}/32`, subnet))
    .map((r) => `${r.dst}${r.dev ? ` dev ${r.dev}` : ''}`);
}

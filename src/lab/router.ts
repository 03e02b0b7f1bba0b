/**
 * A router = a systemd-nspawn container booted with its own systemd, on the cached image with a
 * persistent overlay upper dir (its "disk"), inside its network namespace:
 *
 *   SYSTEMD_NSPAWN_API_VFS_WRITABLE=network systemd-nspawn -D ROOTFS --overlay=ROOTFS:UPPER:/
 *     --network-namespace-path=/run/netns/elab-rN --capability=CAP_NET_ADMIN,CAP_NET_RAW
 *     -b --machine=elab-rN --register=no --keep-unit -q --resolv-conf=off --timezone=off --link-journal=no
 *
 * (--register=no --keep-unit: the host has no systemd as PID 1 / no system bus; the writable
 * /proc/sys/net lets the router's sysctls work; the capabilities let nft, ip rule and ping work.)
 * Stop = SIGTERM to nspawn (the container shuts down cleanly); start = the same command again, on a
 * freshly made network namespace (see powerOn in lab.ts). A `reboot`/`poweroff` typed inside the
 * router ends nspawn (no supervisor restarts it); `edge lab up` or `edge lab reboot` powers it on.
 * Commands run inside with `nsenter -t LEADER -a` (LEADER = the container's systemd, nspawn's child).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { spawn } from 'node:child_process';
import { EdgeError } from '../errors.js';
import { boundingSet, withCapsOnly } from './caps.js';
import { routerCgroups } from './cgroup.js';
import { ensureHostKey } from './keys.js';
import type { RouterKind, RouterPlan } from './plan.js';
import { ROUTER_IFS } from './plan.js';
import { routerFiles } from './render.js';
import type { LabPaths, LabState, ProcRecord } from './state.js';
import { endRecorded, livePid, routerDir, startRecorded } from './state.js';
import { ipJson } from './topology.js';
import type { RunOptions, RunResult } from './sys.js';
import { LAB_ENV, childrenOf, run, waitFor, waitGone } from './sys.js';

export function upperDir(paths: LabPaths, r: RouterPlan): string {
  return join(routerDir(paths, r.name), 'upper');
}

/** Directory modes of the image that the upper dir must repeat (an overlay dir takes the upper's mode). */
const DIR_MODES: Record<string, number> = { '': 0o755, root: 0o700, 'root/.ssh': 0o700 };

function mkdirs(upper: string, rel: string): void {
  const parts = rel.split('/').filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const sub = parts.slice(0, i).join('/');
    const dir = join(upper, sub);
    if (!existsSync(dir)) {
      mkdirSync(dir);
      chmodSync(dir, DIR_MODES[sub] ?? 0o755);
    }
  }
}

/**
 * The router's disk before its first boot: identity, network configuration of its kind, root's
 * authorized key and its own SSH host key. An existing upper dir is kept as it is (files persist).
 * Returns the host public key.
 */
export async function prepareRouterDisk(paths: LabPaths, r: RouterPlan, clientPub: string, kind: RouterKind): Promise<string> {
  const upper = upperDir(paths, r);
  const hostKey = join(upper, 'etc/ssh/ssh_host_ed25519_key');
  mkdirSync(dirname(upper), { recursive: true });
  if (!existsSync(join(upper, 'etc/machine-id'))) {
    mkdirs(upper, '');
    for (const f of routerFiles(r, randomBytes(16).toString('hex'), kind)) {
      mkdirs(upper, dirname(f.path));
      writeFileSync(join(upper, f.path), f.content, { mode: f.mode });
    }
    mkdirs(upper, 'root/.ssh');
    writeFileSync(join(upper, 'root/.ssh/authorized_keys'), `${clientPub}\n`, { mode: 0o600 });
  }
  mkdirs(upper, 'etc/ssh');
  return ensureHostKey(hostKey, `root@${r.name}`);
}

export function nspawnArgs(rootfs: string, upper: string, r: RouterPlan): string[] {
  return [
    'systemd-nspawn',
    '-D',
    rootfs,
    `--overlay=${rootfs}:${upper}:/`,
    `--network-namespace-path=/run/netns/${r.ns}`,
    '--capability=CAP_NET_ADMIN,CAP_NET_RAW',
    '-b',
    `--machine=${r.machine}`,
    '--register=no',
    '--keep-unit',
    '-q',
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
  ];
}

export function routerProcId(r: RouterPlan): string {
  return r.name;
}

export function routerProc(state: LabState, r: RouterPlan): ProcRecord | undefined {
  return state.procs[routerProcId(r)];
}

/** The container's nspawn PID if it is running (recorded PID or pid file, command line verified). */
export function routerPid(state: LabState, r: RouterPlan): number | undefined {
  return livePid(routerProc(state, r));
}

export function leaderPid(nspawnPid: number): number | undefined {
  return childrenOf(nspawnPid)[0];
}

export function startRouter(paths: LabPaths, state: LabState, rootfs: string, r: RouterPlan): number {
  const upper = upperDir(paths, r);
  return startRecorded(
    paths,
    state,
    routerProcId(r),
    {
      role: 'nspawn',
      pidFile: join(paths.runDir, `${r.name}.nspawn.pid`),
      match: `${upper}:/`,
      log: join(routerDir(paths, r.name), 'console.log'),
    },
    {
      argv: nspawnArgs(rootfs, upper, r),
      env: { ...LAB_ENV, SYSTEMD_NSPAWN_API_VFS_WRITABLE: 'network' },
      cgroups: routerCgroups(r.machine),
    },
  );
}

/** Graceful shutdown (SIGTERM to nspawn), SIGKILL after 30 s. */
export function stopRouter(state: LabState, r: RouterPlan): Promise<boolean> {
  return endRecorded(routerProc(state, r), 30_000);
}

/**
 * A power cut: SIGKILL to the container's init ends every process in it at once (no unit is
 * stopped, nothing is flushed by the router's own shutdown), then nspawn exits by itself.
 */
export async function killRouter(state: LabState, r: RouterPlan): Promise<void> {
  const pid = routerPid(state, r);
  if (pid === undefined) return;
  const leader = leaderPid(pid);
  if (leader !== undefined) process.kill(leader, 'SIGKILL');
  if (!(await waitGone(pid, 10_000))) await stopRouter(state, r);
}

/**
 * argv inside the router (all its namespaces) as the router's own root: with its init's capability
 * bounding set, never the host's (caps.ts).
 */
export function inRouter(leader: number, argv: string[]): string[] {
  return withCapsOnly(boundingSet(leader), ['nsenter', '-t', String(leader), '-a', ...argv]);
}

/** Run a command inside the router, as its root. */
export function routerRun(leader: number, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = inRouter(leader, argv);
  return run(cmd!, args, opts);
}

/** Interactive: stdio inherited; resolves to the exit code. */
export function routerExecInteractive(leader: number, argv: string[]): Promise<number> {
  const [cmd, ...args] = inRouter(leader, argv);
  return spawnInherit(cmd!, args);
}

export function spawnInherit(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'inherit', env: LAB_ENV });
    c.on('error', (e) => reject(new EdgeError('LAB', `cannot run ${cmd}: ${e.message}`)));
    c.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export function requireLeader(state: LabState, r: RouterPlan): number {
  const pid = routerPid(state, r);
  const leader = pid === undefined ? undefined : leaderPid(pid);
  if (leader === undefined)
    throw new EdgeError('LAB', `router ${r.name} is not running`, { hint: 'start it with `edge lab up`' });
  return leader;
}

/** An SSH server answers on the management address (banner read; no login). */
export function sshBanner(address: string, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port: 22 });
    const done = (ok: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => done(d.startsWith('SSH-')));
    s.on('error', () => done(false));
  });
}

interface AddrInfo {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number; dynamic?: boolean }[];
}

export async function ipv4Of(ns: string, ifname: string): Promise<string | undefined> {
  const links = await ipJson<AddrInfo>(ns, ['-4', 'addr', 'show', 'dev', ifname]);
  return links[0]?.addr_info?.find((a) => a.family === 'inet')?.local;
}

/**
 * Booted: systemd reports running (or degraded), sshd answers on the management address, and
 * (unless a fault keeps it from happening) WAN1 has its DHCP lease.
 */
export async function waitRouterReady(
  state: LabState,
  r: RouterPlan,
  opts: { timeoutMs?: number; expectDhcp?: boolean } = {},
): Promise<{ systemd: string }> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const started = Date.now();
  const left = () => Math.max(1_000, timeoutMs - (Date.now() - started));
  const systemd = await waitFor(`${r.name} to boot`, left(), async () => {
    const pid = routerPid(state, r);
    if (pid === undefined) throw new EdgeError('LAB', `the container of ${r.name} exited (see its console.log)`);
    const leader = leaderPid(pid);
    if (leader === undefined) return undefined;
    const res = await routerRun(leader, ['systemctl', 'is-system-running'], { allowFail: true, timeoutMs: 5_000 });
    const s = res.stdout.trim();
    return s === 'running' || s === 'degraded' ? s : undefined;
  });
  await waitFor(`sshd on ${r.name} (${r.mgmt.address})`, left(), async () => ((await sshBanner(r.mgmt.address)) ? true : undefined));
  if (opts.expectDhcp !== false)
    await waitFor(`${r.name} to get a DHCP lease on ${ROUTER_IFS.wan1}`, left(), async () => ipv4Of(r.ns, ROUTER_IFS.wan1));
  return { systemd };
}

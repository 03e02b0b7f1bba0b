/**
 * `edge lab`: a local fleet of real Debian routers, with faults on demand — the operations behind
 * the commands (src/commands/lab.ts only parses arguments and prints).
 *
 * Every operation that changes the lab holds the lab lock. `up` reconciles: what runs and is wired
 * right is left alone, what is missing is (re)created, so it is safe after a crash, a killed `up`,
 * or a container that stopped. `down` ends every recorded process (by PID, command line checked),
 * then removes every namespace and root link that carries the lab prefix, recorded or not, and the
 * lab's state directory. The router image cache (/var/cache/edge-lab) is kept.
 *
 * Where this differs from the hand-built recipe (shared/lab.md), and why:
 *  - A router is powered on in a freshly made network namespace (also by `lab reboot`): sysctls,
 *    nft rules, ip rules and routes live in the namespace, not the container, and would otherwise
 *    survive the "reboot" — persistence tests would pass for the wrong reason. Its disk (overlay
 *    upper dir) persists; its links keep fixed MACs, so its DHCP lease does too.
 *  - No netem in this kernel: loss is an nftables rule in the ISP namespace, latency a tun device
 *    there whose reader (a small python3 program) holds each packet for the delay.
 *  - Faults are made in the ISP namespace only, never in the router: link-down = the ISP's end of
 *    the link down (the router sees carrier loss); upstream-cut = the ISP's default route blackholed.
 *  - `up` raises fs.inotify.max_user_instances when below 256 + 24 per router (every router's
 *    systemd takes several; at the default 128, about 15 routers boot and the rest hang).
 *  - EDGE_LAB_INSTANCE=K (1-9) runs an isolated second lab (prefix elabK-, management
 *    198.18.K.0/24, state /var/lib/edge-lab-K): the lab's own tests use it so they never disturb
 *    the shared lab other integration tests use.
 */
import { existsSync, readFileSync, readdirSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EdgeError } from '../errors.js';
import { removeLabCgroups, removeRouterCgroup } from './cgroup.js';
import { dhcpPid, ensureDhcp, reloadDhcp, stopDhcp, writeDhcpOptions } from './dhcp.js';
import type { FaultAction } from './faults.js';
import { applyFault, describeFault, faultOf, latencyProcId, withAction } from './faults.js';
import { ensureWhoami, whoamiPid } from './internet.js';
import { delegatedPrefix, delegationOf, ensureIsp6, restartDhcpd6, stopIsp6 } from './isp6.js';
import { renderInventory, writeInventory } from './inventory.js';
import { ensureClientKey, writeKnownHosts } from './keys.js';
import type { ExecTarget, LabPlan, RouterKind, RouterPlan, Wan } from './plan.js';
import {
  DEFAULT_KIND,
  DEFAULT_ROUTERS,
  ROUTER_IFS,
  WANS,
  dhcpClientOf,
  kindName,
  kindOfRouter,
  labPlan,
  parseExecTarget,
  parseRouterName,
  routerPlan,
  sameKind,
} from './plan.js';
import { checkHostAddressing, ensureHostLimits, ensurePrerequisites } from './prereq.js';
import type { ProbeOptions, ProbeResult } from './probe.js';
import { runProbe } from './probe.js';
import { gatewayOf, reconnect6Script, renewScript } from './render.js';
import { shellCall } from '../router-files.js';
import { ensureRootfs } from './rootfs.js';
import {
  leaderPid,
  prepareRouterDisk,
  requireLeader,
  routerExecInteractive,
  routerPid,
  routerRun,
  spawnInherit,
  startRouter,
  stopRouter,
  killRouter,
  waitRouterReady,
} from './router.js';
import type { LabPaths, LabState, ProcRecord } from './state.js';
import { acquireLock, emptyState, endRecorded, labPaths, readState, routerDir, routerKind, writeState } from './state.js';
import { createRouterNetwork, deleteRouterNetwork, ensureBridge, ensureInternet, ipJson, routerNetworkOk, sweepNetwork } from './topology.js';
import type { RunOptions, RunResult } from './sys.js';
import { boundingSet, withCapsOnly } from './caps.js';
import { inNetns, linkNames, netnsList, processesRootedUnder, readPidFile, requireRoot, run, sleep, waitFor } from './sys.js';

export type Log = (line: string) => void;

export interface LabOptions {
  /** Progress lines (default: console.log). */
  log?: Log;
  /** Isolated lab instance (default: EDGE_LAB_INSTANCE or 0). */
  instance?: number;
}

function ctx(opts: LabOptions): { paths: LabPaths; log: Log } {
  return { paths: labPaths(opts.instance), log: opts.log ?? ((s) => console.log(s)) };
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

import { defaultInventoryPath } from './state.js';

export { defaultInventoryPath };

/** The state of a lab that is up (a usage error when there is none). */
export function loadLab(paths: LabPaths): { state: LabState; plan: LabPlan } {
  const state = readState(paths);
  if (!state) throw new EdgeError('LAB', 'the lab is not up', { hint: 'start it with `edge lab up`' });
  return { state, plan: labPlan(state.routers, paths.instance) };
}

// ---------------------------------------------------------------- up

export interface UpOptions extends LabOptions {
  routers?: number;
  /**
   * Router kinds, r1 the first, r2 the second…, repeated when shorter than the lab (see parseKinds).
   * Default: every router keeps its kind (a new router is bookworm-networkd). A router whose kind
   * changes is made anew: stopped, its disk removed, booted from the other image.
   */
  kinds?: RouterKind[];
  /** Where to write the inventory (default: see defaultInventoryPath). */
  inventory?: string;
}

export interface UpResult {
  state: LabState;
  plan: LabPlan;
  paths: LabPaths;
  inventory: string;
  /** Routers whose container was started by this call. */
  started: string[];
  ms: number;
}

export async function labUp(opts: UpOptions = {}): Promise<UpResult> {
  requireRoot();
  const { paths, log } = ctx(opts);
  const t0 = Date.now();
  await ensurePrerequisites(log);
  const release = await acquireLock(paths.lockFile, { log });
  try {
    const existing = readState(paths);
    const n = opts.routers ?? existing?.routers ?? DEFAULT_ROUTERS;
    const plan = labPlan(n, paths.instance);
    await checkHostAddressing(plan.mgmtSubnet, plan.prefix);
    ensureHostLimits(n, log);
    const state = existing ?? emptyState(paths, n);
    const want = plan.routers.map((r) => (opts.kinds ? kindOfRouter(opts.kinds, r.index) : routerKind(state, r)));
    for (const k of want) state.images[kindName(k)] = await ensureRootfs(paths.cacheDir, k, log);
    if (existing && existing.routers > n) await removeRouters(paths, state, n, existing.routers, log);
    state.routers = n;
    state.upStartedAt = new Date().toISOString();
    delete state.upFinishedAt;
    writeState(paths, state);

    const clientPub = await ensureClientKey(paths.key);
    await ensureBridge(paths, state, plan);
    const inetNew = await ensureInternet(paths, state, plan);
    await ensureWhoami(paths, state, plan);

    const have = { netns: new Set(await netnsList()), rootLinks: new Set(await linkNames(null)) };
    const hostKeys: { address: string; publicKey: string }[] = [];
    const started: string[] = [];
    for (const r of plan.routers) {
      const kind = want[r.index - 1]!;
      const remade = await changeKind(paths, state, r, kind, log);
      hostKeys.push({ address: r.mgmt.address, publicKey: await prepareRouterDisk(paths, r, clientPub, kind) });
      const running = routerPid(state, r) !== undefined;
      if (running && !remade && !inetNew && (await routerNetworkOk(r, plan, have))) {
        // leave it alone; make sure its ISP side is as recorded
        ensureDhcp(paths, state, r);
        ensureIsp6(paths, state, r);
        await reapplyFaults(paths, state, r);
      } else {
        await powerOn(paths, state, plan, r);
        started.push(r.name);
      }
    }
    writeKnownHosts(paths.knownHosts, hostKeys);
    const inventory = opts.inventory ?? defaultInventoryPath(paths);
    writeInventory(inventory, renderInventory(plan, { key: paths.key, knownHosts: paths.knownHosts }));
    if (started.length) log(`booting ${started.join(', ')}…`);

    await Promise.all(
      plan.routers.map(async (r) => {
        const tr = Date.now();
        const wan1 = faultOf(state, r, 'wan1');
        await waitRouterReady(state, r, { expectDhcp: !wan1.linkDown && wan1.lossPct < 50 });
        if (started.includes(r.name)) log(`  ${r.name} up (${secs(Date.now() - tr)}): mgmt ${r.mgmt.address}`);
      }),
    );
    state.upFinishedAt = new Date().toISOString();
    writeState(paths, state);
    const ms = Date.now() - t0;
    log(`lab up: ${n} router${n === 1 ? '' : 's'} in ${secs(ms)}; inventory ${inventory}`);
    return { state, plan, paths, inventory, started, ms };
  } finally {
    release();
  }
}

/**
 * Record the router's kind; if it had another (a lab made before kinds existed had
 * bookworm-networkd), end it and remove its disk so it is made anew. Returns whether it was.
 */
async function changeKind(paths: LabPaths, state: LabState, r: RouterPlan, kind: RouterKind, log: Log): Promise<boolean> {
  const had = routerKind(state, r);
  const dir = routerDir(paths, r.name);
  const remade = existsSync(dir) && !sameKind(had, kind);
  if (remade) {
    log(`${r.name}: ${kindName(had)} → ${kindName(kind)}: removing its disk, booting it from the ${kindName(kind)} image`);
    await stopRouterProcesses(state, r);
    rmSync(dir, { recursive: true, force: true });
  }
  state.kinds[r.name] = kind;
  writeState(paths, state);
  return remade;
}

/** The image a router boots: its kind's, built by `lab up` (a lab from before kinds: its one image). */
function imageOf(state: LabState, r: RouterPlan): string {
  const kind = routerKind(state, r);
  const image = state.images[kindName(kind)] ?? (sameKind(kind, DEFAULT_KIND) ? state.rootfs : undefined);
  if (!image) throw new EdgeError('LAB', 'the lab was never fully up', { hint: 'run `edge lab up` first' });
  return image;
}

/** End a router's container, DHCP server and latency delayers (by recorded PID). */
async function stopRouterProcesses(state: LabState, r: RouterPlan): Promise<void> {
  await Promise.all([
    stopRouter(state, r),
    stopDhcp(state, r),
    stopIsp6(state, r),
    ...WANS.map((w) => endRecorded(state.procs[latencyProcId(r, w)])),
  ]);
}

async function reapplyFaults(paths: LabPaths, state: LabState, r: RouterPlan): Promise<void> {
  for (const wan of WANS) {
    const f = state.faults[r.name]?.[wan];
    if (f) await applyFault(paths, state, r, wan, f);
  }
}

/**
 * Boot a router like powering on a machine: its network namespace is made afresh (a namespace
 * would otherwise keep kernel state — sysctls, nft rules, ip rules, routes — across the "reboot",
 * which would make every persistence test pass for the wrong reason), with its ISPs and LAN
 * client; the ISPs' DHCP server and recorded faults come back as they were; the disk (upper dir) is kept.
 */
async function powerOn(paths: LabPaths, state: LabState, plan: LabPlan, r: RouterPlan): Promise<void> {
  const rootfs = imageOf(state, r);
  await stopRouterProcesses(state, r);
  await deleteRouterNetwork(r, plan);
  await createRouterNetwork(paths, state, plan, r);
  ensureDhcp(paths, state, r);
  ensureIsp6(paths, state, r);
  await reapplyFaults(paths, state, r);
  startRouter(paths, state, rootfs, r);
}

async function removeRouters(paths: LabPaths, state: LabState, keep: number, had: number, log: Log): Promise<void> {
  const plan = labPlan(keep, paths.instance);
  for (let i = keep + 1; i <= had; i++) {
    const r = routerPlan(i, paths.instance);
    log(`removing ${r.name}`);
    await stopRouterProcesses(state, r);
    await deleteRouterNetwork(r, plan);
    rmSync(join(paths.routersDir, r.name), { recursive: true, force: true });
    removeRouterCgroup(r.machine);
    delete state.faults[r.name];
    delete state.gateways[r.name];
    delete state.prefixes[r.name];
    delete state.kinds[r.name];
  }
}

// ---------------------------------------------------------------- down

export interface DownResult {
  processes: number;
  netns: string[];
  links: string[];
  ms: number;
}

export async function labDown(opts: LabOptions = {}): Promise<DownResult> {
  requireRoot();
  const { paths, log } = ctx(opts);
  const t0 = Date.now();
  const release = await acquireLock(paths.lockFile, { log });
  try {
    let state: LabState | undefined;
    try {
      state = readState(paths);
    } catch (e) {
      log(`ignoring unreadable state: ${e instanceof Error ? e.message : String(e)}`);
    }
    const procs = [...Object.values(state?.procs ?? {}), ...unrecordedPidFiles(paths, state)];
    // a process recorded a moment before a killed `up` may not have written its pid file yet
    await waitFor('recorded processes to write their pid files', 1_000, async () =>
      procs.every((p) => p.pid !== undefined || readPidFile(p.pidFile) !== undefined) ? true : undefined,
    ).catch(() => undefined);
    // routers first (graceful, in parallel), then the rest
    const ended = await Promise.all(procs.filter((p) => p.role === 'nspawn').map((p) => endRecorded(p, 30_000)));
    ended.push(...(await Promise.all(procs.filter((p) => p.role !== 'nspawn').map((p) => endRecorded(p)))));
    ended.push(...endOrphanedContainers(paths));
    const swept = await sweepNetwork(paths.prefix, { netns: state?.netns ?? [], links: state?.links ?? [] });
    removeNspawnLeftovers(paths.prefix, [state?.rootfs, ...Object.values(state?.images ?? {})]);
    removeLabCgroups(paths.prefix);
    // the state dir last but one, the lock last
    for (const f of existsSync(paths.stateDir) ? readdirSync(paths.stateDir) : [])
      if (f !== 'lock' && f !== 'state.json') rmSync(join(paths.stateDir, f), { recursive: true, force: true });
    rmSync(paths.stateFile, { force: true });
    const res = { processes: ended.filter(Boolean).length, netns: swept.netns, links: swept.links, ms: Date.now() - t0 };
    log(
      `lab down: ended ${res.processes} process${res.processes === 1 ? '' : 'es'}, removed ${res.netns.length} namespaces and ${res.links.length} links in ${secs(res.ms)}`,
    );
    return res;
  } finally {
    release();
    try {
      rmdirSync(paths.stateDir);
    } catch {
      /* not empty (another command took the lock) or gone */
    }
  }
}

/**
 * A router container that outlived its nspawn (nspawn killed after its grace period, or by hand)
 * keeps running as an orphan: ended here by PID, found by the lab's own overlay upper dirs.
 */
function endOrphanedContainers(paths: LabPaths): boolean[] {
  return processesRootedUnder(paths.routersDir).map((pid) => {
    try {
      process.kill(pid, 'SIGKILL');
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Pid files in the run dir that the state does not name (a lost or corrupt state file). Every lab
 * daemon has the state dir in its command line, which is what such a PID must show to be ended.
 */
function unrecordedPidFiles(paths: LabPaths, state: LabState | undefined): ProcRecord[] {
  const known = new Set(Object.values(state?.procs ?? {}).map((p) => p.pidFile));
  const files = existsSync(paths.runDir) ? readdirSync(paths.runDir) : [];
  return files
    .filter((f) => /\.pid(\.wrapper)?$/.test(f) && !/\.(dnsmasq|radvd|dhcpd6)\.pid$/.test(f))
    .map((f) => join(paths.runDir, f))
    .filter((f) => !known.has(f))
    .map((pidFile) => ({
      role: roleOfPidFile(pidFile),
      pidFile,
      match: `${paths.stateDir}/`,
      log: '/dev/null',
    }));
}

function roleOfPidFile(f: string): ProcRecord['role'] {
  if (f.endsWith('.nspawn.pid')) return 'nspawn';
  if (f.endsWith('-latency.pid')) return 'latency';
  const daemon = /\.(radvd|dhcpd6)\.pid\.wrapper$/.exec(f)?.[1];
  if (daemon === 'radvd' || daemon === 'dhcpd6') return daemon;
  return f.endsWith('whoami.pid') ? 'whoami' : 'dnsmasq';
}

/**
 * nspawn leaves files under /run/systemd/nspawn (no mounts): a directory per machine in
 * propagate/; and two image lock files (`locks/inode-DEV:INO`, `.#IMAGE.lck` next to the image).
 * Remove ours — a lock file only when no process holds a lock on it any more (another lab instance may).
 */
function removeNspawnLeftovers(prefix: string, images: (string | undefined)[]): void {
  const base = '/run/systemd/nspawn';
  for (const sub of existsSync(base) ? readdirSync(base) : []) {
    const dir = join(base, sub);
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) if (e.startsWith(`${prefix}-`)) rmSync(join(dir, e), { recursive: true, force: true });
  }
  const locks = existsSync('/proc/locks') ? readFileSync('/proc/locks', 'utf8') : '';
  for (const rootfs of new Set(images)) {
    if (!rootfs || !existsSync(rootfs)) continue;
    const st = statSync(rootfs);
    const lockFiles = [join(base, 'locks', `inode-${st.dev}:${st.ino}`), join(dirname(rootfs), `.#${basename(rootfs)}.lck`)];
    for (const f of lockFiles) {
      if (!existsSync(f)) continue;
      const ino = statSync(f).ino;
      if (!locks.split('\n').some((l) => new RegExp(`:${ino}\\s`).test(l))) rmSync(f, { force: true });
    }
  }
}

// ---------------------------------------------------------------- status

export interface RouterStatus {
  name: string;
  /** Release and network setup, e.g. trixie-ifupdown; dhcpClient is the program WAN1's lease comes from. */
  kind: string;
  dhcpClient: string;
  running: boolean;
  nspawnPid?: number;
  leaderPid?: number;
  systemd?: string;
  mgmt: string;
  wan1: { address?: string; gateway?: string };
  wan2: { address?: string; gateway?: string };
  lan: string;
  client: string;
  dhcp: boolean;
  dhcpGateway: 'primary' | 'alternate';
  faults: Record<Wan, string>;
}

export interface LabStatus {
  up: boolean;
  instance: number;
  stateDir: string;
  /** Kind name → image the lab's routers of that kind boot. */
  images?: Record<string, string>;
  bridge?: { name: string; address: string };
  internet?: { ns: string; targets: string[]; whoami: string; whoamiRunning: boolean };
  routers: RouterStatus[];
}

interface RouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
}

/** Default routes of the router's main table (what its own network stack put there). */
export async function mainDefaults(r: RouterPlan): Promise<RouteJson[]> {
  return ipJson<RouteJson>(r.ns, ['-4', 'route', 'show', 'table', 'main', 'default']);
}

async function addressOf(ns: string, dev: string): Promise<string | undefined> {
  const l = await ipJson<{ addr_info?: { family: string; local: string; prefixlen: number }[] }>(ns, ['-4', 'addr', 'show', 'dev', dev]);
  const a = l[0]?.addr_info?.find((x) => x.family === 'inet');
  return a ? `${a.local}/${a.prefixlen}` : undefined;
}

export async function labStatus(opts: LabOptions = {}): Promise<LabStatus> {
  requireRoot();
  const { paths } = ctx(opts);
  const state = readState(paths);
  if (!state) return { up: false, instance: paths.instance, stateDir: paths.stateDir, routers: [] };
  const plan = labPlan(state.routers, paths.instance);
  const nsHave = new Set(await netnsList());
  const routers = await Promise.all(
    plan.routers.map(async (r): Promise<RouterStatus> => {
      const pid = routerPid(state, r);
      const leader = pid === undefined ? undefined : leaderPid(pid);
      const wired = nsHave.has(r.ns);
      const [systemd, defaults, wan1, wan2] = await Promise.all([
        leader === undefined
          ? undefined
          : routerRun(leader, ['systemctl', 'is-system-running'], { allowFail: true, timeoutMs: 5_000 }).then((x) => x.stdout.trim() || undefined),
        wired ? mainDefaults(r) : [],
        wired ? addressOf(r.ns, ROUTER_IFS.wan1) : undefined,
        wired ? addressOf(r.ns, ROUTER_IFS.wan2) : undefined,
      ]);
      return {
        name: r.name,
        kind: kindName(routerKind(state, r)),
        dhcpClient: dhcpClientOf(routerKind(state, r)),
        running: pid !== undefined,
        nspawnPid: pid,
        leaderPid: leader,
        systemd,
        mgmt: r.mgmt.address,
        wan1: { address: wan1, gateway: defaults.find((d) => d.dev === ROUTER_IFS.wan1)?.gateway },
        wan2: { address: wan2, gateway: defaults.find((d) => d.dev === ROUTER_IFS.wan2)?.gateway },
        lan: r.lan.router,
        client: r.lan.client,
        dhcp: dhcpPid(state, r) !== undefined,
        dhcpGateway: state.gateways[r.name] ?? 'primary',
        faults: { wan1: describeFault(faultOf(state, r, 'wan1')), wan2: describeFault(faultOf(state, r, 'wan2')) },
      };
    }),
  );
  return {
    up: true,
    instance: paths.instance,
    stateDir: paths.stateDir,
    images: state.rootfs ? { 'bookworm-networkd': state.rootfs, ...state.images } : state.images,
    bridge: { name: plan.bridge, address: `${plan.hostMgmt}/24` },
    internet: {
      ns: plan.inetNs,
      targets: plan.targets,
      whoami: `${plan.whoami.address}:${plan.whoami.port}`,
      whoamiRunning: whoamiPid(state) !== undefined,
    },
    routers,
  };
}

// ---------------------------------------------------------------- reboot, fault, gateway

/** Run `fn` holding the lab lock, with the lab's state and plan. */
async function withLab<T>(opts: LabOptions, fn: (c: { paths: LabPaths; log: Log; state: LabState; plan: LabPlan }) => Promise<T>): Promise<T> {
  requireRoot();
  const { paths, log } = ctx(opts);
  const release = await acquireLock(paths.lockFile, { log });
  try {
    return await fn({ paths, log, ...loadLab(paths) });
  } finally {
    release();
  }
}

export interface RebootResult {
  router: string;
  stopMs: number;
  bootMs: number;
}

/**
 * Stop the container gracefully (or, with `hard`, kill it like a power cut) and power it on again:
 * same disk (upper dir), fresh kernel network state.
 */
export function labReboot(router: string, opts: LabOptions & { hard?: boolean } = {}): Promise<RebootResult> {
  return withLab(opts, async ({ paths, log, state, plan }) => {
    const r = plan.routers[parseRouterName(router, plan.routers.length) - 1]!;
    const t0 = Date.now();
    log(`${r.name}: ${opts.hard ? 'power cut' : 'shutting down'}…`);
    await (opts.hard ? killRouter(state, r) : stopRouter(state, r));
    const t1 = Date.now();
    log(`${r.name}: stopped in ${secs(t1 - t0)}; booting…`);
    await powerOn(paths, state, plan, r);
    const wan1 = faultOf(state, r, 'wan1');
    await waitRouterReady(state, r, { expectDhcp: !wan1.linkDown && wan1.lossPct < 50 });
    const res = { router: r.name, stopMs: t1 - t0, bootMs: Date.now() - t1 };
    log(`${r.name}: up again in ${secs(res.bootMs)}`);
    return res;
  });
}

export interface FaultResult {
  router: string;
  wan: Wan;
  faults: string;
}

export function labFault(router: string, wan: Wan, action: FaultAction, opts: LabOptions = {}): Promise<FaultResult> {
  return withLab(opts, async ({ paths, log, state, plan }) => {
    const r = plan.routers[parseRouterName(router, plan.routers.length) - 1]!;
    const want = withAction(faultOf(state, r, wan), action);
    await applyFault(paths, state, r, wan, want);
    const res = { router: r.name, wan, faults: describeFault(want) };
    log(`${r.name} ${wan}: faults now ${res.faults}`);
    return res;
  });
}

const RENEW_GAP_MS = 3_000;

export interface GatewayResult {
  router: string;
  from: string;
  to: string;
  ms: number;
}

/**
 * ISP1's DHCP server starts handing out the other ISP1 address as gateway (or `to`), and the router
 * asks for its lease again at once, the way its DHCP client does that (renewScript); resolves when
 * its main table follows.
 */
export function labGateway(router: string, wan: Wan, to?: 'primary' | 'alternate', opts: LabOptions = {}): Promise<GatewayResult> {
  if (wan !== 'wan1') throw new EdgeError('USAGE', `${wan} is static (only wan1 gets its gateway by DHCP)`);
  return withLab(opts, async ({ paths, log, state, plan }) => {
    const r = plan.routers[parseRouterName(router, plan.routers.length) - 1]!;
    const cur = state.gateways[r.name] ?? 'primary';
    const next = to ?? (cur === 'primary' ? 'alternate' : 'primary');
    const t0 = Date.now();
    state.gateways[r.name] = next;
    writeState(paths, state);
    writeDhcpOptions(paths, state, r);
    if (!reloadDhcp(state, r)) ensureDhcp(paths, state, r);
    const want = gatewayOf(r, next);
    const leader = requireLeader(state, r);
    // A renewal is asked for again only after RENEW_GAP_MS: dhcpcd starts its exchange afresh at each
    // request (IPv6 first), so asking every half second would keep it from ever finishing one.
    let asked = 0;
    await waitFor(`${r.name} to take gateway ${want} on ${ROUTER_IFS.wan1}`, 30_000, async () => {
      const d = (await mainDefaults(r)).find((x) => x.dev === ROUTER_IFS.wan1);
      if (d?.gateway === want) return true;
      if (Date.now() - asked < RENEW_GAP_MS) return undefined;
      asked = Date.now();
      await routerRun(leader, ['bash', '-c', renewScript(routerKind(state, r))], { allowFail: true, timeoutMs: 20_000 });
      return undefined;
    }, 500);
    const res = { router: r.name, from: gatewayOf(r, cur), to: want, ms: Date.now() - t0 };
    log(`${r.name} wan1: ISP1 now hands out gateway ${want}; the router's main table follows (${secs(res.ms)})`);
    return res;
  });
}

export interface PrefixResult {
  router: string;
  wan: Wan;
  from: string;
  to: string;
  ms: number;
}

/**
 * The ISP renumbers the router: its DHCPv6 server delegates the other prefix (or `to`) from now on,
 * and the router's WAN link reconnects, as it does when an ISP renumbers (a PPPoE redial, a modem
 * restart); resolves when the router's DHCPv6 client has the new prefix.
 */
export function labPrefix(router: string, wan: Wan, to?: 'primary' | 'alternate', opts: LabOptions = {}): Promise<PrefixResult> {
  return withLab(opts, async ({ paths, log, state, plan }) => {
    const r = plan.routers[parseRouterName(router, plan.routers.length) - 1]!;
    const kind = routerKind(state, r);
    const from = delegatedPrefix(state, r, wan);
    const cur = delegationOf(state, r, wan);
    const next = to ?? (cur === 'primary' ? 'alternate' : 'primary');
    const leader = requireLeader(state, r);
    const ifname = ROUTER_IFS[wan];
    const has = async (p: string) => {
      const out = (await routerRun(leader, ['bash', '-c', DELEGATED], { allowFail: true, timeoutMs: 10_000 })).stdout;
      return out.split('\n').filter((l) => l.startsWith(`${ifname} `)).at(-1) === `${ifname} ${p}`;
    };
    // the ISP delegates that prefix already: nothing to renumber (the router has it or is being given it)
    if (next === cur) return { router: r.name, wan, from, to: from, ms: 0 };
    if (dhcpClientOf(kind) !== 'systemd-networkd')
      throw new EdgeError(
        'USAGE',
        `${r.name} (${kindName(kind)}): the lab renumbers systemd-networkd routers only (dhcpcd gets no delegated prefix here; dhclient -6 was seen to hang releasing a prefix the restarted server did not know)`,
      );
    const t0 = Date.now();
    state.prefixes[r.name] = { ...state.prefixes[r.name], [wan]: next };
    writeState(paths, state);
    await restartDhcpd6(paths, state, r, wan);
    const want = delegatedPrefix(state, r, wan);
    await routerRun(leader, ['bash', '-c', reconnect6Script(ifname)], { allowFail: true, timeoutMs: 20_000 });
    await waitFor(`${r.name} to be delegated ${want} on ${ifname}`, 30_000, async () => (await has(want)) || undefined, 500);
    const res = { router: r.name, wan, from, to: want, ms: Date.now() - t0 };
    log(`${r.name} ${wan}: the ISP now delegates ${want} (was ${from}); the router has it (${secs(res.ms)})`);
    return res;
  });
}

/** What a router's DHCPv6 clients were delegated: the router library's own reader. */
const DELEGATED = shellCall('lib.sh', 'delegated_prefixes');

// ---------------------------------------------------------------- exec, probe

export function labTarget(target: string, opts: LabOptions = {}): { target: ExecTarget; state: LabState; plan: LabPlan } {
  requireRoot();
  const { paths } = ctx(opts);
  const { state, plan } = loadLab(paths);
  return { target: parseExecTarget(target, plan), state, plan };
}

/** argv in one of the lab's other namespaces, with no more capabilities than its router's root has (caps.ts). */
function inLabNetns(state: LabState, plan: LabPlan, t: { ns: string; router?: number }, argv: string[]): string[] {
  return withCapsOnly(boundingSet(requireLeader(state, plan.routers[(t.router ?? 1) - 1]!)), ['ip', 'netns', 'exec', t.ns, ...argv]);
}

/** Run a command interactively in a lab target (stdio inherited); resolves to its exit code. */
export async function labExec(target: string, argv: string[], opts: LabOptions = {}): Promise<number> {
  if (argv.length === 0) throw new EdgeError('USAGE', 'no command given (use: edge lab exec TARGET -- CMD ...)');
  const { target: t, state, plan } = labTarget(target, opts);
  if (t.kind === 'router') return routerExecInteractive(requireLeader(state, plan.routers[t.router - 1]!), argv);
  const [cmd, ...args] = inLabNetns(state, plan, t, argv);
  return spawnInherit(cmd!, args);
}

/** Run a command in a lab target and capture its output (for tests and scripts; throws on failure unless allowFail). */
export async function labRun(target: string, argv: string[], opts: LabOptions & RunOptions = {}): Promise<RunResult> {
  const { target: t, state, plan } = labTarget(target, opts);
  if (t.kind === 'router') return routerRun(requireLeader(state, plan.routers[t.router - 1]!), argv, opts);
  const [cmd, ...args] = inLabNetns(state, plan, t, argv);
  return run(cmd!, args, opts);
}

export async function labProbe(router: string, opts: LabOptions & ProbeOptions = {}): Promise<ProbeResult> {
  requireRoot();
  const { paths } = ctx(opts);
  const { plan } = loadLab(paths);
  const r = plan.routers[parseRouterName(router, plan.routers.length) - 1]!;
  return runProbe(paths, plan, r, opts);
}

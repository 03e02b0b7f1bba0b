/**
 * The lab's state file and directories.
 *
 * Layout (instance 0; instance K uses /var/lib/edge-lab-K):
 *   /var/lib/edge-lab/state.json         every object created (written BEFORE it is created) and every PID
 *   /var/lib/edge-lab/lock               PID of the lab command holding the lab
 *   /var/lib/edge-lab/ssh/               lab client key (id_ed25519) and known_hosts
 *   /var/lib/edge-lab/routers/rN/upper/  the router's overlay upper dir (its disk: survives reboots)
 *   /var/lib/edge-lab/routers/rN/console.log
 *   /var/lib/edge-lab/run/               pid files, dnsmasq leases and options, helper scripts, logs
 * The root filesystem cache lives under /var/cache/edge-lab (see rootfs.ts).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { EdgeError } from '../errors.js';
import type { RouterKind, RouterPlan } from './plan.js';
import { DEFAULT_KIND, NET_SETUPS, RELEASES, labPrefix } from './plan.js';
import type { DaemonSpec } from './sys.js';
import { cmdline, endProcess, isOurs, readPidFile, sleep, startDaemon } from './sys.js';

export interface LabPaths {
  instance: number;
  prefix: string;
  stateDir: string;
  stateFile: string;
  lockFile: string;
  sshDir: string;
  key: string;
  knownHosts: string;
  runDir: string;
  routersDir: string;
  cacheDir: string;
}

export function labPaths(instance = labInstance()): LabPaths {
  const stateDir = instance === 0 ? '/var/lib/edge-lab' : `/var/lib/edge-lab-${instance}`;
  return {
    instance,
    prefix: labPrefix(instance),
    stateDir,
    stateFile: join(stateDir, 'state.json'),
    lockFile: join(stateDir, 'lock'),
    sshDir: join(stateDir, 'ssh'),
    key: join(stateDir, 'ssh', 'id_ed25519'),
    knownHosts: join(stateDir, 'ssh', 'known_hosts'),
    runDir: join(stateDir, 'run'),
    routersDir: join(stateDir, 'routers'),
    cacheDir: '/var/cache/edge-lab',
  };
}

/**
 * Where `lab up` writes the lab's inventory, and so what `-i lab` means: inventories/lab.yaml
 * (cwd) for the default lab, the state dir for other instances.
 */
export function defaultInventoryPath(paths: LabPaths): string {
  return paths.instance === 0 ? resolve('inventories/lab.yaml') : join(paths.stateDir, 'lab.yaml');
}

/** EDGE_LAB_INSTANCE selects an isolated lab (own prefix, state dir and management subnet); default 0. */
export function labInstance(): number {
  const v = process.env.EDGE_LAB_INSTANCE;
  if (v === undefined || v === '') return 0;
  const n = Number(v);
  labPrefix(n); // validates
  return n;
}

export function routerDir(paths: LabPaths, name: string): string {
  return join(paths.routersDir, name);
}

// ---------------------------------------------------------------- the state file

const procSchema = z.object({
  /** What the process is: nspawn (router container), dnsmasq, whoami, latency, the ISPs' radvd and dhcpd -6. */
  role: z.enum(['nspawn', 'dnsmasq', 'whoami', 'latency', 'radvd', 'dhcpd6']),
  pidFile: z.string(),
  pid: z.number().int().optional(),
  /** A string its /proc/PID/cmdline must contain before the lab signals it. */
  match: z.string().min(8),
  log: z.string(),
});
export type ProcRecord = z.infer<typeof procSchema>;

export const faultStateSchema = z.object({
  linkDown: z.boolean().default(false),
  /** The ISP's IPv4 and IPv6 default routes blackholed (upstream-cut sets both). */
  upstreamCut: z.boolean().default(false),
  upstreamCut6: z.boolean().default(false),
  lossPct: z.number().int().min(0).max(100).default(0),
  latencyMs: z.number().int().min(0).default(0),
});
export type FaultState = z.infer<typeof faultStateSchema>;
export const NO_FAULT: FaultState = { linkDown: false, upstreamCut: false, upstreamCut6: false, lossPct: 0, latencyMs: 0 };

export const stateSchema = z.object({
  version: z.literal(1),
  instance: z.number().int(),
  prefix: z.string(),
  routers: z.number().int(),
  /** The image of a lab made before routers had kinds (every router bookworm-networkd); see images. */
  rootfs: z.string().optional(),
  /** Kind name → the cached image its routers boot. */
  images: z.record(z.string(), z.string()).default({}),
  /** Router name → its kind (a router of a lab made before kinds existed is bookworm-networkd). */
  kinds: z.record(z.string(), z.object({ release: z.enum(RELEASES), net: z.enum(NET_SETUPS) })).default({}),
  upStartedAt: z.string().optional(),
  upFinishedAt: z.string().optional(),
  /** Network namespaces created, or about to be (recorded first). */
  netns: z.array(z.string()).default([]),
  /** Root-namespace links (the bridge and the mgmt veths). */
  links: z.array(z.string()).default([]),
  procs: z.record(z.string(), procSchema).default({}),
  faults: z.record(z.string(), z.object({ wan1: faultStateSchema, wan2: faultStateSchema })).default({}),
  /** Which ISP1 address the DHCP server hands out as the router's gateway. */
  gateways: z.record(z.string(), z.enum(['primary', 'alternate'])).default({}),
  /** Which prefix each ISP delegates to the router by DHCPv6 (`lab prefix` flips it). */
  prefixes: z.record(z.string(), z.partialRecord(z.enum(['wan1', 'wan2']), z.enum(['primary', 'alternate']))).default({}),
});
export type LabState = z.infer<typeof stateSchema>;

export function emptyState(paths: LabPaths, routers: number): LabState {
  return {
    version: 1,
    instance: paths.instance,
    prefix: paths.prefix,
    routers,
    netns: [],
    links: [],
    procs: {},
    faults: {},
    gateways: {},
    prefixes: {},
    images: {},
    kinds: {},
  };
}

export function routerKind(state: LabState, r: RouterPlan): RouterKind {
  return { ...(state.kinds[r.name] ?? DEFAULT_KIND) };
}

export function readState(paths: LabPaths): LabState | undefined {
  if (!existsSync(paths.stateFile)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(paths.stateFile, 'utf8'));
  } catch (e) {
    throw new EdgeError('LAB', `${paths.stateFile} is not valid JSON`, { cause: e, hint: 'run `edge lab down` to clean up' });
  }
  const r = stateSchema.safeParse(raw);
  if (!r.success)
    throw new EdgeError('LAB', `${paths.stateFile} does not look like lab state: ${r.error.issues[0]?.message}`, {
      hint: 'run `edge lab down` to clean up',
    });
  return r.data;
}

/** Atomic: temp file + rename (a killed command leaves either the old or the new state). */
export function writeState(paths: LabPaths, state: LabState): void {
  mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
  const tmp = `${paths.stateFile}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, paths.stateFile);
}

/** Add to a list in the state and save — call BEFORE creating the object. */
export function recordObjects(paths: LabPaths, state: LabState, kind: 'netns' | 'links', names: string[]): void {
  const have = new Set(state[kind]);
  const add = names.filter((n) => !have.has(n));
  if (add.length === 0) return;
  state[kind].push(...add);
  writeState(paths, state);
}

// ---------------------------------------------------------------- recorded processes

/** The PID of a recorded process if it runs and is still ours (recorded PID or its pid file; command line checked). */
export function livePid(rec: ProcRecord | undefined): number | undefined {
  if (!rec) return undefined;
  for (const pid of [rec.pid, readPidFile(rec.pidFile)]) if (isOurs(pid, rec.match)) return pid;
  return undefined;
}

/** Record the process (and its pid file) in the state, start it, record its PID. */
export function startRecorded(
  paths: LabPaths,
  state: LabState,
  id: string,
  rec: Omit<ProcRecord, 'pid'>,
  spec: Omit<DaemonSpec, 'pidFile' | 'log'>,
): number {
  mkdirSync(paths.runDir, { recursive: true });
  const r: ProcRecord = { ...rec };
  state.procs[id] = r;
  writeState(paths, state); // recorded before it exists
  r.pid = startDaemon({ ...spec, pidFile: rec.pidFile, log: rec.log });
  writeState(paths, state);
  return r.pid;
}

/** End a recorded process (only by its recorded PID, only if its command line still matches). */
export async function endRecorded(rec: ProcRecord | undefined, graceMs?: number): Promise<boolean> {
  if (!rec) return false;
  return endProcess(livePid(rec), rec.match, graceMs);
}

// ---------------------------------------------------------------- the lock

/**
 * One lab command at a time changes the lab. The lock file holds the holder's PID; a lock whose
 * holder is gone (a killed `up`) is taken over.
 */
const heldHere = new Set<string>();

export async function acquireLock(
  path: string,
  opts: { waitMs?: number; log?: (s: string) => void } = {},
): Promise<() => void> {
  const until = Date.now() + (opts.waitMs ?? 600_000);
  let told = false;
  mkdirSync(join(path, '..'), { recursive: true, mode: 0o700 });
  for (;;) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      heldHere.add(path);
      return () => {
        heldHere.delete(path);
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder: number | undefined;
    try {
      holder = Number(readFileSync(path, 'utf8').trim()) || undefined;
    } catch {
      continue; // released between our open and read
    }
    const stale = holder === undefined || (holder === process.pid ? !heldHere.has(path) : cmdline(holder) === undefined);
    if (stale) {
      // the holder is gone (a killed command), or the file was left by an earlier process with our PID
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() >= until)
      throw new EdgeError('LAB', `another lab command (pid ${holder}) holds ${path}`, { hint: 'wait for it to finish' });
    if (!told) opts.log?.(`waiting for another lab command (pid ${holder}) to finish…`);
    told = true;
    await sleep(250);
  }
}

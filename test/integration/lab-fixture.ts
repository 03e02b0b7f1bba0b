/**
 * The shared lab for integration tests (root only).
 *
 *   const lab = await ensureLab();          // 3 routers r1-r3, booted once, reused by every test file
 *   lab.inventory                           // inventories/lab.yaml (strict host keys: lab.paths.knownHosts)
 *   await lab.run('r1', ['ip', 'route'])    // a command inside a router / r1-lan / r1-isp1 / r1-isp2 / inet
 *   await lab.probe('r1')                   // which WAN new flows from r1's LAN leave by
 *
 * ensureLab is idempotent and cheap when the lab is up (`lab up` reconciles in well under a second);
 * it never shrinks a running lab. The shared lab stays up from one test file to the next, and
 * test/integration/global-setup.ts removes it when the run ends if this run started it (EDGE_KEEP_LAB=1
 * keeps it for the next local run; a lab that was already up is never removed by the tests). `state` is a snapshot taken by ensureLab. A test that breaks routers must undo
 * what it did (faults: lab.fault(r, wan, { kind: 'clear' })).
 *
 * `instance` (1-9) gives a test its own isolated lab (prefix elabK-, management 198.18.K.0/24, state
 * /var/lib/edge-lab-K, inventory in that state dir) that cannot disturb the shared one; such a test
 * must call labDown({ instance }) when done. The lab's own tests use instances 1 and 2.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { FaultAction } from '../../src/lab/faults.js';
import type { LabOptions, UpResult } from '../../src/lab/lab.js';
import { labDown as down, labFault, labGateway, labPrefix, labProbe, labReboot, labRun, labUp, loadLab } from '../../src/lab/lab.js';
import type { LabPlan, RouterKind, RouterPlan, Wan } from '../../src/lab/plan.js';
import type { ProbeOptions, ProbeResult } from '../../src/lab/probe.js';
import type { LabPaths, LabState } from '../../src/lab/state.js';
import { labPaths, readState } from '../../src/lab/state.js';
import type { RunOptions, RunResult } from '../../src/lab/sys.js';

export const isRoot = process.getuid?.() === 0;

export interface Lab {
  instance: number;
  state: LabState;
  plan: LabPlan;
  paths: LabPaths;
  /** The inventory file `lab up` wrote. */
  inventory: string;
  router(name: string): RouterPlan;
  /** A command in a lab target, output captured (throws on a non-zero exit unless allowFail). */
  run(target: string, argv: string[], opts?: RunOptions): Promise<RunResult>;
  probe(router: string, opts?: ProbeOptions): Promise<ProbeResult>;
  fault(router: string, wan: Wan, action: FaultAction): Promise<void>;
  gateway(router: string, to?: 'primary' | 'alternate'): Promise<void>;
  /** The ISP renumbers: it delegates its other prefix (or `to`), the router's WAN link reconnects. */
  prefix(router: string, wan: Wan, to?: 'primary' | 'alternate'): Promise<void>;
  /** Graceful shutdown and boot; `hard`: a power cut (the container killed, nothing shut down) and boot. */
  reboot(router: string, opts?: { hard?: boolean }): Promise<void>;
  /** `ssh` arguments for a router with strict host-key checking against the lab's known_hosts. */
  sshArgs(router: string): string[];
}

/** Lab progress goes to stderr only when EDGE_LAB_VERBOSE is set (vitest output stays readable). */
const log = (s: string) => {
  if (process.env.EDGE_LAB_VERBOSE) process.stderr.write(`[lab] ${s}\n`);
};

function wrap(instance: number, up: Pick<UpResult, 'inventory'>): Lab {
  const paths = labPaths(instance);
  const { state, plan } = loadLab(paths);
  const o: LabOptions = { instance, log };
  const router = (name: string) => {
    const r = plan.routers.find((x) => x.name === name);
    if (!r) throw new Error(`no router ${name} in the lab (r1-r${plan.routers.length})`);
    return r;
  };
  return {
    instance,
    state,
    plan,
    paths,
    inventory: up.inventory,
    router,
    run: (target, argv, opts = {}) => labRun(target, argv, { ...o, ...opts }),
    probe: (r, opts = {}) => labProbe(r, { ...o, ...opts }),
    fault: async (r, wan, action) => {
      await labFault(r, wan, action, o);
    },
    gateway: async (r, to) => {
      await labGateway(r, 'wan1', to, o);
    },
    prefix: async (r, wan, to) => {
      await labPrefix(r, wan, to, o);
    },
    reboot: async (r, opts = {}) => {
      await labReboot(r, { ...o, ...opts });
    },
    sshArgs: (name) => [
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${paths.knownHosts}`,
      '-o', 'ConnectTimeout=10',
      '-i', paths.key,
      `root@${router(name).mgmt.address}`,
    ],
  };
}

/**
 * The shared lab's instance: 0 unless EDGE_TEST_LAB_INSTANCE names another, so two checkouts can run
 * their integration tests side by side on one machine without sharing routers.
 */
export const SHARED_INSTANCE = Number(process.env.EDGE_TEST_LAB_INSTANCE ?? 0);

/** Where ensureLab records the test run that started a lab (global-setup removes only that run's lab). */
export function labOwnerFile(instance = SHARED_INSTANCE): string {
  return join(labPaths(instance).stateDir, 'test-run');
}

/**
 * Bring the lab up (once; a running lab is reconciled, never shrunk) and describe it. `kinds`: the
 * routers' release and network setup (see labUp); by default every router keeps its kind.
 */
export async function ensureLab(routers = 3, opts: { instance?: number; kinds?: RouterKind[] } = {}): Promise<Lab> {
  const instance = opts.instance ?? SHARED_INSTANCE;
  const have = readState(labPaths(instance))?.routers ?? 0;
  const up = await labUp({ routers: Math.max(routers, have), instance, kinds: opts.kinds, log });
  // A lab started from nothing by this run is this run's to remove at the end (global-setup.ts).
  if (have === 0) writeFileSync(labOwnerFile(instance), `${inject('edgeTestRun')}\n`);
  return wrap(instance, up);
}

/** Remove the lab (default: the shared one). */
export async function labDown(opts: { instance?: number } = {}): Promise<void> {
  await down({ instance: opts.instance ?? SHARED_INSTANCE, log });
}

/** What of a lab is left on the host: namespaces, root links, mounts, live processes, state dir. */
export async function labLeftovers(instance = SHARED_INSTANCE): Promise<{
  netns: string[];
  links: string[];
  mounts: string[];
  processes: string[];
  cgroups: string[];
  stateDir: boolean;
}> {
  const { netnsList, linkNames, cmdline, processesRootedUnder } = await import('../../src/lab/sys.js');
  const { existsSync, readFileSync, readdirSync } = await import('node:fs');
  const { labCgroups } = await import('../../src/lab/cgroup.js');
  const paths = labPaths(instance);
  const mine = (s: string) => s.includes(`${paths.prefix}-`) || s.includes(`${paths.stateDir}/`);
  const processes: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d) || Number(d) === process.pid) continue;
    const c = cmdline(Number(d)); // undefined for zombies and exited processes
    if (c && mine(c)) processes.push(`${d} ${c}`);
  }
  // A router container whose nspawn is gone shows only `/usr/lib/systemd/systemd`: found by its overlay.
  for (const pid of processesRootedUnder(paths.routersDir)) processes.push(`${pid} (in a lab router's root) ${cmdline(pid) ?? ''}`);
  return {
    netns: (await netnsList()).filter((n) => n.startsWith(`${paths.prefix}-`)),
    links: (await linkNames(null)).filter((n) => n.startsWith(`${paths.prefix}-`)),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(mine),
    processes,
    cgroups: labCgroups(paths.prefix),
    stateDir: existsSync(paths.stateDir),
  };
}

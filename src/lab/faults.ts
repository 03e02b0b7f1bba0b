/**
 * Faults on demand, all made in the ISP's namespace (the router sees them as a real router would):
 *
 *   link-down     ISP side of the link down: the router's wanX loses carrier
 *   upstream-cut  link stays up, the ISP's default routes (IPv4 and IPv6) become blackholes
 *                 (silent loss onward); upstream-cut4 and upstream-cut6 cut one family only, as an
 *                 ISP whose IPv6 (or IPv4) core fails while the other works
 *   loss PCT      nftables in the ISP drops PCT % of the packets the router sends onward and,
 *                 independently, PCT % of those coming back (both directions, as on a bad line)
 *   latency MS    the ISP routes the router's packets through a tun device whose reader holds each
 *                 packet MS ms (this kernel has no netem); the round trip grows by MS
 *   clear         all of the above undone
 *
 * Faults combine (loss and latency together, a cut on a lossy link…). The wanted state is kept in
 * the lab state; applying it is idempotent, so `lab up` can re-apply it after a restart.
 * `faultSteps` (pure) turns a wanted state into commands; `applyFault` runs them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeError } from '../errors.js';
import type { RouterPlan, Wan } from './plan.js';
import { ISP_DELAY_TABLE, ISP_IFS, ispOf } from './plan.js';
import { LATENCY_PY } from './render.js';
import type { FaultState, LabPaths, LabState } from './state.js';
import { NO_FAULT, endRecorded, livePid, startRecorded, writeState } from './state.js';
import { cmdline, inNetns, ipBatch, linkNames, waitFor } from './sys.js';

export type FaultAction =
  | { kind: 'link-down' }
  | { kind: 'upstream-cut' }
  | { kind: 'upstream-cut4' }
  | { kind: 'upstream-cut6' }
  | { kind: 'loss'; pct: number }
  | { kind: 'latency'; ms: number }
  | { kind: 'clear' };

export const MAX_LATENCY_MS = 10_000;

/** `link-down`, `upstream-cut`, `upstream-cut6`, `loss 30`, `latency 200`, `clear` → an action (usage errors otherwise). */
export function parseFaultAction(words: string[]): FaultAction {
  const [kind, arg, ...rest] = words;
  const num = (what: string, max: number): number => {
    if (arg === undefined || !/^[0-9]+$/.test(arg) || Number(arg) > max)
      throw new EdgeError('USAGE', `${kind} needs ${what} (an integer 0-${max}), got '${arg ?? ''}'`);
    return Number(arg);
  };
  const noArg = () => {
    if (arg !== undefined) throw new EdgeError('USAGE', `${kind} takes no argument, got '${arg}'`);
  };
  if (rest.length > 0) throw new EdgeError('USAGE', `unexpected '${rest.join(' ')}'`);
  switch (kind) {
    case 'link-down':
    case 'upstream-cut':
    case 'upstream-cut4':
    case 'upstream-cut6':
    case 'clear':
      noArg();
      return { kind };
    case 'loss':
      return { kind, pct: num('a percentage', 100) };
    case 'latency':
      return { kind, ms: num('milliseconds', MAX_LATENCY_MS) };
    default:
      throw new EdgeError('USAGE', `expected a fault: link-down | upstream-cut | upstream-cut4 | upstream-cut6 | loss PCT | latency MS | clear, got '${words.join(' ')}'`);
  }
}

export function withAction(s: FaultState, a: FaultAction): FaultState {
  switch (a.kind) {
    case 'link-down':
      return { ...s, linkDown: true };
    case 'upstream-cut':
      return { ...s, upstreamCut: true, upstreamCut6: true };
    case 'upstream-cut4':
      return { ...s, upstreamCut: true };
    case 'upstream-cut6':
      return { ...s, upstreamCut6: true };
    case 'loss':
      return { ...s, lossPct: a.pct };
    case 'latency':
      return { ...s, latencyMs: a.ms };
    case 'clear':
      return { ...NO_FAULT };
  }
}

export function describeFault(s: FaultState): string {
  const parts = [
    s.linkDown && 'link down',
    s.upstreamCut && s.upstreamCut6 && 'upstream cut',
    s.upstreamCut && !s.upstreamCut6 && 'IPv4 upstream cut',
    !s.upstreamCut && s.upstreamCut6 && 'IPv6 upstream cut',
    s.lossPct > 0 && `loss ${s.lossPct}%`,
    s.latencyMs > 0 && `latency +${s.latencyMs} ms`,
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'none';
}

export const FAULT_TABLE = 'elab_fault';
export const DELAY_RULE_PREF = 100;

export interface FaultSteps {
  ns: string;
  /** Cleanup first (`ip -force -batch`: an absent rule is not an error)… */
  ipCleanup: string[];
  /** …then these (`ip -batch`, every line must succeed), and the IPv6 ones (`ip -6 -batch`; cleanup too). */
  ip: string[];
  ip6: string[];
  /** The ISP namespace's own nftables table for loss (replaced atomically; deleted when no loss). */
  nft: string;
  /** The latency delayer: running with this delay, or stopped (0). */
  latencyMs: number;
}

/** Pure: the commands that make the ISP of `wan` match the wanted fault state. */
export function faultSteps(r: RouterPlan, wan: Wan, s: FaultState): FaultSteps {
  const isp = ispOf(r, wan);
  const delay = (family: '' | '-6') =>
    s.latencyMs > 0
      ? [
          ...(family ? [] : [`link set ${ISP_IFS.delay} up`]),
          `route replace default dev ${ISP_IFS.delay} table ${ISP_DELAY_TABLE}`,
          `rule add pref ${DELAY_RULE_PREF} iif ${ISP_IFS.down} lookup ${ISP_DELAY_TABLE}`,
        ]
      : [];
  const ip = [
    `link set ${ISP_IFS.down} ${s.linkDown ? 'down' : 'up'}`,
    s.upstreamCut ? 'route replace blackhole default' : `route replace default via ${isp.uplink.inet} dev ${ISP_IFS.up}`,
    ...delay(''),
  ];
  const ip6 = [
    s.upstreamCut6 ? 'route replace blackhole default' : `route replace default via ${isp.v6.uplink.inet} dev ${ISP_IFS.up}`,
    // a link set down loses its IPv6 address and the routes through it: both come back with it
    ...(s.linkDown
      ? []
      : [
          `addr replace ${isp.v6.gateway}/64 dev ${ISP_IFS.down} nodad`,
          ...[isp.v6.delegated, isp.v6.altDelegated].map((p) => `route replace ${p} via ${isp.v6.routerLinkLocal} dev ${ISP_IFS.down}`),
        ]),
    ...delay('-6'),
  ];
  const nft = [
    `table inet ${FAULT_TABLE}`,
    `delete table inet ${FAULT_TABLE}`,
    ...(s.lossPct > 0
      ? [
          `table inet ${FAULT_TABLE} {`,
          '  chain forward {',
          '    type filter hook forward priority 0; policy accept;',
          // both directions, each on its own draw: a round trip fails with 1 - (1 - PCT %)²
          `    iifname "${ISP_IFS.down}" ${s.lossPct < 100 ? `numgen random mod 100 < ${s.lossPct} ` : ''}counter drop`,
          `    oifname "${ISP_IFS.down}" ${s.lossPct < 100 ? `numgen random mod 100 < ${s.lossPct} ` : ''}counter drop`,
          '  }',
          '}',
        ]
      : []),
  ].join('\n');
  const ipCleanup = [`rule del pref ${DELAY_RULE_PREF}`];
  return { ns: isp.ns, ipCleanup, ip, ip6, nft: nft + '\n', latencyMs: s.latencyMs };
}

export function latencyProcId(r: RouterPlan, wan: Wan): string {
  return `${r.name}-${wan}-latency`;
}

export function faultOf(state: LabState, r: RouterPlan, wan: Wan): FaultState {
  return state.faults[r.name]?.[wan] ?? { ...NO_FAULT };
}

/** Make the ISP match the wanted fault state, and record it. */
export async function applyFault(paths: LabPaths, state: LabState, r: RouterPlan, wan: Wan, want: FaultState): Promise<void> {
  const steps = faultSteps(r, wan, want);
  const id = latencyProcId(r, wan);
  const rec = state.procs[id];
  const pid = livePid(rec);
  const running = pid !== undefined;
  const runningMs = running ? Number(new RegExp(` ${ISP_IFS.delay} ([0-9]+)`).exec(cmdline(pid) ?? '')?.[1] ?? NaN) : NaN;
  if (running && (want.latencyMs === 0 || runningMs !== want.latencyMs)) await endRecorded(rec);
  if (want.latencyMs > 0 && !(running && runningMs === want.latencyMs)) {
    const script = join(paths.runDir, 'latency.py');
    writeFileSync(script, LATENCY_PY);
    const argv = ['--ns=' + steps.ns, ISP_IFS.delay, String(want.latencyMs)];
    startRecorded(
      paths,
      state,
      id,
      {
        role: 'latency',
        pidFile: join(paths.runDir, `${id}.pid`),
        match: `${script} --ns=${steps.ns} `,
        log: join(paths.runDir, `${id}.log`),
      },
      { argv: ['ip', 'netns', 'exec', steps.ns, '/usr/bin/python3', '-u', script, ...argv] },
    );
    await waitFor(`the latency device in ${steps.ns}`, 10_000, async () =>
      (await linkNames(steps.ns)).includes(ISP_IFS.delay) ? true : undefined,
    );
  }
  await ipBatch(steps.ns, steps.ipCleanup, { force: true });
  await ipBatch(steps.ns, steps.ipCleanup, { force: true, family: 6 });
  await ipBatch(steps.ns, steps.ip);
  await ipBatch(steps.ns, steps.ip6, { family: 6 });
  await inNetns(steps.ns, 'nft', ['-f', '-'], { input: steps.nft });
  state.faults[r.name] = { wan1: faultOf(state, r, 'wan1'), wan2: faultOf(state, r, 'wan2'), [wan]: want };
  writeState(paths, state);
}

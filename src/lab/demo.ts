/**
 * `edge lab demo`: the whole story on real routers, with timings.
 *   lab up → `edge run playbooks/failover.yaml -i lab` (a child process of this same CLI; skipped
 *   with a note while the playbook does not exist) → probe r1 → cut WAN1 upstream → probe until new
 *   flows leave by WAN2 → restore → probe until they are back on WAN1 → timeline.
 * The lab is left up afterwards (`edge lab down` removes it).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Log, UpOptions } from './lab.js';
import { labFault, labProbe, labUp } from './lab.js';
import type { Via } from './probe.js';
import { formatProbe } from './probe.js';
import { sleep } from './sys.js';

export interface DemoOptions extends UpOptions {
  router?: string;
  /** Seconds to wait for each switch (default 90). */
  timeoutS?: number;
  playbook?: string;
  /** How to run this CLI (default: this process's node, its loader flags and script). */
  cli?: string[];
}

export interface DemoEvent {
  atMs: number;
  what: string;
}

export interface DemoResult {
  events: DemoEvent[];
  playbook: 'applied' | 'failed' | 'missing';
  /** ms from the cut until new flows left by WAN2 (undefined: not seen within the timeout). */
  failoverMs?: number;
  /** ms from the restore until new flows were back on WAN1. */
  failbackMs?: number;
}

function runChild(argv: string[]): Promise<number> {
  return new Promise((res) => {
    const c = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
    c.on('error', () => res(127));
    c.on('close', (code) => res(code ?? 1));
  });
}

export async function labDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const log: Log = opts.log ?? ((s) => console.log(s));
  const router = opts.router ?? 'r1';
  const timeoutMs = (opts.timeoutS ?? 90) * 1000;
  const t0 = Date.now();
  const events: DemoEvent[] = [];
  const event = (what: string) => {
    events.push({ atMs: Date.now() - t0, what });
    log(`[+${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);
  };

  const up = await labUp({ ...opts, log });
  event(`lab up: ${up.plan.routers.length} routers (${(up.ms / 1000).toFixed(1)} s)`);

  const playbook = opts.playbook ?? 'playbooks/failover.yaml';
  let applied: DemoResult['playbook'] = 'missing';
  if (existsSync(resolve(playbook))) {
    const cli = opts.cli ?? [process.execPath, ...process.execArgv, process.argv[1]!];
    const inv = up.paths.instance === 0 ? 'lab' : up.inventory;
    const ta = Date.now();
    const code = await runChild([...cli, 'run', playbook, '-i', inv]);
    applied = code === 0 ? 'applied' : 'failed';
    event(`edge run ${playbook} -i ${inv}: ${code === 0 ? 'ok' : `exit ${code}`} (${((Date.now() - ta) / 1000).toFixed(1)} s)`);
  } else {
    event(`${playbook} does not exist yet: edge's failover is not installed; the routers run as Debian ships them (no forwarding, no NAT)`);
  }

  const probe = async () => labProbe(router, { ...opts, count: 2, timeoutMs: 1_500 });
  const base = await probe();
  log(formatProbe(base));
  event(`baseline: new flows from ${router}'s LAN leave via ${base.via}`);
  // Without forwarding/NAT on the router (edge's failover not applied) nothing can switch: show
  // each step once instead of polling for the full timeout.
  const passes = base.via !== 'none';
  if (!passes) log(`  (no flow answered: ${router} does not forward or NAT LAN traffic until edge's failover is applied)`);

  const waitVia = async (want: Via, since: number): Promise<number | undefined> => {
    let last = '';
    for (let first = true; first || (passes && Date.now() - since < timeoutMs); first = false) {
      const p = await probe();
      if (p.via !== last) log(`  probe: new flows via ${p.via}`);
      last = p.via;
      if (p.via === want) return Date.now() - since;
      await sleep(500);
    }
    return undefined;
  };

  await labFault(router, 'wan1', { kind: 'upstream-cut' }, { ...opts, log: () => {} });
  const cut = Date.now();
  event(`cut ${router}'s WAN1 upstream (link stays up; ISP1 blackholes onward traffic)`);
  const failoverMs = await waitVia('wan2', cut);
  event(
    failoverMs === undefined
      ? `no switch: new flows did not leave via wan2${passes ? ` within ${timeoutMs / 1000} s` : ''}`
      : `new flows leave via wan2, ${(failoverMs / 1000).toFixed(1)} s after the cut`,
  );

  await labFault(router, 'wan1', { kind: 'clear' }, { ...opts, log: () => {} });
  const restored = Date.now();
  event(`restored ${router}'s WAN1`);
  const failbackMs = await waitVia('wan1', restored);
  event(
    failbackMs === undefined
      ? `new flows did not come back to wan1${passes ? ` within ${timeoutMs / 1000} s` : ''}`
      : `new flows back on wan1, ${(failbackMs / 1000).toFixed(1)} s after the restore`,
  );

  log('\ntimeline:');
  for (const e of events) log(`  +${(e.atMs / 1000).toFixed(1).padStart(6)} s  ${e.what}`);
  log('\nthe lab is still up: try `edge lab status`, `edge lab probe r1`; remove it with `edge lab down`');
  return { events, playbook: applied, failoverMs, failbackMs };
}

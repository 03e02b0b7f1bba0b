/**
 * The lab's internet: one namespace holding the health-check targets and the whoami TCP service
 * (host node, run with `ip netns exec elab-inet`), which answers each connection with the source
 * address:port it saw — after the router's NAT (or NPTv6), that address tells which WAN a flow
 * left by. It listens on an IPv4 and an IPv6 address (the same port).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPlan } from './plan.js';
import { WHOAMI_JS } from './render.js';
import type { LabPaths, LabState } from './state.js';
import { endRecorded, livePid, startRecorded } from './state.js';
import { cmdline } from './sys.js';

export const WHOAMI_PROC = 'whoami';

export function whoamiScript(paths: LabPaths): string {
  return join(paths.runDir, 'whoami.mjs');
}

export function whoamiPid(state: LabState): number | undefined {
  return livePid(state.procs[WHOAMI_PROC]);
}

/** Start whoami unless it runs already on both families (one from before the lab had IPv6 is restarted). */
export async function ensureWhoami(paths: LabPaths, state: LabState, plan: LabPlan): Promise<void> {
  const pid = whoamiPid(state);
  if (pid !== undefined && cmdline(pid)?.includes(plan.whoami6.address)) return;
  await endRecorded(state.procs[WHOAMI_PROC]);
  mkdirSync(paths.runDir, { recursive: true });
  const script = whoamiScript(paths);
  writeFileSync(script, WHOAMI_JS);
  startRecorded(
    paths,
    state,
    WHOAMI_PROC,
    { role: 'whoami', pidFile: join(paths.runDir, 'whoami.pid'), match: script, log: join(paths.runDir, 'whoami.log') },
    { argv: ['ip', 'netns', 'exec', plan.inetNs, process.execPath, script, String(plan.whoami.port), plan.whoami.address, plan.whoami6.address] },
  );
}

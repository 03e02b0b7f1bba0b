/**
 * The lab's internet: one namespace holding the health-check targets and the whoami TCP service
 * (host node, run with `ip netns exec elab-inet`), which answers each connection with the source
 * address:port it saw — after the router's NAT, that address tells which WAN a flow left by.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabPlan } from './plan.js';
import { WHOAMI_JS } from './render.js';
import type { LabPaths, LabState } from './state.js';
import { livePid, startRecorded } from './state.js';

export const WHOAMI_PROC = 'whoami';

export function whoamiScript(paths: LabPaths): string {
  return join(paths.runDir, 'whoami.mjs');
}

export function whoamiPid(state: LabState): number | undefined {
  return livePid(state.procs[WHOAMI_PROC]);
}

export function ensureWhoami(paths: LabPaths, state: LabState, plan: LabPlan): void {
  if (whoamiPid(state) !== undefined) return;
  mkdirSync(paths.runDir, { recursive: true });
  const script = whoamiScript(paths);
  writeFileSync(script, WHOAMI_JS);
  startRecorded(
    paths,
    state,
    WHOAMI_PROC,
    { role: 'whoami', pidFile: join(paths.runDir, 'whoami.pid'), match: script, log: join(paths.runDir, 'whoami.log') },
    { argv: ['ip', 'netns', 'exec', plan.inetNs, process.execPath, script, plan.whoami.address, String(plan.whoami.port)] },
  );
}

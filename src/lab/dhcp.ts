/**
 * ISP1's DHCP server: dnsmasq (DHCP only, DNS off) in the router's ISP1 namespace, serving the
 * router's wan1 with a 2-minute lease whose router option is ISP1's address. `lab gateway` rewrites
 * the option file, SIGHUPs dnsmasq (it re-reads --dhcp-optsfile) and makes the router renew.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RouterPlan } from './plan.js';
import { dhcpOptions, dnsmasqArgs } from './render.js';
import type { LabPaths, LabState } from './state.js';
import { endRecorded, livePid, startRecorded } from './state.js';

function files(paths: LabPaths, r: RouterPlan) {
  const base = join(paths.runDir, `${r.name}-isp1`);
  return { leases: `${base}.leases`, opts: `${base}.dhcp-opts`, pid: `${base}.dnsmasq.pid`, log: `${base}.dnsmasq.log` };
}

export function dhcpProcId(r: RouterPlan): string {
  return `${r.name}-dhcp`;
}

export function dhcpPid(state: LabState, r: RouterPlan): number | undefined {
  return livePid(state.procs[dhcpProcId(r)]);
}

export function writeDhcpOptions(paths: LabPaths, state: LabState, r: RouterPlan): void {
  writeFileSync(files(paths, r).opts, dhcpOptions(r, state.gateways[r.name] ?? 'primary'));
}

/** Start the DHCP server unless it runs already. */
export function ensureDhcp(paths: LabPaths, state: LabState, r: RouterPlan): void {
  if (dhcpPid(state, r) !== undefined) return;
  mkdirSync(paths.runDir, { recursive: true });
  const f = files(paths, r);
  writeDhcpOptions(paths, state, r);
  startRecorded(
    paths,
    state,
    dhcpProcId(r),
    { role: 'dnsmasq', pidFile: `${f.pid}.wrapper`, match: `--dhcp-leasefile=${f.leases}`, log: f.log },
    { argv: ['ip', 'netns', 'exec', r.isp1.ns, ...dnsmasqArgs(r, f)] },
  );
}

export async function stopDhcp(state: LabState, r: RouterPlan): Promise<void> {
  await endRecorded(state.procs[dhcpProcId(r)]);
}

/** Make a running dnsmasq re-read its option file. */
export function reloadDhcp(state: LabState, r: RouterPlan): boolean {
  const pid = dhcpPid(state, r);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGHUP');
  return true;
}

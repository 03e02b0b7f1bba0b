/**
 * The ISPs' IPv6 service, as a dual-stack ISP runs it on the customer link: radvd sends router
 * advertisements (the link's /64 for SLAAC, M flag), ISC dhcpd in DHCPv6 mode hands out an address
 * and delegates a /56 (prefix delegation). Both run in each ISP namespace of each router.
 *
 * dnsmasq (ISP1's IPv4 DHCP server) cannot delegate prefixes, hence dhcpd -6. Its lease file is
 * emptied at each start: the one prefix it may delegate must go to the router as it boots now,
 * not stay bound to the DUID of a router image that was replaced.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IspLink, RouterPlan, Wan } from './plan.js';
import { ISP_IFS, WANS, ispOf } from './plan.js';
import { dhcpd6Conf, radvdConf } from './render.js';
import type { LabPaths, LabState } from './state.js';
import { endRecorded, livePid, startRecorded } from './state.js';

type Daemon = 'radvd' | 'dhcpd6';

function files(paths: LabPaths, r: RouterPlan, wan: Wan, d: Daemon) {
  const base = join(paths.runDir, `${r.name}-${wan}.${d}`);
  return { conf: `${base}.conf`, pid: `${base}.pid`, leases: `${base}.leases`, log: `${base}.log` };
}

export function isp6ProcId(r: RouterPlan, wan: Wan, d: Daemon): string {
  return `${r.name}-${wan}-${d}`;
}

/** Which prefix an ISP delegates now (`lab prefix` flips it). */
export function delegationOf(state: LabState, r: RouterPlan, wan: Wan): 'primary' | 'alternate' {
  return state.prefixes[r.name]?.[wan] ?? 'primary';
}

export function delegatedPrefix(state: LabState, r: RouterPlan, wan: Wan): string {
  const v6 = ispOf(r, wan).v6;
  return delegationOf(state, r, wan) === 'primary' ? v6.delegated : v6.altDelegated;
}

function argv(d: Daemon, isp: IspLink, f: ReturnType<typeof files>): string[] {
  if (d === 'radvd') return ['radvd', '--nodaemon', `--config=${f.conf}`, `--pidfile=${f.pid}`, '--logmethod=stderr'];
  return ['dhcpd', '-6', '-d', '-cf', f.conf, '-lf', f.leases, '-pf', f.pid, ISP_IFS.down];
}

function start(paths: LabPaths, state: LabState, r: RouterPlan, wan: Wan, d: Daemon): void {
  const id = isp6ProcId(r, wan, d);
  if (livePid(state.procs[id]) !== undefined) return;
  mkdirSync(paths.runDir, { recursive: true });
  const f = files(paths, r, wan, d);
  const isp = ispOf(r, wan);
  writeFileSync(f.conf, d === 'radvd' ? radvdConf(isp) : dhcpd6Conf(isp, delegationOf(state, r, wan)), { mode: 0o644 });
  // dhcpd refuses to start while its pid file names a live process: after a reboot that pid may be
  // anyone's by now (the old dhcpd is gone: livePid said so above).
  if (d === 'dhcpd6') {
    writeFileSync(f.leases, '');
    rmSync(f.pid, { force: true });
  }
  startRecorded(
    paths,
    state,
    id,
    { role: d, pidFile: `${f.pid}.wrapper`, match: f.conf, log: f.log },
    { argv: ['ip', 'netns', 'exec', isp.ns, ...argv(d, isp, f)] },
  );
}

/** Start both ISPs' radvd and dhcpd unless they run already. */
export function ensureIsp6(paths: LabPaths, state: LabState, r: RouterPlan): void {
  for (const wan of WANS) for (const d of ['radvd', 'dhcpd6'] as const) start(paths, state, r, wan, d);
}

export async function stopIsp6(state: LabState, r: RouterPlan): Promise<void> {
  await Promise.all(WANS.flatMap((w) => (['radvd', 'dhcpd6'] as const).map((d) => endRecorded(state.procs[isp6ProcId(r, w, d)]))));
}

/** The ISP delegates another prefix from now on: its DHCPv6 server starts again with it (dhcpd has no reload). */
export async function restartDhcpd6(paths: LabPaths, state: LabState, r: RouterPlan, wan: Wan): Promise<void> {
  await endRecorded(state.procs[isp6ProcId(r, wan, 'dhcpd6')]);
  start(paths, state, r, wan, 'dhcpd6');
}

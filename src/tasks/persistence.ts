import { z } from 'zod';
import type { Facts } from '../facts/types.js';
import { routerProgram } from '../render/router-programs.js';
import { renderEdgeNftUnit, renderEdgeRoutesUnit, renderIfupdownHook, renderNetworkdDropIn } from '../render/units.js';
import { shQuote } from '../encode/index.js';
import type { Change, Task, TaskContext } from './contract.js';
import { fileAbsent, fileChange, type DesiredFile } from './file-change.js';
import { PATHS, UNITS } from './paths.js';
import { disableChange, unitsChange } from './units.js';
import { notPlanned, resolveTopology } from './wan.js';
import { resolveIpv6, type Ipv6Plan } from './ipv6.js';
import { NATIVE_CHOICES, renderRadvdConf, renderRadvdNativeConf, renderRadvdUnit, type NativeChoice } from '../render/radvd.js';
import { taskParams } from './params.js';

/**
 * Why a monitor rather than per-manager hooks: routes and rules disappear for reasons no single
 * hook sees — the kernel flushes a table's route when its link goes down, systemd-networkd removes
 * rules and routes it did not create whenever it (re)configures a link, a DHCP client replaces the
 * main default route on a new lease. `ip monitor` sees every one of them whatever caused it, and the
 * same code runs on systemd-networkd and ifupdown hosts (and at boot, with either WAN down).
 */

const usesNetworkd = (f: Pick<Facts, 'networkManager'>) => f.networkManager === 'systemd-networkd' || f.networkManager === 'netplan';

const RADVD_NATIVE: Record<NativeChoice, string> = { wan1: PATHS.radvdWan1, wan2: PATHS.radvdWan2, both: PATHS.radvdBoth };
const RADVD_FILES = [PATHS.radvdConf, PATHS.radvdUnit, ...Object.values(RADVD_NATIVE)];

/**
 * IPv6 routed by edge: radvd advertises the LAN prefix (translated), or both ISPs' (native: a file
 * per choice: edge-failover picks one on a switch, edge-routes when radvd starts); otherwise its
 * files are absent.
 */
function radvdFiles(v6: Ipv6Plan | undefined, lan: string): { want: DesiredFile[]; absent: string[] } {
  const want: DesiredFile[] =
    v6?.mode === 'translated'
      ? [
          { path: PATHS.radvdConf, content: renderRadvdConf({ lan, prefix: v6.lanPrefix }), mode: '0644' },
          { path: PATHS.radvdUnit, content: renderRadvdUnit({ conf: PATHS.radvdConf, pidFile: PATHS.radvdPid }), mode: '0644' },
        ]
      : v6?.mode === 'native'
        ? [
            ...NATIVE_CHOICES.map((choice) => ({
              path: RADVD_NATIVE[choice],
              content: renderRadvdNativeConf({ lan, prefixes: [v6.wan1.mapped!, v6.wan2.mapped!], choice }),
              mode: '0644',
            })),
            { path: PATHS.radvdUnit, content: renderRadvdUnit({ conf: PATHS.radvdRun, pidFile: PATHS.radvdPid, choose: { program: PATHS.edgeRoutes, record: PATHS.radvdChoice } }), mode: '0644' },
          ]
        : [];
  return { want, absent: RADVD_FILES.filter((p) => !want.some((f) => f.path === p)) };
}

export function persistenceFiles(facts: Pick<Facts, 'networkManager'>): { want: DesiredFile[]; absent: string[] } {
  const want: DesiredFile[] = [
    { path: PATHS.edgeRoutes, content: routerProgram('edge-routes'), mode: '0750' },
    { path: PATHS.edgeRoutesUnit, content: renderEdgeRoutesUnit({ script: PATHS.edgeRoutes, conf: PATHS.routingConf }), mode: '0644' },
    { path: PATHS.edgeNftUnit, content: renderEdgeNftUnit({ ruleset: PATHS.nftRuleset, failoverScript: PATHS.edgeFailover }), mode: '0644' },
  ];
  const absent: string[] = [];
  const hook = renderIfupdownHook({ script: PATHS.edgeRoutes });
  for (const path of [PATHS.ifupHook, PATHS.ifdownHook]) {
    if (facts.networkManager === 'ifupdown') want.push({ path, content: hook, mode: '0755' });
    else absent.push(path);
  }
  if (usesNetworkd(facts)) want.push({ path: PATHS.networkdDropIn, content: renderNetworkdDropIn(), mode: '0644' });
  else absent.push(PATHS.networkdDropIn);
  return { want, absent };
}

const params = taskParams.persistence;

export const persistenceTask: Task<z.infer<typeof params>> = {
  name: 'persistence',
  description: 'edge-routes monitor and edge-nftables at boot: tables, rules and ruleset come back by themselves',
  params,
  needs() {
    return {
      files: [PATHS.edgeRoutes, PATHS.edgeRoutesUnit, PATHS.edgeNftUnit, PATHS.ifupHook, PATHS.ifdownHook, PATHS.networkdDropIn, ...RADVD_FILES],
      units: [UNITS.edgeRoutes, UNITS.edgeNft, UNITS.edgeRadvd],
    };
  },
  // Which hooks are wanted depends on the network manager; what each holds does not.
  expectedFiles: () => [...persistenceFiles({ networkManager: 'ifupdown' }).want, ...persistenceFiles({ networkManager: 'systemd-networkd' }).want],
  plan({ vars, facts }: TaskContext) {
    const r = resolveTopology(vars, facts);
    if (!r.ok) return notPlanned(r.missing);
    const base = persistenceFiles(facts);
    const v6 = resolveIpv6(vars, facts, r.topology);
    const radvd = radvdFiles(v6, r.topology.lan.ifname);
    const want = [...base.want, ...radvd.want];
    const absent = [...base.absent, ...radvd.absent];
    const changes: Change[] = [];
    const changed = new Set<string>();
    for (const f of want) {
      const c = fileChange(facts, f);
      if (c) {
        changes.push(c);
        changed.add(f.path);
      }
    }
    for (const path of absent) {
      const c = fileAbsent(facts, path);
      if (c) changes.push(c);
    }
    // Translated IPv6 turned off while edge's radvd runs (or is enabled): its files alone going
    // would leave it advertising the LAN prefix. It stops before edge-routes restarts (the units
    // phase keeps the order of the changes). The router never configures its own LAN from its
    // radvd (the input chain drops its own advertisements, goodbye included); edge-routes' stop
    // (stop6) still removes what one heard before that rule was loaded (an older edge's radvd).
    const leaving = radvd.want.length ? null : disableChange(facts, UNITS.edgeRadvd, 'IPv6 is off');
    if (leaving) changes.push(leaving);
    const units = unitsChange(
      facts,
      [
        // radvd first: a rollback stops units in this order (and before it restores the ruleset), so
        // its goodbye advertisement meets the input chain's guard and edge-routes' stop comes last.
        ...(radvd.want.length ? [{ name: UNITS.edgeRadvd, restart: radvd.want.some((f) => changed.has(f.path)) }] : []),
        { name: UNITS.edgeRoutes, restart: changed.has(PATHS.edgeRoutes) || changed.has(PATHS.edgeRoutesUnit) || leaving !== null },
        { name: UNITS.edgeNft, restart: changed.has(PATHS.edgeNftUnit) },
      ],
      changed.has(PATHS.edgeRoutesUnit) || changed.has(PATHS.edgeNftUnit) || changed.has(PATHS.radvdUnit) || radvd.absent.some((p) => facts.files[p]?.exists),
    );
    if (units) changes.push(units);
    const notes = changed.has(PATHS.networkdDropIn)
      ? ['systemd-networkd reads the new ManageForeignRoutingPolicyRules=no at its next start; until then edge-routes restores any rule it removes']
      : undefined;
    return notes ? { changes, notes } : { changes };
  },
  verify() {
    return [UNITS.edgeRoutes, UNITS.edgeNft]
      .map((u) => `systemctl is-active --quiet ${shQuote(u)} || edge_fail ${shQuote(`${u} is not active: journalctl -u ${u}`)}`)
      .join('\n');
  },
};

import { z } from 'zod';
import type { Facts } from '../facts/types.js';
import { routerProgram } from '../render/router-programs.js';
import { renderEdgeNftUnit, renderEdgeRoutesUnit, renderIfupdownHook, renderNetworkdDropIn } from '../render/units.js';
import { shQuote } from '../encode/index.js';
import type { Change, Task, TaskContext } from './contract.js';
import { fileAbsent, fileChange, type DesiredFile } from './file-change.js';
import { PATHS, UNITS } from './paths.js';
import { unitsChange } from './units.js';
import { notPlanned, resolveTopology } from './wan.js';
import { taskParams } from './params.js';

/**
 * Why a monitor rather than per-manager hooks: routes and rules disappear for reasons no single
 * hook sees — the kernel flushes a table's route when its link goes down, systemd-networkd removes
 * rules and routes it did not create whenever it (re)configures a link, a DHCP client replaces the
 * main default route on a new lease. `ip monitor` sees every one of them whatever caused it, and the
 * same code runs on systemd-networkd and ifupdown hosts (and at boot, with either WAN down).
 */

const usesNetworkd = (f: Pick<Facts, 'networkManager'>) => f.networkManager === 'systemd-networkd' || f.networkManager === 'netplan';

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
      files: [PATHS.edgeRoutes, PATHS.edgeRoutesUnit, PATHS.edgeNftUnit, PATHS.ifupHook, PATHS.ifdownHook, PATHS.networkdDropIn],
      units: [UNITS.edgeRoutes, UNITS.edgeNft],
    };
  },
  // Which hooks are wanted depends on the network manager; what each holds does not.
  expectedFiles: () => [...persistenceFiles({ networkManager: 'ifupdown' }).want, ...persistenceFiles({ networkManager: 'systemd-networkd' }).want],
  plan({ vars, facts }: TaskContext) {
    const r = resolveTopology(vars, facts);
    if (!r.ok) return notPlanned(r.missing);
    const { want, absent } = persistenceFiles(facts);
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
    const units = unitsChange(
      facts,
      [
        { name: UNITS.edgeRoutes, restart: changed.has(PATHS.edgeRoutes) || changed.has(PATHS.edgeRoutesUnit) },
        { name: UNITS.edgeNft, restart: changed.has(PATHS.edgeNftUnit) },
      ],
      changed.has(PATHS.edgeRoutesUnit) || changed.has(PATHS.edgeNftUnit),
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

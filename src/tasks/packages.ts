import { z } from 'zod';
import { runtimeDiff } from '../render/diff.js';
import { shJoin, shQuote } from '../encode/index.js';
import type { Facts } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import type { Change, Task, TaskContext } from './contract.js';
import { resolveIpv6 } from './ipv6.js';
import { METRICS_PACKAGE } from './metrics.js';
import { resolveTopology } from './wan.js';
import { taskParams } from './params.js';
import { UNITS } from './paths.js';
import { unitsChange } from './units.js';

/** What the router needs: firewall/NAT, the failover engine, flow flushing, routing, probes (ping, and mawk: edge-probe's state machine). */
export const REQUIRED_PACKAGES = ['nftables', 'keepalived', 'conntrack', 'iproute2', 'iputils-ping', 'mawk'] as const;

/** Translated IPv6 adds radvd (router advertisements of the LAN prefix). */
export const IPV6_PACKAGES = ['radvd'] as const;

/** What this host needs: the failover design's packages, radvd for translated IPv6, and node_exporter when edge_metrics asks for it. */
export function requiredPackages(vars: HostVars, facts: Facts): string[] {
  const r = resolveTopology(vars, facts);
  const v6 = r.ok && resolveIpv6(vars, facts, r.topology).mode !== 'off';
  return [...REQUIRED_PACKAGES, ...(v6 ? IPV6_PACKAGES : []), ...(vars.edge_metrics ? [METRICS_PACKAGE] : [])];
}

/** The units the packages edge installs must run: node_exporter with edge_metrics (enabled and started, a typed change a rollback restores). */
function serviceUnits(vars: Pick<HostVars, 'edge_metrics'>): string[] {
  return vars.edge_metrics ? [UNITS.nodeExporter] : [];
}

/**
 * What check mode and the diff say a rollback does: it purges what dpkg did not have before the run,
 * found on the router around apt (src/router/pkg-state.sh), so dependencies apt pulls in go too and
 * a package that was there before never does; what the install changed under /etc is put back.
 */
export function rollbackNote(install: readonly string[]): string {
  return `rollback removes ${install.join(', ')} (and whatever apt pulls in with ${install.length > 1 ? 'them' : 'it'}: what dpkg did not have before), and puts back what their install changed under /etc`;
}

const params = taskParams.packages;

export const packagesTask: Task<z.infer<typeof params>> = {
  name: 'packages',
  description: `install what is missing of nftables, keepalived, conntrack, iproute2, iputils-ping, mawk, radvd for translated IPv6, and ${METRICS_PACKAGE} (enabled and running) with edge_metrics; upgrade only when asked`,
  params,
  needs(vars) {
    // Facts are not known yet: ask about radvd always (whether IPv6 is translated depends on them).
    return { packages: [...REQUIRED_PACKAGES, ...IPV6_PACKAGES, ...(vars.edge_metrics ? [METRICS_PACKAGE] : [])], units: serviceUnits(vars) };
  },
  plan({ vars, facts, params: p }: TaskContext<z.infer<typeof params>>) {
    const wanted = requiredPackages(vars, facts);
    const missing = wanted.filter((n) => !facts.packages[n]?.installed);
    const installed = wanted.filter((n) => facts.packages[n]?.installed);
    const upgrade = (p?.upgrade ?? vars.edge_packages_upgrade) && installed.length > 0;
    // After apt (a package's unit exists only once it is installed).
    const units = unitsChange(facts, serviceUnits(vars).map((name) => ({ name, restart: false })), false);
    const unitChanges: Change[] = units ? [units] : [];
    // Nothing to install and no upgrade asked for: no apt call at all.
    if (!missing.length && !upgrade) return { changes: unitChanges };
    const what: string[] = [];
    const before: string[] = [];
    const after: string[] = [];
    if (missing.length) {
      what.push(`install ${missing.join(', ')}`);
      after.push(...missing.map((n) => `${n} (install; a rollback removes it)`));
    }
    const notes: string[] = [];
    if (missing.length) notes.push(rollbackNote(missing));
    if (upgrade) {
      what.push(`upgrade ${installed.join(', ')}`);
      before.push(...installed.map((n) => `${n} ${facts.packages[n]?.version ?? ''}`.trim()));
      after.push(...installed.map((n) => `${n} (newest available)`));
      notes.push('an upgrade always reports a change: the facts do not know which versions the mirror has');
      notes.push('a rollback keeps upgraded versions (the old ones are not kept to go back to); it removes any package the upgrade pulls in');
    }
    return {
      changes: [
        { summary: what.join('; '), diff: runtimeDiff('packages', before, after), ops: [{ kind: 'packages', install: missing, upgrade: upgrade ? installed : [] }] },
        ...unitChanges,
      ],
      notes,
    };
  },
  verify({ vars, facts }) {
    const wanted = requiredPackages(vars, facts);
    return [
      `edge_n=$(dpkg-query -W -f '\${db:Status-Status}\\n' ${shJoin(wanted)} 2>/dev/null | grep -cx installed || true)`,
      `[ "$edge_n" = ${wanted.length} ] || edge_fail ${shQuote(`not all of ${wanted.join(', ')} are installed`)}`,
      ...serviceUnits(vars).map((u) => `systemctl is-active --quiet ${shQuote(u)} || edge_fail ${shQuote(`${u} is not active: journalctl -u ${u}`)}`),
    ].join('\n');
  },
};

import type { Facts } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import { renderMetricsConf } from '../render/conf.js';
import { routerProgram } from '../render/router-programs.js';
import { renderEdgeMetricsUnit } from '../render/units.js';
import type { Change } from './contract.js';
import { fileAbsent, type DesiredFile } from './file-change.js';
import { PATHS, UNITS } from './paths.js';
import { SYSCTL_FILE } from './sysctl.js';
import { disableChange, type WantedUnit } from './units.js';

/**
 * Metrics on the router (the failover task's part for them, edge_metrics): edge-metrics writes the
 * router's failover state into node_exporter's textfile directory every edge_metrics_interval
 * seconds; prometheus-node-exporter (installed and enabled by the packages task) serves it. With edge_metrics
 * false, whatever edge put there for metrics is removed.
 */

export const METRICS_PACKAGE = 'prometheus-node-exporter';

/** Files whose content a run decides: every file edge renders lives under /etc or /usr/local. */
export function managedFiles(): string[] {
  return [...Object.values(PATHS).filter((p) => p.startsWith('/etc/') || p.startsWith('/usr/local/')), SYSCTL_FILE].sort();
}

/** The files edge-metrics needs, or none when metrics are off. */
export function metricsFiles(vars: HostVars): DesiredFile[] {
  if (!vars.edge_metrics) return [];
  return [
    {
      path: PATHS.metricsConf,
      mode: '0644',
      content: renderMetricsConf({
        textfile: PATHS.metricsTextfile,
        interval: vars.edge_metrics_interval,
        proberUnit: UNITS.edgeProbe,
        switcherUnits: [UNITS.keepalived],
        managedFiles: managedFiles(),
        appliedFile: PATHS.metricsApplied,
      }),
    },
    { path: PATHS.edgeMetrics, mode: '0750', content: routerProgram('edge-metrics') },
    { path: PATHS.edgeMetricsUnit, mode: '0644', content: renderEdgeMetricsUnit({ script: PATHS.edgeMetrics, conf: PATHS.metricsConf }) },
  ];
}

export const METRICS_PATHS = [PATHS.metricsConf, PATHS.edgeMetrics, PATHS.edgeMetricsUnit] as const;

/** The unit metrics need running (edge-metrics, restarted when its files changed). */
export function metricsUnits(vars: HostVars, changed: ReadonlySet<string>): WantedUnit[] {
  if (!vars.edge_metrics) return [];
  return [{ name: UNITS.edgeMetrics, restart: METRICS_PATHS.some((p) => changed.has(p)) }];
}

/** With edge_metrics false: stop and disable edge-metrics, then remove its files (none if already gone). */
export function metricsRemoval(vars: HostVars, facts: Facts): Change[] {
  if (vars.edge_metrics) return [];
  const changes: Change[] = [];
  const stop =
    facts.units[UNITS.edgeMetrics]?.load !== 'not-found' &&
    disableChange(facts, UNITS.edgeMetrics, 'edge_metrics is false', [
      { kind: 'remove', path: PATHS.metricsTextfile },
      { kind: 'remove', path: PATHS.metricsApplied },
    ]);
  if (stop) changes.push(stop);
  for (const p of METRICS_PATHS) {
    const c = fileAbsent(facts, p);
    if (c) changes.push(c);
  }
  return changes;
}

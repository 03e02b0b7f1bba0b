import { z } from 'zod';
import type { HostVars } from '../inventory/vars.js';
import { renderFailoverConf, type Quality } from '../render/conf.js';
import { keepalivedTiming, renderKeepalivedConf, type Timing } from '../render/keepalived.js';
import { probeMachine, routerProgram } from '../render/router-programs.js';
import { renderEdgeProbeUnit, renderKeepalivedDropIn } from '../render/units.js';
import { shQuote } from '../encode/index.js';
import type { Change, Task, TaskContext } from './contract.js';
import { fileChange, type DesiredFile } from './file-change.js';
import { METRICS_PATHS, metricsFiles, metricsRemoval, metricsUnits } from './metrics.js';
import { createdByServices, KA_LINK, PATHS, UNITS } from './paths.js';
import { unitsChange } from './units.js';
import { notPlanned, resolveTopology } from './wan.js';
import { taskParams } from './params.js';

/** keepalived's instances: one per WAN, each with a VRID and a "lamp" address shown on edge-ka0 while it is MASTER. */
export const KA_INSTANCES = [
  { wan: 'wan1', virtualRouterId: 51, lamp: '169.254.201.11/32' },
  { wan: 'wan2', virtualRouterId: 52, lamp: '169.254.201.12/32' },
] as const;

export function failoverTiming(vars: HostVars): Timing {
  return keepalivedTiming({
    interval: vars.edge_health_interval,
    timeout: vars.edge_health_timeout,
    rise: vars.edge_health_rise,
    targets: Math.max(vars.edge_wan1_targets.length, vars.edge_wan2_targets.length),
  });
}

export function failoverFiles(vars: HostVars): DesiredFile[] {
  return [
    {
      path: PATHS.failoverConf,
      mode: '0644',
      content: renderFailoverConf({
        targets1: vars.edge_wan1_targets,
        targets2: vars.edge_wan2_targets,
        targets1v6: vars.edge_wan1_targets6,
        targets2v6: vars.edge_wan2_targets6,
        interval: vars.edge_health_interval,
        timeout: vars.edge_health_timeout,
        rise: vars.edge_health_rise,
        threshold: vars.edge_health_success_threshold,
        quality: qualityOf(vars),
        flush: vars.edge_conntrack_flush,
        tcpReset: vars.edge_tcp_reset,
        switchLog: PATHS.switchLog,
        kaLink: KA_LINK,
      }),
    },
    { path: PATHS.edgeHealth, mode: '0750', content: routerProgram('edge-health') },
    { path: PATHS.edgeProbe, mode: '0750', content: routerProgram('edge-probe') },
    { path: PATHS.edgeProbeAwk, mode: '0644', content: probeMachine() },
    { path: PATHS.edgeProbeUnit, mode: '0644', content: renderEdgeProbeUnit({ script: PATHS.edgeProbe, conf: PATHS.failoverConf }) },
    { path: PATHS.edgeFailover, mode: '0750', content: routerProgram('edge-failover') },
    { path: PATHS.keepalivedDropIn, mode: '0644', content: renderKeepalivedDropIn({ failoverScript: PATHS.edgeFailover }) },
    {
      path: PATHS.keepalivedConf,
      mode: '0644',
      content: renderKeepalivedConf({
        link: KA_LINK.a,
        instances: KA_INSTANCES.map((i) => ({ ...i })),
        runDir: PATHS.runDir,
        failoverScript: PATHS.edgeFailover,
      }),
    },
  ];
}

export function qualityOf(vars: HostVars): Quality {
  return {
    window: vars.edge_health_window,
    degradedLoss: vars.edge_health_degraded_loss,
    recoveryLoss: vars.edge_health_recovery_loss,
    degradedRtt: vars.edge_health_degraded_rtt / 1000,
    recoveryRtt: vars.edge_health_recovery_rtt / 1000,
    recoveryHold: vars.edge_health_recovery_hold,
  };
}

/** The down rule in words: a WAN is down while fewer than the threshold of its targets answer. */
export function downRule(vars: HostVars): string {
  const n = vars.edge_health_success_threshold;
  const m = Math.max(vars.edge_wan1_targets.length, vars.edge_wan2_targets.length);
  return n === 1 ? `no answer from any of the ${m} targets` : `fewer than ${n} of the ${m} targets answering`;
}

const params = taskParams.failover;

export const failoverTask: Task<z.infer<typeof params>> = {
  name: 'failover',
  description: 'edge-probe checks each WAN through its own path several times a second; keepalived follows it, switching new flows and flushing flows of a dead WAN',
  params,
  needs() {
    return {
      files: [
        PATHS.failoverConf, PATHS.edgeHealth, PATHS.edgeProbe, PATHS.edgeProbeAwk, PATHS.edgeProbeUnit, PATHS.edgeFailover,
        PATHS.keepalivedDropIn, PATHS.keepalivedConf, ...METRICS_PATHS, ...createdByServices([UNITS.edgeMetrics]),
      ],
      units: [UNITS.edgeProbe, UNITS.keepalived, UNITS.edgeMetrics],
    };
  },
  expectedFiles: (vars) => [...failoverFiles(vars), ...metricsFiles(vars)],
  plan({ vars, facts }: TaskContext) {
    const r = resolveTopology(vars, facts);
    if (!r.ok) return notPlanned(r.missing);
    const changes: Change[] = [];
    const changed = new Set<string>();
    for (const f of [...failoverFiles(vars), ...metricsFiles(vars)]) {
      // keepalived checks its configuration against the live system (its interface must exist,
      // the scripts must be there and safe): create the link, then test before installing.
      const ka = f.path === PATHS.keepalivedConf;
      const c = fileChange(facts, f, ka ? 'keepalived --config-test -f' : undefined);
      if (!c) continue;
      changed.add(f.path);
      changes.push(ka ? { ...c, ops: [{ kind: 'links', names: [KA_LINK.a, KA_LINK.b], argv: [PATHS.edgeFailover, 'link'] }, ...c.ops] } : c);
    }
    // edge-failover and edge-health are read afresh at every use. edge-probe restarts itself when
    // failover.conf changes; its script and unit need a restart. keepalived restarts only for its
    // own configuration or drop-in (a restart never flips the WAN, see keepalived.conf).
    const units = unitsChange(
      facts,
      [
        {
          name: UNITS.edgeProbe,
          restart: [PATHS.edgeProbe, PATHS.edgeProbeAwk, PATHS.edgeProbeUnit, PATHS.failoverConf].some((p) => changed.has(p)),
        },
        { name: UNITS.keepalived, restart: changed.has(PATHS.keepalivedConf) || changed.has(PATHS.keepalivedDropIn) },
        ...metricsUnits(vars, changed),
      ],
      changed.has(PATHS.keepalivedDropIn) || changed.has(PATHS.edgeProbeUnit) || changed.has(PATHS.edgeMetricsUnit),
    );
    if (units) changes.push(units);
    // edge_metrics false: edge-metrics stopped and its files removed (after the units above).
    changes.push(...metricsRemoval(vars, facts));
    if (!changes.length) return { changes };
    const t = failoverTiming(vars);
    return {
      changes,
      notes: [
        `down within ${t.fallWindow}s (${downRule(vars)} for ${vars.edge_health_timeout}s), back after ${vars.edge_health_rise}s healthy; ${t.packetsPerSecond} probes/s per WAN`,
      ],
    };
  },
  verify({ vars }) {
    return [UNITS.edgeProbe, UNITS.keepalived, ...(vars.edge_metrics ? [UNITS.edgeMetrics] : [])]
      .map((u) => `systemctl is-active --quiet ${u} || edge_fail ${shQuote(`${u} is not active: journalctl -u ${u}`)}`)
      .join('\n');
  },
};

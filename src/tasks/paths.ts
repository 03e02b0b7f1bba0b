/**
 * Every file, unit and name edge installs on a router, in one place: the tasks, the verify script
 * and the operator page (playbooks/failover.md) all refer to these.
 */
export const PATHS = {
  rtTables: '/etc/iproute2/rt_tables.d/edge.conf',
  routingConf: '/etc/edge/routing.conf',
  failoverConf: '/etc/edge/failover.conf',
  nftRuleset: '/etc/edge/edge.nft',
  edgeRoutes: '/usr/local/sbin/edge-routes',
  edgeHealth: '/usr/local/sbin/edge-health',
  edgeFailover: '/usr/local/sbin/edge-failover',
  edgeProbe: '/usr/local/sbin/edge-probe',
  /** edge-probe's state machine (mawk). */
  edgeProbeAwk: '/usr/local/lib/edge/edge-probe.awk',
  edgeRoutesUnit: '/etc/systemd/system/edge-routes.service',
  edgeNftUnit: '/etc/systemd/system/edge-nftables.service',
  edgeProbeUnit: '/etc/systemd/system/edge-probe.service',
  keepalivedConf: '/etc/keepalived/keepalived.conf',
  keepalivedDropIn: '/etc/systemd/system/keepalived.service.d/edge.conf',
  networkdDropIn: '/etc/systemd/networkd.conf.d/edge.conf',
  /** Translated IPv6: radvd's configuration and unit (router advertisements on the LAN). */
  radvdConf: '/etc/edge/radvd.conf',
  radvdUnit: '/etc/systemd/system/edge-radvd.service',
  radvdPid: '/run/edge/radvd.pid',
  /** Native IPv6: one radvd configuration per choice of prefixes (edge-failover copies one to radvdRun). */
  radvdWan1: '/etc/edge/radvd-wan1.conf',
  radvdWan2: '/etc/edge/radvd-wan2.conf',
  radvdBoth: '/etc/edge/radvd-both.conf',
  radvdRun: '/run/edge/radvd.conf',
  radvdChoice: '/run/edge/radvd.choice',
  ifupHook: '/etc/network/if-up.d/edge-routes',
  ifdownHook: '/etc/network/if-post-down.d/edge-routes',
  runDir: '/run/edge',
  /** Every switch of the preferred WAN, one line each; kept across reboots (not part of a snapshot). */
  switchLog: '/var/lib/edge/failover/switches',
  /** edge-metrics: the writer, its unit and conf (playbooks/monitoring/metrics.md lists what it writes). */
  edgeMetrics: '/usr/local/sbin/edge-metrics',
  edgeMetricsUnit: '/etc/systemd/system/edge-metrics.service',
  metricsConf: '/etc/edge/metrics.conf',
  /** Written by edge-metrics itself: the metrics (Debian's textfile directory) and the applied run's file hashes. */
  metricsTextfile: '/var/lib/prometheus/node-exporter/edge.prom',
  metricsApplied: '/var/lib/edge/metrics.applied',
} as const;

export const UNITS = {
  edgeRoutes: 'edge-routes.service',
  edgeNft: 'edge-nftables.service',
  keepalived: 'keepalived.service',
  edgeProbe: 'edge-probe.service',
  edgeRadvd: 'edge-radvd.service',
  edgeMetrics: 'edge-metrics.service',
  nodeExporter: 'prometheus-node-exporter.service',
} as const;

/**
 * Files a service edge starts writes by itself, which a rollback must therefore remove (or put
 * back): keepalived 2.3 (Debian 13) registers its route protocol with iproute2 when it starts,
 * 2.2 (Debian 12) does not. The change that starts or restarts the unit snapshots them (units.ts):
 * the router records on the spot whether each existed, so a restore removes or puts it back.
 */
export const SERVICE_CREATES: Record<string, readonly string[]> = {
  [UNITS.keepalived]: ['/etc/iproute2/rt_addrprotos.d/keepalived.conf'],
  [UNITS.edgeMetrics]: [PATHS.metricsTextfile, PATHS.metricsApplied],
};

export function createdByServices(units: readonly string[]): string[] {
  return units.flatMap((u) => SERVICE_CREATES[u] ?? []);
}

/** edge's nftables table, as "family name" (the snapshot and facts key). */
export const NFT_TABLE = 'inet edge';
/** The comment that marks `table inet edge` as edge's own (inventory-check refuses any other). */
export const NFT_COMMENT = 'managed by edge';
/** First line of every file edge renders: how an operator (and inventory-check) recognises them. */
export const MANAGED = 'Managed by edge';

/**
 * keepalived needs a real, up interface with an IPv4 address for its VRRP instances (it refuses lo:
 * defect 3). edge gives it a private veth pair: a dummy link is not available on every kernel
 * (containers cannot load modules), and adverts on the LAN would leak to other VRRP speakers.
 */
export const KA_LINK = {
  a: 'edge-ka0',
  b: 'edge-ka1',
  addrA: '169.254.201.1/30',
  addrB: '169.254.201.2/30',
} as const;

/** Links a service edge starts makes by itself: keepalived's ExecStartPre (edge-failover prepare) creates its private pair. */
const SERVICE_LINKS: Record<string, readonly string[]> = {
  [UNITS.keepalived]: [KA_LINK.a, KA_LINK.b],
};

export function linksCreatedByServices(units: readonly string[]): string[] {
  return units.flatMap((u) => SERVICE_LINKS[u] ?? []);
}

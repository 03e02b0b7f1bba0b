/**
 * systemd units, drop-ins and network-manager hooks edge installs. Paths of the scripts they run
 * are passed in, so the renderers stay free of any knowledge of where things live.
 */
import { shQuote, systemdExecPath, systemdValue } from '../encode/index.js';

/**
 * The daemons failover depends on (edge-routes, edge-probe and its switcher) run ahead of the
 * router's ordinary work, so that on a router whose CPUs are busy a WAN's table comes back and a
 * switch happens on time.
 */
const FAILOVER_PRIORITY = `# Ahead of the router's ordinary work when its CPUs are busy: competing for a CPU in the same
# control group, nice -10 gets about nine times the share of a nice 0 process. Not real time, so a
# runaway edge daemon cannot starve sshd.
Nice=-10`;

export function renderEdgeRoutesUnit(p: { script: string; conf: string }): string {
  return `# Managed by edge. Local changes are overwritten by the next edge run.
[Unit]
Description=edge: keep the per-WAN routing tables and ip rules in place
Documentation=man:ip-rule(8)
# Early: the monitor must be running before the network manager brings the WANs up, so that a
# WAN coming up (or staying down) at boot is handled like any later link change.
After=network-pre.target
Wants=network-pre.target
ConditionPathExists=${systemdValue(p.conf)}

[Service]
Type=simple
ExecStart=${systemdExecPath(p.script)} monitor
ExecStopPost=${systemdExecPath(p.script)} stop6
# SIGTERM to the script only: it ends and reaps its ip monitor itself, then exits, so nothing of
# the service is left for systemd to wait for (see monitor() in the script). The timeout is a
# backstop: if anything is ever left over, stop takes seconds, not the default 90.
KillMode=mixed
TimeoutStopSec=10
Restart=always
RestartSec=2
${FAILOVER_PRIORITY}

[Install]
WantedBy=multi-user.target
`;
}

export function renderEdgeNftUnit(p: { ruleset: string; failoverScript: string }): string {
  return `# Managed by edge. Local changes are overwritten by the next edge run.
[Unit]
Description=edge: load edge's nftables table (inet edge)
Documentation=man:nft(8)
# Like Debian's nftables.service: before any interface is configured.
DefaultDependencies=no
Before=network-pre.target shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target
# nftables.service's configuration usually starts with "flush ruleset": load after it, and again
# whenever it is restarted or reloaded, so its flush never leaves the router without edge's table.
After=nftables.service
PartOf=nftables.service
ReloadPropagatedFrom=nftables.service
ConditionPathExists=${systemdValue(p.ruleset)}

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f ${systemdExecPath(p.ruleset)}
ExecReload=/usr/sbin/nft -f ${systemdExecPath(p.ruleset)}
# Loading the file resets the preferred WAN to WAN1; put back what keepalived decided.
ExecStartPost=-${systemdExecPath(p.failoverScript)} sync
ExecReload=-${systemdExecPath(p.failoverScript)} sync

[Install]
WantedBy=sysinit.target
`;
}

export function renderKeepalivedDropIn(p: { failoverScript: string }): string {
  return `# Managed by edge. Local changes are overwritten by the next edge run.
[Unit]
# The WAN tables must exist before the first health check, or a healthy WAN looks dead.
After=edge-routes.service edge-nftables.service

[Service]
# Creates keepalived's private link (edge-ka0/edge-ka1).
ExecStartPre=${systemdExecPath(p.failoverScript)} prepare
Restart=on-failure
RestartSec=2
# SIGTERM to keepalived only: it ends its VRRP process and the check scripts itself. Signalling the
# whole group kills a health check mid-run, keepalived counts that as a failed check and runs a
# fault notification while it shuts down, which can outlive keepalived. The timeout is a backstop.
KillMode=mixed
TimeoutStopSec=10
`;
}

/** ifupdown hook (if-up.d and if-post-down.d): reconcile at once when ifupdown changes a link. */
export function renderIfupdownHook(p: { script: string }): string {
  return `#!/bin/sh
# Managed by edge. Re-applies edge's per-WAN routing when ifupdown brings an interface up or down.
# edge-routes.service does the same on every link, address and route change; this hook only makes
# the reconcile immediate on hosts managed by ifupdown.
[ -x ${shQuote(p.script)} ] || exit 0
${shQuote(p.script)} reconcile >/dev/null 2>&1 || true
exit 0
`;
}

/**
 * systemd-networkd removes every routing policy rule it did not create whenever it configures a
 * link (ManageForeignRoutingPolicyRules=yes by default, systemd 249 and later). edge-routes would
 * put them back within a second; this keeps them from going in the first place (read when
 * systemd-networkd starts).
 */
export function renderNetworkdDropIn(): string {
  return `# Managed by edge. Local changes are overwritten by the next edge run.
# Keep the ip rules edge-routes installs when systemd-networkd (re)configures a link.
[Network]
ManageForeignRoutingPolicyRules=no
`;
}

/**
 * edge-probe.service: the continuous health probing and the switcher that acts on it. Started with
 * the routing it probes through; restarted by itself (exit) when its configuration files change,
 * and by systemd's watchdog when any part of it stops or wedges.
 */
export function renderEdgeProbeUnit(p: { script: string; conf: string }): string {
  return `# Managed by edge. Local changes are overwritten by the next edge run.
[Unit]
Description=edge: probe each WAN through its own path several times a second, and switch new flows
After=edge-routes.service edge-nftables.service
Before=keepalived.service
ConditionPathExists=${systemdValue(p.conf)}
# Never give up restarting it: without edge-probe nothing measures the WANs or switches.
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=${systemdExecPath(p.script)} run
# Its switcher (edge-failover switcher, a child) sends WATCHDOG=1 once a second while both WANs'
# state machines beat: a prober, producer or switcher that is stopped (SIGSTOP) or wedged stops
# it, and systemd kills the service (after TimeoutAbortSec) and restarts it.
WatchdogSec=10
NotifyAccess=all
TimeoutAbortSec=2
Restart=always
RestartSec=1
SyslogIdentifier=edge-probe
${FAILOVER_PRIORITY}
# SIGTERM to every process of the service, not to the script alone: a stop that came while the
# script was starting its pipelines could go unheard there (bash waiting in wait4) until the
# backstop; each ping, state machine and the switcher ends on its own. The timeout is a backstop.
KillMode=control-group
TimeoutStopSec=10

[Install]
WantedBy=multi-user.target
`;
}

/** edge-metrics.service: the metrics writer, a loop that sleeps between writes. */
export function renderEdgeMetricsUnit(p: { script: string; conf: string }): string {
  return `# Managed by edge. Local changes are overwritten by the next edge run.
[Unit]
Description=edge: failover state as Prometheus metrics for node_exporter's textfile collector
After=edge-probe.service
ConditionPathExists=${systemdValue(p.conf)}
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=${systemdExecPath(p.script)} run
Restart=always
RestartSec=5
SyslogIdentifier=edge-metrics
Nice=10

[Install]
WantedBy=multi-user.target
`;
}

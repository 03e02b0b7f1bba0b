import { parsePrefix6 } from '../ipv6.js';
import { nftString, systemdValue } from '../encode/index.js';

/**
 * radvd on the LAN in translated IPv6 mode: the LAN's one stable prefix, advertised for SLAAC. The
 * prefix never changes when the WAN does (NPTv6 rewrites it on the way out), so a switch of WAN is
 * invisible to LAN hosts: no renumbering, no deprecated addresses, existing addresses keep working.
 */
export function renderRadvdConf(p: { lan: string; prefix: string }): string {
  if (!parsePrefix6(p.prefix)) throw new Error(`refusing to render ${JSON.stringify(p.prefix)} into radvd.conf as a prefix`);
  nftString(p.lan); // the same interface-name rule as everywhere edge renders one
  return `# Managed by edge: router advertisements of the LAN's IPv6 prefix (translated mode: NPTv6 to
# the WAN in use). Local changes are overwritten by the next edge run. Read by edge-radvd.service.
interface ${p.lan} {
	AdvSendAdvert on;
	MinRtrAdvInterval 30;
	MaxRtrAdvInterval 100;
	AdvDefaultLifetime 1800;
	prefix ${p.prefix} {
		AdvOnLink on;
		AdvAutonomous on;
	};
};
`;
}

export function renderRadvdUnit(p: { conf: string; pidFile: string }): string {
  return `# Managed by edge. Local changes are overwritten by the next edge run.
[Unit]
Description=edge: router advertisements of the LAN's IPv6 prefix (radvd)
Documentation=man:radvd(8) man:radvd.conf(5)
After=network.target edge-routes.service
ConditionPathExists=${systemdValue(p.conf)}

[Service]
Type=simple
ExecStart=/usr/sbin/radvd --nodaemon --config ${systemdValue(p.conf)} --pidfile ${systemdValue(p.pidFile)} --logmethod stderr_clean
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
`;
}

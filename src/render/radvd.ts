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

/** Which of the native LAN prefixes hosts may choose for new flows: WAN1's, WAN2's or both. */
export type NativeChoice = 'wan1' | 'wan2' | 'both';
export const NATIVE_CHOICES: readonly NativeChoice[] = ['wan1', 'wan2', 'both'];

/**
 * radvd on the LAN in native IPv6 mode (RFC 8475): a /64 of each ISP's prefix, for SLAAC. The
 * prefix of a WAN hosts must not use for new flows is announced with preferred lifetime 0: hosts
 * deprecate their address in it at once (RFC 4862 5.5.3 applies its two-hour rule only to the valid
 * lifetime) and choose the other for new flows (RFC 6724 rule 3), while flows already on it go on
 * as long as its WAN carries them. One file per choice; edge-failover puts the one its decision
 * needs in place and reloads radvd. DeprecatePrefix: radvd's last advertisement, when it stops (a
 * rollback, IPv6 turned off or translated), deprecates both prefixes, or hosts would keep choosing
 * an address in them for hours (their preferred lifetime) with no router to route it.
 */
export function renderRadvdNativeConf(p: { lan: string; prefixes: readonly [string, string]; choice: NativeChoice }): string {
  for (const x of p.prefixes) if (!parsePrefix6(x)) throw new Error(`refusing to render ${JSON.stringify(x)} into radvd.conf as a prefix`);
  nftString(p.lan);
  const prefix = (x: string, n: 1 | 2) => {
    const deprecated = p.choice !== 'both' && p.choice !== `wan${n}`;
    return `	prefix ${x} {
		AdvOnLink on;
		AdvAutonomous on;
		DeprecatePrefix on;${deprecated ? `
		AdvPreferredLifetime 0; # deprecated: new flows use WAN${n === 1 ? 2 : 1}` : ''}
	};`;
  };
  const uses = p.choice === 'both' ? "both WANs' prefixes" : `WAN${p.choice === 'wan1' ? 1 : 2}'s prefix`;
  return `# Managed by edge: router advertisements of both ISPs' prefixes (native IPv6), new flows on ${uses}.
# edge-failover copies the file its decision needs to /run/edge/radvd.conf and reloads edge-radvd.
# Local changes are overwritten by the next edge run.
interface ${p.lan} {
	AdvSendAdvert on;
	MinRtrAdvInterval 30;
	MaxRtrAdvInterval 100;
	AdvDefaultLifetime 1800;
${prefix(p.prefixes[0], 1)}
${prefix(p.prefixes[1], 2)}
};
`;
}

/**
 * The unit. Native mode: radvd reads the copy of the file edge-failover's decisions call for
 * (ExecStartPre `edge-routes radvd` puts it in place; at boot, before any decision, WAN1's), and
 * edge-failover replaces it and reloads radvd on a switch.
 */
export function renderRadvdUnit(p: { conf: string; pidFile: string; choose?: { program: string; record: string } }): string {
  // native: the chosen copy and its record go with radvd, or a later status would read a stale choice
  const pre = p.choose ? `ExecStartPre=${systemdValue(p.choose.program)} radvd\n` : '';
  const post = p.choose ? `ExecStopPost=/bin/rm -f ${systemdValue(p.conf)} ${systemdValue(p.choose.record)}\n` : '';
  return `# Managed by edge. Local changes are overwritten by the next edge run.
[Unit]
Description=edge: router advertisements of the LAN's IPv6 prefix${p.choose ? 'es' : ''} (radvd)
Documentation=man:radvd(8) man:radvd.conf(5)
After=network.target edge-routes.service
${p.choose ? '' : `ConditionPathExists=${systemdValue(p.conf)}
`}
[Service]
Type=simple
${pre}ExecStart=/usr/sbin/radvd --nodaemon --config ${systemdValue(p.conf)} --pidfile ${systemdValue(p.pidFile)} --logmethod stderr_clean
${post}ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
`;
}

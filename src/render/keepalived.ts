/**
 * keepalived as edge uses it: not VRRP between routers, and not in the switch path (edge-probe's
 * switcher applies each decision itself). One VRRP instance per WAN, alone on a private veth link,
 * tracking the file edge-probe writes (0 = the WAN is healthy, 1 = it is not): its notifications
 * are a second, independent trigger of edge-failover's level-triggered sync (a switcher that is
 * being restarted by its watchdog is covered), and its instances' states are a lamp per WAN an
 * operator can see (`ip addr show edge-ka0`). `weight 0` makes a non-zero value a FAULT (defect 5).
 * Stopping it changes no decision and no switch.
 */

/** keepalived's default priority for these instances. */
export const KA_PRIORITY = 100;
/** Seconds between adverts on the private link: only how soon an instance shows MASTER after a start. */
export const KA_ADVERT_INT = 1;

export interface TimingInput {
  /** Seconds between probes to each target. */
  interval: number;
  /** A WAN is down when fewer than `threshold` targets answered within this many seconds. */
  timeout: number;
  /** Seconds a WAN must stay healthy without a break before it is preferred again. */
  rise: number;
  /** Targets per WAN (the most of either WAN). */
  targets: number;
}

export interface Timing {
  /** Worst case from a WAN going silent to its instance entering FAULT: the timeout plus one probe interval. */
  fallWindow: number;
  /** From a WAN answering again to its instance leaving FAULT: the rise period plus one probe interval. */
  riseWindow: number;
  /** Probe packets per second per WAN. */
  packetsPerSecond: number;
  advertInt: number;
  /** VRRPv2 master down interval: 3 × advert_int + (256 − priority) / 256 (RFC 3768 skew). */
  masterDown: number;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

export function keepalivedTiming(t: TimingInput): Timing {
  return {
    fallWindow: round3(t.timeout + t.interval),
    riseWindow: round3(t.rise + t.interval),
    packetsPerSecond: round3(t.targets / t.interval),
    advertInt: KA_ADVERT_INT,
    masterDown: round3(3 * KA_ADVERT_INT + (256 - KA_PRIORITY) / 256),
  };
}

export interface KeepalivedInstance {
  /** "wan1": the instance name suffix and the name of edge-probe's files. */
  wan: string;
  virtualRouterId: number;
  /** Address keepalived puts on the link while the instance is MASTER: a lamp an operator can see. */
  lamp: string;
}

export interface KeepalivedModel {
  link: string;
  instances: KeepalivedInstance[];
  /** Directory of edge-probe's track files (WAN.track). */
  runDir: string;
  failoverScript: string;
}

/** keepalived.conf holds no health timing (edge-probe reads it from failover.conf): a new timing never restarts keepalived. */
export function renderKeepalivedConf(m: KeepalivedModel): string {
  const files = m.instances
    .map(
      (i) => `track_file edge_${i.wan} {
    file "${m.runDir}/${i.wan}.track"
    # weight 0: a non-zero value (edge-probe: the WAN is down) puts the instance in FAULT
    weight 0
}
`,
    )
    .join('\n');
  const instances = m.instances
    .map(
      (i) => `vrrp_instance edge_${i.wan} {
    state BACKUP
    interface ${m.link}
    dont_track_primary
    virtual_router_id ${i.virtualRouterId}
    priority ${KA_PRIORITY}
    advert_int ${KA_ADVERT_INT}
    virtual_ipaddress {
        ${i.lamp} dev ${m.link}
    }
    track_file {
        edge_${i.wan}
    }
    notify "${m.failoverScript} notify"
}
`,
    )
    .join('\n');
  return `# Managed by edge: health and WAN switching. Local changes are overwritten by the next edge run.
#
# One VRRP instance per WAN, alone on edge's private link ${m.link} (never lo, never the LAN). Each tracks
# the file edge-probe (edge-probe.service) writes for its WAN: 0 = healthy, 1 = down. keepalived sees
# a change at once (inotify): FAULT = the WAN is down, MASTER = up. Each notification runs
# ${m.failoverScript} notify, which records the state and syncs the preferred WAN from edge-probe's
# decisions (level-triggered: their order cannot matter). edge-probe switches by itself; keepalived
# is the second path and the lamp, not a part failover depends on.
#
# Timing is edge-probe's (PROBE_INTERVAL, PROBE_TIMEOUT, RISE in the failover configuration): a WAN is down
# within PROBE_TIMEOUT + PROBE_INTERVAL of its last answers, and back after RISE seconds of healthy answers
# without a break. advert_int only sets how soon an instance shows MASTER after a start (3 x advert_int).
# A (re)start of keepalived reads the file as edge-probe left it, so it never flips the WAN: a
# missing file (edge-probe has not decided yet) counts as healthy, and BACKUP at a start is ignored.

global_defs {
    enable_script_security
    script_user root
}

${files}
${instances}`;
}

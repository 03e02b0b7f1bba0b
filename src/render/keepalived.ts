/**
 * keepalived as edge uses it: not VRRP between routers, but a health-check engine with a state
 * machine that provably switches. One VRRP instance per WAN, alone on a private veth link, tracking
 * one script that probes that WAN through its own path. No weight: a failing script puts the
 * instance in FAULT (a weight would only lower its priority and the state would stay MASTER:
 * defect 5). edge-failover turns MASTER into "WAN up" and FAULT into "WAN down".
 */

/** keepalived's default priority for these instances. */
export const KA_PRIORITY = 100;

export interface TimingInput {
  /** Seconds between checks (vrrp_script interval). */
  interval: number;
  /** Per-probe timeout, seconds. */
  probeTimeout: number;
  fall: number;
  rise: number;
  priority?: number;
}

export interface Timing {
  /** vrrp_script timeout: the probes run in parallel, so one probe timeout plus start-up margin. */
  scriptTimeout: number;
  /** Worst case from a WAN dying to its instance entering FAULT: fall × interval + script timeout. */
  fallWindow: number;
  /** From a WAN recovering to its instance leaving FAULT: rise × interval. */
  riseWindow: number;
  advertInt: number;
  /** VRRPv2 master down interval: 3 × advert_int + (256 − priority) / 256 (RFC 3768 skew). */
  masterDown: number;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/**
 * Chooses advert_int so that master_down_interval exceeds the fall window. On a keepalived (re)start
 * each instance begins in BACKUP and would become MASTER after master_down_interval; because that is
 * longer than the fall window, a dead WAN's script has failed long before, so the first decisive
 * state of an instance is a real measurement and a restart never flips the WAN (defect 10).
 */
export function keepalivedTiming(t: TimingInput): Timing {
  const priority = t.priority ?? KA_PRIORITY;
  const skew = (256 - priority) / 256;
  const scriptTimeout = Math.max(1, Math.ceil(t.probeTimeout + 0.5));
  const fallWindow = round3(t.fall * t.interval + scriptTimeout);
  let advertInt = 1;
  while (3 * advertInt + skew <= fallWindow) advertInt++;
  if (advertInt > 255) throw new Error(`health timing needs advert_int ${advertInt} > 255: lower edge_health_fall or edge_health_interval`);
  return { scriptTimeout, fallWindow, riseWindow: round3(t.rise * t.interval), advertInt, masterDown: round3(3 * advertInt + skew) };
}

export interface KeepalivedInstance {
  /** "wan1": the argument edge-health gets and the instance name suffix. */
  wan: string;
  virtualRouterId: number;
  /** Address keepalived puts on the link while the instance is MASTER: a lamp an operator can see. */
  lamp: string;
}

export interface KeepalivedModel {
  link: string;
  instances: KeepalivedInstance[];
  interval: number;
  fall: number;
  rise: number;
  timing: Timing;
  healthScript: string;
  failoverScript: string;
}

export function renderKeepalivedConf(m: KeepalivedModel): string {
  const t = m.timing;
  const scripts = m.instances
    .map(
      (i) => `vrrp_script edge_health_${i.wan} {
    script "${m.healthScript} ${i.wan}"
    interval ${m.interval}
    timeout ${t.scriptTimeout}
    fall ${m.fall}
    rise ${m.rise}
    # no weight: a failing check puts the instance in FAULT (a weight would only lower priority)
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
    advert_int ${t.advertInt}
    virtual_ipaddress {
        ${i.lamp} dev ${m.link}
    }
    track_script {
        edge_health_${i.wan}
    }
    notify "${m.failoverScript} notify"
}
`,
    )
    .join('\n');
  return `# Managed by edge: health checks and WAN switching. Local changes are overwritten by the next edge run.
#
# One VRRP instance per WAN, alone on edge's private link ${m.link} (never lo, never the LAN). Each tracks
# one script that probes its WAN through that WAN's own path (mark + source address). MASTER = the
# WAN is up, FAULT = down; ${m.failoverScript} records it and switches new flows.
#
# Timing (seconds):
#   fall window    = fall x interval + script timeout = ${m.fall} x ${m.interval} + ${t.scriptTimeout} = ${t.fallWindow}
#   master down    = 3 x advert_int + (256 - priority) / 256 = 3 x ${t.advertInt} + ${round3((256 - KA_PRIORITY) / 256)} = ${t.masterDown}
#   rise window    = rise x interval = ${m.rise} x ${m.interval} = ${t.riseWindow}
# advert_int is chosen so that master down > fall window: after a (re)start an instance stays BACKUP
# longer than a dead WAN's checks take to fail, so its first decisive state (MASTER or FAULT) is a
# real measurement and restarting keepalived never flips the WAN. BACKUP is not a measurement, and
# edge-failover ignores it except when an instance leaves FAULT (the WAN passed rise checks).
# keepalived enters FAULT after ONE failed check when a script's first check fails; edge-failover
# confirms a FAULT that comes sooner than fall x interval after the start with fall - 1 more checks,
# unless the WAN was already down (a later FAULT took fall failed checks in a row and counts at once).

global_defs {
    enable_script_security
    script_user root
}

${scripts}
${instances}`;
}

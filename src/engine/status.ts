import { errorMessage } from '../errors.js';
import { parseFacts } from '../facts/parse.js';
import { MARK as FACTS_MARK, probeScript } from '../facts/probe.js';
import { mergeNeeds, type Facts, type FactNeeds } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import { NFT_FAMILY, NFT_NAME, PREFERRED_MAP, PREFERRED_MAP6 } from '../render/nftables.js';
import { AVOID_MAP, AVOID_MAP6, type PolicyMode } from '../render/nft-policy.js';
import { shQuote } from '../encode/index.js';
import type { TaskName } from '../tasks/contract.js';
import { PATHS, UNITS } from '../tasks/paths.js';
import { shellFunction } from '../router-files.js';
import type { PlannedTask } from './host-run.js';

/**
 * `edge status`, the pure part: the ONE script a router runs (its failover state AND the facts
 * probe of the playbook's tasks), the parsers of its output, and the drift check (the playbook's
 * tasks planned against those facts, locally).
 *
 * One exec's stdout holds two kinds of sections:
 *
 *   @@EDGE-STATUS@@ now            ┐ status sections (this file); parseStatus reads only these,
 *   @@EDGE-STATUS@@ map            │ and stops at its own `end` or at the first facts marker
 *   ...                            │
 *   @@EDGE-STATUS@@ end            ┘
 *   @@EDGE@@ hostname              ┐ the facts probe, unchanged (facts/probe.ts); parseFacts
 *   ...                            │ ignores everything before its first `@@EDGE@@ ` line, so the
 *   @@EDGE@@ end                   ┘ status sections never reach it
 *
 * `@@EDGE-STATUS@@ ` does not start with `@@EDGE@@ ` (the 7th character differs), so neither parser
 * can take the other's marker for its own.
 */

export const STATUS_MARK = '@@EDGE-STATUS@@';

export type WanName = 'wan1' | 'wan2';
export const WAN_NAMES: readonly WanName[] = ['wan1', 'wan2'];

/** What the status script needs from the inventory: how each WAN is marked and named. */
export interface StatusTarget {
  wans: { name: WanName; ifname?: string; mark: number; weight?: number }[];
  lan?: string;
  mode?: PolicyMode;
}

type TargetVars = Pick<
  HostVars,
  'edge_wan1_interface' | 'edge_wan2_interface' | 'edge_lan_interface' | 'edge_wan1_mark' | 'edge_wan2_mark' | 'edge_wan_mode' | 'edge_wan1_weight' | 'edge_wan2_weight'
>;

export function statusTargetOf(vars: TargetVars): StatusTarget {
  return {
    wans: [
      { name: 'wan1', ifname: vars.edge_wan1_interface, mark: vars.edge_wan1_mark, weight: vars.edge_wan1_weight },
      { name: 'wan2', ifname: vars.edge_wan2_interface, mark: vars.edge_wan2_mark, weight: vars.edge_wan2_weight },
    ],
    lan: vars.edge_lan_interface,
    mode: vars.edge_wan_mode,
  };
}

const hex = (n: number) => `0x${n.toString(16)}`;

function section(name: string, body: string): string {
  return `echo '${STATUS_MARK} ${name}'\n{ ${body}\n} 2>/dev/null || true\n`;
}

/** The files edge-failover and edge-health keep in /run/edge (tmpfs). */
const RUN_FILES = [...WAN_NAMES.flatMap((w) => ['probe', 'health', 'vrrp'].map((k) => `${w}.${k}`)), ...WAN_NAMES.map((w) => `${w}v6.probe`), 'radvd.choice'];

/**
 * The delegated prefixes the router follows that the last run did not render (an ISP renumbered
 * since): "wanN RENDERED NOW SUBNET", read the way the router's programs read them (prefix6_followed).
 */
const PREFIX6_SCRIPT = `[ -r ${shQuote(PATHS.routingConf)} ] && (
. ${shQuote(PATHS.routingConf)}
RUN_DIR=${shQuote(PATHS.runDir)}
${shellFunction('lib.sh', 'prefix6_followed')}prefix6_followed
[ "$P6_PD1" = "\${V6_PD1:-}" ] || echo "wan1 \${V6_PD1:-} $P6_PD1 $P6_SUB1"
[ "$P6_PD2" = "\${V6_PD2:-}" ] || echo "wan2 \${V6_PD2:-} $P6_PD2 $P6_SUB2"
)`;

/** The router's failover state, then the facts the tasks need: one script, one exec. Read-only. */
export function statusScript(target: StatusTarget, needs: FactNeeds): string {
  const conntrack = target.wans
    .map((w) => `printf '${w.name} %s\\n' "$({ conntrack -L -f ipv4 -m ${hex(w.mark)}; conntrack -L -f ipv6 -m ${hex(w.mark)}; } 2>/dev/null | wc -l)"`)
    .join('\n');
  const parts = [
    'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    section('now', 'date +%s'),
    section('map', `nft -j list map ${NFT_FAMILY} ${NFT_NAME} ${PREFERRED_MAP}`),
    section('map6', `nft -j list map ${NFT_FAMILY} ${NFT_NAME} ${PREFERRED_MAP6} 2>/dev/null`),
    section('nat', `nft -j list chain ${NFT_FAMILY} ${NFT_NAME} postrouting`),
    // the steering rules' counters, then the WANs new flows avoid (one JSON document per line)
    // (avoid6 only with translated IPv6)
    section(
      'policy',
      `nft -j list counters table ${NFT_FAMILY} ${NFT_NAME}; echo; nft -j list map ${NFT_FAMILY} ${NFT_NAME} ${AVOID_MAP}; echo; nft -j list map ${NFT_FAMILY} ${NFT_NAME} ${AVOID_MAP6} 2>/dev/null`,
    ),
    section(
      'run',
      `for f in ${RUN_FILES.join(' ')}; do [ -e ${shQuote(PATHS.runDir)}/"$f" ] && printf '%s %s\\n' "$f" "$(head -n 1 ${shQuote(PATHS.runDir)}/"$f")"; done; true`,
    ),
    section('prefix6', PREFIX6_SCRIPT),
    section(
      'conntrack',
      `if command -v conntrack >/dev/null; then\n${conntrack}\nprintf 'total %s\\n' "$(conntrack -C 2>/dev/null)"\nelse echo absent; fi`,
    ),
    section(
      'switches',
      // how many in the last 24 h (by the router's clock), then the last one as recorded
      `f=${shQuote(PATHS.switchLog)}; if [ -r "$f" ]; then awk -v now="$(date +%s)" '$1 + 0 >= now - 86400 { n++ } END { print "count24h", n + 0 }' "$f"; tail -n 1 "$f" | sed 's/^/last /'; fi`,
    ),
    section(
      'units',
      `for u in ${[UNITS.keepalived, UNITS.edgeProbe, UNITS.edgeRoutes, UNITS.edgeNft].join(' ')}; do printf '%s %s\\n' "$u" "$(systemctl is-active "$u" 2>/dev/null)"; done`,
    ),
    `echo '${STATUS_MARK} end'`,
  ];
  return `${parts.join('\n')}\n${probeScript(needs)}`;
}

/**
 * The status sections of one exec's output, keyed by name. Lines before the first status marker,
 * after `@@EDGE-STATUS@@ end`, and from the first facts marker on are not status output.
 */
export function splitStatusSections(out: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | undefined;
  let buf: string[] = [];
  const close = () => {
    if (current !== undefined && current !== 'end') sections.set(current, buf.join('\n'));
    current = undefined;
    buf = [];
  };
  for (const line of out.split('\n')) {
    if (line.startsWith(`${FACTS_MARK} `)) break;
    if (line.startsWith(`${STATUS_MARK} `)) {
      close();
      current = line.slice(STATUS_MARK.length + 1).trim();
      if (current === 'end') break;
    } else if (current !== undefined) buf.push(line);
  }
  close();
  return sections;
}

// ---------------------------------------------------------------------------------------------
// The model

export interface Counter {
  packets: number;
  bytes: number;
}

export interface WanStatus {
  wan: WanName;
  /** The interface from the inventory. */
  interface?: string;
  mark: string;
  /** Link state from the facts: up (carrier), down, or missing (no such interface). */
  link?: 'up' | 'down' | 'missing';
  address?: string;
  /**
   * edge-probe's decision (up/down; degraded: up but poor): unknown before its first one and while
   * edge-probe is not running (its files are stale then); down, whatever the decision, while the last check found no
   * target answering (the decision follows within the probe timeout).
   */
  state: 'up' | 'degraded' | 'down' | 'unknown';
  /** When that state was recorded (ISO), and how long ago by the router's clock. */
  since?: string;
  sinceAgoSec?: number;
  /** The last health check (edge-health): pass/fail, targets answered of probed, when. */
  check?: { result: string; answered?: number; targets?: number; at?: string; agoSec?: number };
  /** Why edge-probe decided the state (for a degraded WAN: which threshold it passed). */
  why?: string;
  /**
   * Quality over edge-probe's window, as its last second measured it: the loss (percent of probes)
   * and mean round-trip time of the WAN's best targets (see edge_health_success_threshold), absent
   * until the window is half full; good while both are within the recovery thresholds.
   */
  quality?: { lossPct?: number; rttMs?: number; good: boolean };
  /**
   * keepalived's state for this WAN's instance (MASTER, FAULT, BACKUP) as its last notification
   * recorded it, and since when; STOPPED when keepalived is not running (the last recorded state
   * is then in keepalivedLast).
   */
  keepalived?: string;
  keepalivedSince?: string;
  keepalivedLast?: string;
  /** Flows pinned to this WAN (conntrack entries with its mark). */
  flows?: number;
  /** The counter of this WAN's masquerade rule (packets NATed out of it). */
  nat?: Counter;
}

export interface Ipv6Status {
  preferred: WanName | 'unknown';
  /** Native IPv6: whose prefix LAN hosts are told to use for new flows (edge-failover's choice, in the router advertisements). */
  told?: WanName | 'both';
  wans: { wan: WanName; state: 'up' | 'degraded' | 'down' | 'unknown'; since?: string; why?: string }[];
  /** WANs whose ISP delegates another prefix than the last run rendered: the router follows it (edge-routes) until the next run renders it. */
  renumbered?: { wan: WanName; rendered: string; now: string; subnet: string }[];
}

/** The mode new LAN flows follow, what it gives each WAN now, and what the steering rules matched. */
export interface PolicyStatus {
  mode: PolicyMode;
  /** WANs new flows leave (edge-failover's avoid map): dead, or degraded while the other is good. */
  avoided: WanName[];
  /** The same for new IPv6 flows, with translated IPv6 (its own map, from the IPv6 probes). */
  avoided6?: WanName[];
  /** Balance: each WAN's weight as configured and as in effect now (0 while it is avoided). */
  weights?: { wan: WanName; configured: number; inEffect: number }[];
  /** Each steering rule, in order, and the new flows it matched (its counter's packets). */
  steering: { rule: string; newFlows: number }[];
}

/** One switch of the preferred WAN, as edge-failover recorded it on the router. */
export interface SwitchRecord {
  /** When (ISO), and how long ago by the router's clock. */
  at: string;
  agoSec?: number;
  from: WanName | 'none';
  to: WanName;
  /** How long `from` had been preferred before this switch (since the previous one). */
  heldSec?: number;
  /** Why: the WAN whose state changed, and which probes failed (or how long it was healthy). */
  why: string;
}

export interface SwitchHistory {
  /** Switches in the last 24 hours. */
  last24h: number;
  last?: SwitchRecord;
}

export interface TaskDrift {
  /** The play's name when the playbook has more than one play the host is in. */
  play?: string;
  task: TaskName;
  /** Changes a run would make now. */
  changes: number;
  summaries: string[];
  /** Why the task refuses the host (inventory-check), or why it could not be planned. */
  failures?: string[];
}

export interface Drift {
  playbook: string;
  /** Changes a run of the playbook would make now, over all tasks. */
  pending: number;
  tasks: TaskDrift[];
  /** The host is in no play of the playbook. */
  notInPlaybook?: boolean;
  /** The facts part of the output could not be read: drift unknown. */
  error?: string;
}

export interface HostStatus {
  host: string;
  address?: string;
  ok: boolean;
  error?: string;
  /** The router's clock when it answered (ISO). */
  routerTime?: string;
  /** Which WAN new LAN flows use now: the preferred_wan map element. */
  preferred?: WanName | 'unknown';
  /** The mark in the map element, as the router has it. */
  preferredMark?: string;
  /** Why preferred is unknown (table not loaded, element missing). */
  preferredNote?: string;
  wans: WanStatus[];
  flows?: { total?: number };
  /** Translated IPv6: which WAN new IPv6 LAN flows use, and each WAN's IPv6 decision (edge-probe's IPv6 probes); absent when IPv6 is not translated. */
  ipv6?: Ipv6Status;
  /** Switches of the preferred WAN recorded on the router (absent: none ever recorded). */
  switches?: SwitchHistory;
  /** systemctl is-active of keepalived, edge-probe, edge-routes and edge-nftables. */
  units: Record<string, string>;
  /** Failover is inactive when edge-probe (the prober and the switcher) is not running: why. */
  failoverInactive?: string;
  policy?: PolicyStatus;
  drift?: Drift;
  /** Remote execs this refresh cost (1, or 0 when the host was unreachable) and how long it took. */
  execs: number;
  ms: number;
}

// ---------------------------------------------------------------------------------------------
// Parsers (each takes one section's text; all are total: odd input gives "unknown", never throws)

function json(text: string | undefined): unknown {
  if (!text || !text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function nftObjects(doc: unknown): Record<string, unknown>[] {
  const list = (doc as { nftables?: unknown })?.nftables;
  return Array.isArray(list) ? (list.filter((o) => o && typeof o === 'object') as Record<string, unknown>[]) : [];
}

/** A mark as nft -j prints it: a number, or a string (decimal or 0x hex). */
function markValue(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(v.trim())) return Number(v.trim());
  return undefined;
}

/** An element key: "lan0", or {"elem": {"val": "lan0"}} as some nft versions print it. */
function elemKey(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const inner = (v as { elem?: { val?: unknown } })?.elem?.val;
  return typeof inner === 'string' ? inner : undefined;
}

/** The preferred_wan map's element for the LAN (or its only element): `nft -j list map`. */
export function parsePreferredMap(text: string | undefined, lan?: string): { mark?: number; note?: string } {
  const doc = json(text);
  if (doc === undefined) return { note: `map ${PREFERRED_MAP} not found: table ${NFT_FAMILY} ${NFT_NAME} is not loaded` };
  const map = nftObjects(doc).find((o) => o.map)?.map as { elem?: unknown[] } | undefined;
  if (!map) return { note: `map ${PREFERRED_MAP} not found: table ${NFT_FAMILY} ${NFT_NAME} is not loaded` };
  const elems = (Array.isArray(map.elem) ? map.elem : [])
    .filter((e): e is unknown[] => Array.isArray(e) && e.length === 2)
    .map((e) => ({ key: elemKey(e[0]), mark: markValue(e[1]) }));
  if (elems.length === 0) return { note: `map ${PREFERRED_MAP} is empty: new LAN flows get no WAN mark` };
  const el = lan ? elems.find((e) => e.key === lan) : elems[0];
  if (!el) return { note: `map ${PREFERRED_MAP} has no element for ${lan} (it has ${elems.map((e) => e.key).join(', ')})` };
  return el.mark === undefined ? { note: `map ${PREFERRED_MAP}: unreadable mark` } : { mark: el.mark };
}

/** The IPv6 half (translated IPv6 only: its map exists): the map's WAN and the IPv6 decisions. */
/** The prefix6 section's lines (PREFIX6_SCRIPT). */
export function parseRenumbered(text: string | undefined): NonNullable<Ipv6Status['renumbered']> {
  const p = '([0-9a-f:]+/[0-9]{1,3})';
  return (text ?? '').split('\n').flatMap((l) => {
    const m = new RegExp(`^(wan[12]) ${p} ${p} ${p}$`).exec(l.trim());
    return m ? [{ wan: m[1] as WanName, rendered: m[2]!, now: m[3]!, subnet: m[4]! }] : [];
  });
}

function parseIpv6(map6: string | undefined, run: Record<string, string[]>, target: StatusTarget, inactive: boolean, prefix6?: string): Ipv6Status | undefined {
  if (json(map6) === undefined) return undefined;
  const pref = parsePreferredMap(map6, target.lan);
  const preferred = target.wans.find((w) => pref.mark !== undefined && w.mark === pref.mark)?.name ?? 'unknown';
  const wans = target.wans.map((w) => {
    const [decision, at, ...why] = run[`${w.name}v6.probe`] ?? [];
    const state = inactive ? 'unknown' : decision === 'up' || decision === 'degraded' || decision === 'down' ? decision : 'unknown';
    const since = epochIso(at?.replace(/\.[0-9]+$/, ''));
    return { wan: w.name, state, ...(state !== 'unknown' && since ? { since } : {}), ...(why.length ? { why: why.join(' ') } : {}) } as Ipv6Status['wans'][number];
  });
  const told = run['radvd.choice']?.[0];
  const renumbered = parseRenumbered(prefix6);
  return { preferred, ...(told === 'wan1' || told === 'wan2' || told === 'both' ? { told } : {}), wans, ...(renumbered.length ? { renumbered } : {}) };
}

/** The policy section: `nft -j list counters` then `nft -j list map … avoid` (and avoid6), one document per line. */
export function parsePolicy(text: string | undefined, target: StatusTarget): PolicyStatus | undefined {
  if (!target.mode) return undefined;
  const objs = (text ?? '').split('\n').flatMap((l) => nftObjects(json(l)));
  const steering = objs
    .map((o) => o.counter as { name?: unknown; comment?: unknown; packets?: unknown } | undefined)
    .filter((c): c is { name: string; comment?: unknown; packets: number } => typeof c?.name === 'string' && /^steer_[0-9]+$/.test(c.name) && typeof c.packets === 'number')
    .sort((a, b) => Number(a.name.slice(6)) - Number(b.name.slice(6)))
    .map((c) => ({ rule: typeof c.comment === 'string' ? c.comment.replace(/^steering /, '') : c.name, newFlows: c.packets }));
  const maps = objs.map((o) => o.map as { name?: unknown; elem?: unknown } | undefined);
  const avoidedBy = (m: { elem?: unknown } | undefined) => {
    const keys = Array.isArray(m?.elem) ? m.elem.map((e) => (Array.isArray(e) ? markValue(e[0]) : undefined)) : [];
    return target.wans.filter((w) => keys.includes(w.mark)).map((w) => w.name);
  };
  const avoided = avoidedBy(maps.find((m) => m?.name === AVOID_MAP));
  const map6 = maps.find((m) => m?.name === AVOID_MAP6);
  const out: PolicyStatus = { mode: target.mode, avoided, ...(map6 ? { avoided6: avoidedBy(map6) } : {}), steering };
  if (target.mode === 'balance')
    out.weights = target.wans.map((w) => ({ wan: w.name, configured: w.weight ?? 1, inEffect: avoided.includes(w.name) ? 0 : (w.weight ?? 1) }));
  return out;
}

/** Counters of the masquerade rules of `nft -j list chain inet edge postrouting`, per WAN. */
export function parseNatCounters(text: string | undefined, target: StatusTarget): Partial<Record<WanName, Counter>> {
  const out: Partial<Record<WanName, Counter>> = {};
  for (const o of nftObjects(json(text))) {
    const rule = o.rule as { comment?: string; expr?: Record<string, unknown>[] } | undefined;
    if (!rule || !Array.isArray(rule.expr)) continue;
    const expr = rule.expr;
    if (!expr.some((e) => e && 'masquerade' in e)) continue;
    const c = expr.find((e) => e && e.counter && typeof e.counter === 'object')?.counter as Partial<Counter> | undefined;
    if (!c || typeof c.packets !== 'number' || typeof c.bytes !== 'number') continue;
    // The comment edge writes ("NAT WAN1"), else the oifname the rule matches.
    let wan: WanName | undefined;
    const m = /\bNAT WAN([12])\b/.exec(rule.comment ?? '');
    if (m) wan = `wan${m[1]}` as WanName;
    else {
      const oif = expr
        .map((e) => e?.match as { left?: { meta?: { key?: string } }; right?: unknown } | undefined)
        .find((mm) => mm?.left?.meta?.key === 'oifname')?.right;
      wan = target.wans.find((w) => w.ifname !== undefined && w.ifname === oif)?.name;
    }
    if (!wan) continue;
    const prev = out[wan];
    out[wan] = prev ? { packets: prev.packets + c.packets, bytes: prev.bytes + c.bytes } : { packets: c.packets, bytes: c.bytes };
  }
  return out;
}

/** `wan1.state up 1700000000`-style lines: file name, then its first line. */
export function parseRunFiles(text: string | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const line of (text ?? '').split('\n')) {
    const [file, ...rest] = line.trim().split(/\s+/);
    if (file && (/^wan[12](v6)?\.[a-z]+$/.test(file) || file === 'radvd.choice')) out[file] = rest;
  }
  return out;
}

/** `wan1 12` / `total 40` lines; `absent` when conntrack is not installed. */
export function parseConntrack(text: string | undefined): { absent: boolean; counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  const t = (text ?? '').trim();
  for (const line of t.split('\n')) {
    const m = /^(\S+)\s+([0-9]+)$/.exec(line.trim());
    if (m) counts[m[1]!] = Number(m[2]);
  }
  return { absent: t === 'absent', counts };
}

/** `count24h N` and `last EPOCH FROM TO HELD WHY…` (edge-failover's record). */
export function parseSwitches(text: string | undefined, now: number | undefined): SwitchHistory | undefined {
  const lines = (text ?? '').split('\n').map((l) => l.trim());
  const count = lines.map((l) => /^count24h ([0-9]+)$/.exec(l)).find(Boolean);
  if (!count) return undefined;
  const out: SwitchHistory = { last24h: Number(count[1]) };
  const m = lines.map((l) => /^last ([0-9]+)(?:\.[0-9]+)? (wan1|wan2|none) (wan1|wan2) (-|[0-9]+(?:\.[0-9]+)?) ?(.*)$/.exec(l)).find(Boolean);
  if (m) {
    const at = epochIso(m[1]);
    if (!at) return out;
    out.last = { at, from: m[2] as WanName | 'none', to: m[3] as WanName, why: m[5] ?? '' };
    const agoSec = ago(m[1], now);
    if (agoSec !== undefined) out.last.agoSec = agoSec;
    if (m[4] !== '-') out.last.heldSec = Number(m[4]);
  }
  return out;
}

export function parseUnitStates(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\S+)\s*(\S*)$/.exec(line.trim());
    if (m) out[m[1]!.replace(/\.service$/, '')] = m[2] || 'unknown';
  }
  return out;
}

const epochIso = (s: string | undefined): string | undefined =>
  s !== undefined && /^[0-9]+$/.test(s) ? new Date(Number(s) * 1000).toISOString().replace('.000Z', 'Z') : undefined;

const ago = (epoch: string | undefined, now: number | undefined): number | undefined =>
  epoch !== undefined && /^[0-9]+$/.test(epoch) && now !== undefined ? Math.max(0, now - Number(epoch)) : undefined;

/**
 * The failover part of a host's status from one exec's stdout (the facts, when parsed, add each
 * WAN's link and address). Never throws.
 */
export function parseStatus(host: string, out: string, target: StatusTarget, facts?: Facts): Omit<HostStatus, 'execs' | 'ms'> {
  const s = splitStatusSections(out);
  const nowText = (s.get('now') ?? '').trim();
  const now = /^[0-9]+$/.test(nowText) ? Number(nowText) : undefined;
  const pref = parsePreferredMap(s.get('map'), target.lan);
  const nat = parseNatCounters(s.get('nat'), target);
  const run = parseRunFiles(s.get('run'));
  const ct = parseConntrack(s.get('conntrack'));
  const units = parseUnitStates(s.get('units'));
  const switches = parseSwitches(s.get('switches'), now);
  const kaStopped = units.keepalived !== undefined && units.keepalived !== 'active';
  const healthAges = target.wans.map((w) => ago(run[`${w.name}.health`]?.[2], now));
  const inactive = failoverInactive(units, healthAges);
  const wans: WanStatus[] = target.wans.map((w) => {
    const [decision, sinceFull, ...why] = run[`${w.name}.probe`] ?? [];
    const since = sinceFull?.replace(/\.[0-9]+$/, '');
    const [result, ratio, at, , , , , loss, rtt, good] = run[`${w.name}.health`] ?? [];
    const [vrrp, vrrpAt] = run[`${w.name}.vrrp`] ?? [];
    const r = /^([0-9]+)\/([0-9]+)$/.exec(ratio ?? '');
    const iface = w.ifname ? facts?.interfaces.find((i) => i.name === w.ifname) : undefined;
    const ws: WanStatus = {
      wan: w.name,
      mark: hex(w.mark),
      state: inactive ? 'unknown' : decision === 'up' || decision === 'degraded' || decision === 'down' ? decision : 'unknown',
    };
    if (ws.state !== 'down' && ws.state !== 'unknown' && result === 'fail' && r?.[1] === '0') ws.state = 'down';
    if (w.ifname) ws.interface = w.ifname;
    if (facts && w.ifname) ws.link = !iface ? 'missing' : iface.up && iface.carrier ? 'up' : 'down';
    const addr = iface?.addresses.find((a) => a.family === 'inet' && a.scope === 'global');
    if (addr) ws.address = `${addr.address}/${addr.prefixlen}`;
    if (ws.state !== 'unknown' && epochIso(since)) {
      ws.since = epochIso(since);
      ws.sinceAgoSec = ago(since, now);
    }
    if (ws.state !== 'unknown' && why.length) ws.why = why.join(' ');
    if (good === '0' || good === '1') {
      ws.quality = { good: good === '1' };
      if (/^[0-9]+(\.[0-9]+)?$/.test(loss ?? '')) ws.quality.lossPct = Number(loss);
      if (/^[0-9]+$/.test(rtt ?? '')) ws.quality.rttMs = Number(rtt);
    }
    if (result) {
      ws.check = { result };
      if (r) Object.assign(ws.check, { answered: Number(r[1]), targets: Number(r[2]) });
      if (epochIso(at)) Object.assign(ws.check, { at: epochIso(at), agoSec: ago(at, now) });
    }
    if (kaStopped) {
      ws.keepalived = 'STOPPED';
      if (vrrp) ws.keepalivedLast = vrrp;
    } else if (vrrp) {
      ws.keepalived = vrrp;
      if (epochIso(vrrpAt)) ws.keepalivedSince = epochIso(vrrpAt);
    }
    if (!ct.absent && ct.counts[w.name] !== undefined) ws.flows = ct.counts[w.name];
    if (nat[w.name]) ws.nat = nat[w.name];
    return ws;
  });
  const preferred = pref.mark === undefined ? 'unknown' : (target.wans.find((w) => w.mark === pref.mark)?.name ?? 'unknown');
  const note =
    pref.note ??
    (preferred === 'unknown' ? `mark ${hex(pref.mark!)} is neither WAN's (${target.wans.map((w) => `${w.name} ${hex(w.mark)}`).join(', ')})` : undefined);
  // Built in the order the JSON shows it.
  const status = { host, ok: true } as Omit<HostStatus, 'execs' | 'ms'>;
  if (now !== undefined) status.routerTime = epochIso(String(now));
  status.preferred = preferred;
  if (pref.mark !== undefined) status.preferredMark = hex(pref.mark);
  if (note) status.preferredNote = note;
  status.wans = wans;
  const v6 = parseIpv6(s.get('map6'), run, target, inactive !== undefined, s.get('prefix6'));
  if (v6) status.ipv6 = v6;
  if (!ct.absent && ct.counts.total !== undefined) status.flows = { total: ct.counts.total };
  if (switches) status.switches = switches;
  status.units = units;
  if (inactive) status.failoverInactive = inactive;
  const policy = parsePolicy(s.get('policy'), target);
  if (policy) status.policy = policy;
  return status;
}

/** edge-probe writes each WAN's health every second: older than this, it is stopped or wedged. */
export const PROBE_STALE_SEC = 5;

/**
 * Why failover is not active on the router (edge-probe measures and switches), or undefined: the
 * unit is not active, or it is but has written no health line for PROBE_STALE_SEC (stopped or
 * wedged; its watchdog restarts it). `healthAges`: seconds since each WAN's last health line.
 */
export function failoverInactive(units: Record<string, string>, healthAges: readonly (number | undefined)[] = []): string | undefined {
  const p = units['edge-probe'];
  if (p === undefined) return undefined;
  const look = '(systemctl status edge-probe; journalctl -u edge-probe)';
  if (p !== 'active') return `edge-probe is ${p || 'unknown'}: nothing measures the WANs or switches new flows ${look}`;
  const ages = healthAges.filter((a): a is number => a !== undefined);
  if (ages.length && ages.every((a) => a > PROBE_STALE_SEC)) {
    return `edge-probe is running but has measured nothing for ${Math.min(...ages)}s (stopped or wedged; its watchdog restarts it) ${look}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Drift: the playbook planned against the facts of the same exec

/** One play the host is in: its tasks and the host's variables in it. */
export interface HostPlay {
  name: string;
  vars: HostVars;
  tasks: PlannedTask[];
}

/** The facts every play's tasks read, merged: one probe serves them all. */
export function statusNeeds(plays: readonly HostPlay[]): FactNeeds {
  return mergeNeeds(...plays.flatMap((p) => p.tasks.map((t) => t.task.needs(p.vars, t.params))));
}

/**
 * What a run of the playbook would change on the host now, per task: plan() is pure, so this is
 * exactly what `edge run --check` would report, without a second round trip.
 */
export function driftOf(host: string, playbook: string, plays: readonly HostPlay[], facts: Facts): Drift {
  if (plays.length === 0) return { playbook, pending: 0, tasks: [], notInPlaybook: true };
  const tasks: TaskDrift[] = [];
  for (const p of plays) {
    for (const t of p.tasks) {
      const d: TaskDrift = { task: t.task.name, changes: 0, summaries: [] };
      if (plays.length > 1) d.play = p.name;
      try {
        const plan = t.task.plan({ host, vars: p.vars, facts, params: t.params });
        d.changes = plan.changes.length;
        d.summaries = plan.changes.map((c) => c.summary);
        if (plan.failures?.length) d.failures = plan.failures;
      } catch (e) {
        d.failures = [`could not plan: ${errorMessage(e)}`];
      }
      tasks.push(d);
    }
  }
  return { playbook, pending: tasks.reduce((n, t) => n + t.changes, 0), tasks };
}

/**
 * A host's whole status from one exec's stdout: the failover sections, and — from the facts part —
 * each WAN's link and the drift against the playbook. A facts part that cannot be parsed leaves
 * the status in place and says so in the drift.
 */
export function hostStatusFrom(
  host: string,
  out: string,
  target: StatusTarget,
  plays: readonly HostPlay[],
  playbook: string,
  needs: FactNeeds,
): Omit<HostStatus, 'execs' | 'ms'> {
  let facts: Facts | undefined;
  let factsError: string | undefined;
  try {
    facts = parseFacts(host, out, needs);
  } catch (e) {
    factsError = errorMessage(e);
  }
  const status = parseStatus(host, out, target, facts);
  status.drift = facts
    ? driftOf(host, playbook, plays, facts)
    : { playbook, pending: 0, tasks: [], error: `facts could not be read: ${factsError}` };
  return status;
}

/** The host has drifted (changes pending) or the playbook refuses it. */
export function hasDrift(d: Drift | undefined): boolean {
  return d !== undefined && (d.pending > 0 || d.tasks.some((t) => t.failures?.length));
}

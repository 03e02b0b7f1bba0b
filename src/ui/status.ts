import type { Drift, HostStatus, Ipv6Status, PolicyStatus, SwitchHistory, WanStatus } from '../engine/status.js';

/**
 * `edge status` as text, one block per router:
 *
 *   r1 (198.18.4.11): new flows use WAN2 (wan2, mark 0x2)
 *     WAN   INTERFACE           STATE     SINCE  CHECK  LOSS RTT  FLOWS  NAT
 *     wan1  wan1 100.64.1.2/24  degraded  35s    3/3    41% 35ms  0      1008 B
 *     wan2  wan2 100.64.2.2/24  up        2m     3/3    0% 3ms    3      3.2 KB
 *     WAN1 degraded: loss 41 % > 30 % over the last 10 s (rtt 35 ms)
 *     flows: 27 in all
 *     units: keepalived edge-probe edge-routes edge-nftables: active
 *     drift: none (the router matches playbooks/failover.yaml, 8 tasks)
 *
 * Every line fits 80 columns: a long one is wrapped at a space, a cell that cannot be is cut
 * (`--json` has everything whole). Pure: the caller passes the statuses (and whether to colour).
 */

export interface StatusTextOptions {
  color?: boolean;
}

const paint = (on: boolean | undefined, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

/** 35s, 4m, 2h05m, 3d4h */
export function agoText(sec: number): string {
  const s = Math.max(0, Math.round(sec));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

/** An instant with its age: "21:42:20Z (35s ago)" today, "2026-11-20 21:42Z (3d0h ago)" further back. */
export function whenText(iso: string | undefined, agoSec: number | undefined): string {
  if (!iso) return '-';
  const t = agoSec !== undefined && agoSec < 86_400 ? `${iso.slice(11, 19)}Z` : `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
  return agoSec === undefined ? t : `${t} (${agoText(agoSec)} ago)`;
}

/** 1008 B, 3.2 KB, 12.5 MB */
export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function table(rows: string[][], widthOf: (s: string) => number): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => widthOf(r[c] ?? ''))));
  return rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell + ' '.repeat(widths[c]! - widthOf(cell))))
      .join('  ')
      .trimEnd(),
  );
}

// eslint-disable-next-line no-control-regex
const visibleLength = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;

/** "2% 35ms": the window's loss and RTT; "-" until judged, "100% -" with no reply to time. */
export function qualityText(q: WanStatus['quality']): string {
  if (!q || q.lossPct === undefined) return '-';
  return `${q.lossPct < 10 && q.lossPct % 1 ? q.lossPct.toFixed(1) : Math.round(q.lossPct)}% ${q.rttMs === undefined ? '-' : `${q.rttMs}ms`}`;
}

/**
 * A WAN's row. INTERFACE is the name and address, or why there is no address to show (link down,
 * interface missing); CHECK is the last second's answering targets; NAT the bytes NATed out of it.
 */
function wanRow(w: WanStatus, color: boolean | undefined): string[] {
  const state = (s: string) =>
    s === 'up' ? paint(color, '32', s) : s === 'down' ? paint(color, '31', s) : s === 'degraded' ? paint(color, '33', s) : s;
  const iface =
    w.link === 'down' || w.link === 'missing'
      ? `${w.interface ?? '?'} ${paint(color, '31', w.link === 'down' ? '(no link)' : '(missing)')}`
      : [w.interface ?? '?', w.address].filter(Boolean).join(' ');
  const check = w.check?.answered !== undefined ? `${w.check.answered}/${w.check.targets}` : (w.check?.result ?? '-');
  return [
    w.wan,
    iface,
    state(w.state),
    w.state === 'unknown' || w.sinceAgoSec === undefined ? '-' : agoText(w.sinceAgoSec),
    w.check?.result === 'fail' ? paint(color, '31', check) : check,
    qualityText(w.quality),
    w.flows === undefined ? '-' : String(w.flows),
    w.nat ? bytesText(w.nat.bytes) : '-',
  ];
}

/**
 * TEXT wrapped at spaces to lines of at most WIDTH columns, continuation lines indented by INDENT
 * more; a word longer than a line is cut. Colour codes take no columns.
 */
export function wrapText(text: string, width: number, indent = 2): string[] {
  if (visibleLength(text) <= width) return [text];
  const lead = /^ */.exec(text)![0];
  if (lead) return wrapText(text.slice(lead.length), width - lead.length, indent).map((l) => lead + l);
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/ +/)) {
    const room = width - (lines.length ? indent : 0);
    if (line && visibleLength(line) + 1 + visibleLength(word) > room) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.map((l, i) => (i ? `${' '.repeat(indent)}${fit(l, width - indent)}` : fit(l, width)));
}

/** "keepalived edge-probe: active; edge-routes: inactive": the units grouped by state. */
export function unitsText(units: Record<string, string>, color: boolean | undefined): string {
  const byState = new Map<string, string[]>();
  for (const [u, st] of Object.entries(units)) byState.set(st || 'unknown', [...(byState.get(st || 'unknown') ?? []), u]);
  return [...byState].map(([st, us]) => `${us.join(' ')}: ${st === 'active' ? st : paint(color, '31', st)}`).join('; ') || '-';
}

/** The drift lines: none, or the changes pending per task (with what they are), or why it is unknown. */
export function driftLines(d: Drift | undefined, color?: boolean): string[] {
  if (!d) return [];
  if (d.error) return [`drift: unknown (${d.error})`];
  if (d.notInPlaybook) return [`drift: - (the host is in no play of ${d.playbook})`];
  const refused = d.tasks.filter((t) => t.failures?.length);
  const changed = d.tasks.filter((t) => t.changes > 0);
  if (d.pending === 0 && refused.length === 0) return [`drift: none (the router matches ${d.playbook}, ${d.tasks.length} tasks)`];
  const head =
    d.pending > 0
      ? paint(color, '33', `drift: ${d.pending} change${d.pending === 1 ? '' : 's'} pending`) +
        ` against ${d.playbook} (${changed.map((t) => `${t.play ? `${t.play}/` : ''}${t.task} ${t.changes}`).join(', ')})`
      : `drift: none pending, but the playbook refuses the host`;
  const width = Math.max(...[...changed, ...refused].map((t) => (t.play ? `${t.play}/` : '').length + t.task.length));
  const name = (t: { play?: string; task: string }) => `${t.play ? `${t.play}/` : ''}${t.task}`.padEnd(width);
  return [
    head,
    ...changed.flatMap((t) => t.summaries.map((s, i) => `  ${i === 0 ? name(t) : ' '.repeat(width)}  ${s}`)),
    ...refused.map((t) => `  ${name(t)}  ${paint(color, '31', 'refuses the host')}: ${t.failures!.join('; ')}`),
  ];
}

const SWITCH_WIDTH = 80;

/** S cut with "…" to ROOM columns (colour codes take none). */
const fit = (s: string, room: number) => (visibleLength(s) > room ? `${s.slice(0, room - 1 + (s.length - visibleLength(s)))}…` : s);

/**
 * Translated IPv6's line: the WAN new IPv6 flows use (IPv6 fails over on its own probes), then each
 * WAN whose IPv6 is not up, and why, cut to fit 80 columns (`edge-failover status` has it whole).
 */
export function ipv6Line(v6: Ipv6Status, color: boolean | undefined, indent = 2): string {
  const use = v6.preferred === 'unknown' ? paint(color, '31', 'unknown') : paint(color, '1', v6.preferred.toUpperCase());
  const notUp = v6.wans.filter((w) => w.state !== 'up');
  const rest = notUp.length
    ? notUp.map((w) => `${w.wan.toUpperCase()} ${w.state}${w.since ? ` since ${w.since.slice(11)}` : ''}${w.why ? `: ${w.why}` : ''}`).join('; ')
    : "both WANs' IPv6 up";
  // native: the WAN is the hosts' choice of source prefix, told by router advertisements
  const told = v6.told ? ` (LAN told: ${v6.told === 'both' ? 'both prefixes' : `${v6.told.toUpperCase()}'s prefix`})` : '';
  return fit(`IPv6: new flows use ${use}${told}; ${rest}`, SWITCH_WIDTH - indent);
}

/** A WAN whose ISP renumbered since the last run: the router follows, the next run renders it. */
export function renumberedLine(r: NonNullable<Ipv6Status['renumbered']>[number], color: boolean | undefined): string {
  const isp = `ISP${r.wan.slice(3)}`;
  return `IPv6: ${paint(color, '33', `${isp} renumbered`)} to ${r.now} (LAN subnet ${r.subnet}; the last run rendered ${r.rendered || 'none'}): followed by the router, rendered by the next run`;
}

/**
 * The switch-history lines: how many switches in 24 h and the last one (when, from → to, how long
 * the WAN it left had been preferred), then why, cut to fit 80 columns (`edge-failover history` on
 * the router has the whole record).
 */
export function switchLines(sw: SwitchHistory | undefined, indent = 2): string[] {
  if (!sw) return ['switches: none recorded'];
  if (!sw.last) return [`switches: ${sw.last24h} in 24 h`];
  const l = sw.last;
  const held = l.heldSec !== undefined && l.from !== 'none' ? ` after ${agoText(l.heldSec)} on ${l.from.toUpperCase()}` : '';
  const head = `switches: ${sw.last24h} in 24 h; last ${whenText(l.at, l.agoSec)} to ${l.to.toUpperCase()}${held}`;
  const room = SWITCH_WIDTH - indent - 2;
  const why = l.why.length > room - 5 ? `${l.why.slice(0, room - 6)}…` : l.why;
  return why ? [head, `  why: ${why}`] : [head];
}

/**
 * The mode and what it gives each WAN now ("balance 3:1, in effect 3:0 (WAN2 avoided)"), then the
 * new flows each steering rule matched, each line cut to fit 80 columns.
 */
export function policyLines(p: PolicyStatus, color: boolean | undefined): string[] {
  const names = (ws: readonly string[]) => ws.map((w) => w.toUpperCase()).join(', ');
  const parts = [p.avoided.length ? `${names(p.avoided)} avoided` : '', p.avoided6?.length ? `IPv6: ${names(p.avoided6)} avoided` : ''].filter(Boolean);
  const avoided = parts.length ? ` (${parts.join('; ')})` : '';
  const ratio = (k: 'configured' | 'inEffect') => p.weights!.map((w) => w[k]).join(':');
  const mode =
    p.mode === 'balance' && p.weights
      ? `balance ${ratio('configured')}${p.avoided.length ? `, in effect ${ratio('inEffect')}` : ''}${avoided}`
      : `${p.mode}${avoided}`;
  const line = fit(`mode: ${mode}`, SWITCH_WIDTH - 2);
  const rules = p.steering.map((r) => `${r.rule} ${r.newFlows}`).join(', ');
  return [parts.length ? line.replace(mode, paint(color, '33', mode)) : line, ...(rules ? [fit(`steering (new flows): ${rules}`, SWITCH_WIDTH - 2)] : [])];
}

export function hostStatusText(h: HostStatus, opts: StatusTextOptions = {}): string {
  const c = opts.color;
  const title = `${paint(c, '1', h.host)}${h.address && h.address !== h.host ? ` (${h.address})` : ''}`;
  if (!h.ok) return `${title}: ${paint(c, '31', 'unreachable')}: ${h.error ?? 'no answer'}`;
  const pw = h.wans.find((w) => w.wan === h.preferred);
  const pref =
    h.preferred && h.preferred !== 'unknown'
      ? `new flows use ${paint(c, '1', h.preferred.toUpperCase())} (${[pw?.interface, `mark ${h.preferredMark}`].filter(Boolean).join(', ')})`
      : `new flows: ${paint(c, '31', 'unknown')}${h.preferredNote ? ` (${h.preferredNote})` : ''}`;
  const lines = wrapText(`${title}: ${pref}`, SWITCH_WIDTH);
  if (h.ipv6) lines.push(`  ${ipv6Line(h.ipv6, c)}`, ...(h.ipv6.renumbered ?? []).map((r) => `  ${renumberedLine(r, c)}`));
  const rows = [['WAN', 'INTERFACE', 'STATE', 'SINCE', 'CHECK', 'LOSS RTT', 'FLOWS', 'NAT'], ...h.wans.map((w) => wanRow(w, c))];
  lines.push(...table(rows, visibleLength).map((l) => `  ${fit(l, SWITCH_WIDTH - 2)}`));
  for (const w of h.wans.filter((x) => x.state === 'degraded' && x.why)) lines.push(`  ${fit(`${w.wan.toUpperCase()} degraded: ${w.why}`, SWITCH_WIDTH - 2)}`);
  // keepalived once ran here and is stopped now (on a router edge has not set up, nothing to say)
  const kaStopped = h.wans.filter((w) => w.keepalived === 'STOPPED');
  if (kaStopped.some((w) => w.keepalivedLast))
    lines.push(`  keepalived stopped (last: ${kaStopped.map((w) => `${w.wan.toUpperCase()} ${w.keepalivedLast ?? 'none'}`).join(', ')}); edge-probe switches without it`);
  if (h.failoverInactive) lines.push(...wrapText(`${paint(c, '1;31', 'FAILOVER INACTIVE')}: ${h.failoverInactive}`, SWITCH_WIDTH - 2).map((l) => `  ${l}`));
  lines.push(`  flows: ${h.flows?.total ?? '-'} in all`);
  lines.push(...wrapText(`units: ${unitsText(h.units, c)}`, SWITCH_WIDTH - 2).map((l) => `  ${l}`));
  // failover with no rule and nothing avoided is what the WAN rows already say
  const p = h.policy;
  if (p && (p.mode !== 'failover' || p.steering.length || p.avoided.length || p.avoided6?.length)) lines.push(...policyLines(p, c).map((l) => `  ${l}`));
  lines.push(...switchLines(h.switches).map((l) => `  ${l}`));
  lines.push(...driftLines(h.drift, c).flatMap((l) => wrapText(l, SWITCH_WIDTH - 2, l.startsWith('  ') ? 4 : 2)).map((l) => `  ${l}`));
  return lines.join('\n');
}

/** Every host's block, with a heading line (when, how many hosts, how many need a look). */
export function statusText(hosts: readonly HostStatus[], opts: StatusTextOptions & { at?: Date } = {}): string {
  const unreachable = hosts.filter((h) => !h.ok).length;
  const drifted = hosts.filter((h) => h.ok && h.drift && (h.drift.pending > 0 || h.drift.tasks.some((t) => t.failures?.length))).length;
  const onWan2 = hosts.filter((h) => h.ok && h.preferred === 'wan2').length;
  const summary = [
    `${hosts.length} router${hosts.length === 1 ? '' : 's'}`,
    onWan2 ? `${onWan2} on WAN2` : undefined,
    drifted ? `${drifted} drifted` : undefined,
    unreachable ? `${unreachable} unreachable` : undefined,
  ].filter(Boolean);
  const at = opts.at ? ` at ${opts.at.toISOString().replace(/\.\d{3}Z$/, 'Z')}` : '';
  return [`edge status${at}: ${summary.join(', ')}`, ...hosts.map((h) => hostStatusText(h, opts))].join('\n\n');
}

import { ListrTaskEventType, type ListrRenderer, type ListrTaskObject } from 'listr2';
import type { HostResult } from '../engine/types.js';
import { screenLine } from './screen.js';
import { clip } from './width.js';

/**
 * The live view on a terminal: listr2 runs a task per host (run-view.ts) and this renderer draws
 * them in place, erased when the batch ends (the recap is then the one final line per host). Up
 * to SUMMARY_ABOVE hosts it shows a row per host (when the terminal has the rows); above, a
 * summary bar (done / changed / failed / left, ETA) with only the hosts active or failed.
 */
export const SUMMARY_ABOVE = 30;

type HostState =
  | { phase: 'waiting' }
  | { phase: 'active'; doing: string; since: number }
  | { phase: 'done'; result: HostResult };

export interface LiveState {
  hosts: Map<string, HostState>;
  startedAt: number;
}

const MARK: Record<HostResult['status'], string> = {
  ok: '✔',
  changed: '✔',
  failed: '✖',
  unreachable: '✖',
  interrupted: '!',
  skipped: '-',
};

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n').find((l) => l.trim()) ?? '';
}

function hostRow(name: string, s: HostState, now: number, pad: number): string {
  const n = name.padEnd(pad);
  if (s.phase === 'waiting') return `· ${n}  waiting`;
  if (s.phase === 'active') return `… ${n}  ${s.doing} (${secs(now - s.since)})`;
  const r = s.result;
  const why = r.status === 'failed' || r.status === 'unreachable' ? `: ${firstLine(r.error)}` : '';
  return `${MARK[r.status]} ${n}  ${r.status}${why} ${secs(r.durationMs)}`;
}

function clock(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** What the summary bar and the rows above 30 hosts need, in one pass (a frame of a 1,000-host batch is 5 a second). */
interface Tally {
  hosts: number;
  done: number;
  changed: number;
  /** failed, unreachable or interrupted */
  failed: number;
  /** Names shown as rows: failed or unreachable, and active. */
  failedNames: string[];
  activeNames: string[];
  /** Width of the name column. */
  pad: number;
}

function tally(st: LiveState): Tally {
  const t: Tally = { hosts: st.hosts.size, done: 0, changed: 0, failed: 0, failedNames: [], activeNames: [], pad: 0 };
  for (const [name, h] of st.hosts) {
    t.pad = Math.max(t.pad, Math.min(20, name.length));
    if (h.phase === 'active') t.activeNames.push(name);
    if (h.phase !== 'done') continue;
    t.done++;
    const status = h.result.status;
    if (status === 'changed') t.changed++;
    if (status === 'failed' || status === 'unreachable' || status === 'interrupted') t.failed++;
    if (status === 'failed' || status === 'unreachable') t.failedNames.push(name);
  }
  return t;
}

/** The summary bar: progress, counts and (once a host has finished) an ETA from the pace so far. */
export function summaryBar(st: LiveState, now: number, width: number, t: Tally = tally(st)): string {
  const left = t.hosts - t.done;
  const elapsed = now - st.startedAt;
  const eta = t.done === 0 ? 'ETA ?' : left === 0 ? 'ETA 0:00' : `ETA ${clock((elapsed / t.done) * left)}`;
  const text = `${t.done}/${t.hosts} done  ${t.changed} changed  ${t.failed} failed  ${left} left  ${eta}`;
  const barWidth = Math.max(10, Math.min(30, width - text.length - 3));
  const filled = Math.round((t.done / Math.max(1, t.hosts)) * barWidth);
  return `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${text}`;
}

/** The lines of the live region (each clipped to `width`, `rows` at most). */
export function liveLines(st: LiveState, now: number, width: number, rows: number): string[] {
  const t = tally(st);
  const row = (n: string) => hostRow(n, st.hosts.get(n)!, now, t.pad);
  let lines: string[];
  // A row per host only where every row fits: rows cut off the bottom would hide hosts silently.
  if (t.hosts <= Math.min(SUMMARY_ABOVE, rows)) {
    lines = [...st.hosts.keys()].map(row);
  } else {
    const room = Math.max(2, rows - 2);
    const shownFailed = t.failedNames.slice(0, Math.ceil(room / 2));
    const shownActive = t.activeNames.slice(0, room - shownFailed.length);
    lines = [summaryBar(st, now, width, t), ...shownFailed.map(row), ...shownActive.map(row)];
    const hidden = t.failedNames.length - shownFailed.length + t.activeNames.length - shownActive.length;
    if (hidden > 0) lines.push(`  … and ${hidden} more active or failed`);
  }
  // A row holds a router's error text: escaped before it is clipped, since the view writes raw (its cursor moves).
  return lines.slice(0, Math.max(1, rows)).map((l) => clip(screenLine(l), width));
}

export interface Terminal {
  write(s: string): void;
  columns(): number;
  rows(): number;
}

export type LiveRendererOptions = {
  term: Terminal;
  /** The engine's result for a finished host: its row's status, error and time (listr2 has no channel for them). */
  outcome(host: string): HostResult | undefined;
  /** Aborted: the view is erased at once, whatever the tasks still do (an interrupted run's recap follows). */
  stop: AbortSignal;
  now?: () => number;
  intervalMs?: number;
};

/** A listr2 task as the renderers see it: its title is the host, its output the host's latest line. */
export type HostTask = ListrTaskObject<unknown, typeof ListrRenderer, typeof ListrRenderer>;

/**
 * listr2's stock renderers do not fit this view: DefaultRenderer draws a row for every task (a
 * thousand rows on a 24-row terminal, which cannot be redrawn in place), has no summary bar or
 * ETA, and leaves its last frame on the screen where edge erases it before the recap;
 * SimpleRenderer logs events and redraws nothing. So this renderer takes listr2's tasks and lays
 * them out with edge's layout (liveLines), redrawn on a timer: events cost a Map update, not a frame.
 */
export class LiveRenderer implements ListrRenderer {
  static nonTTY = false;
  static rendererOptions: LiveRendererOptions;
  static rendererTaskOptions: Record<PropertyKey, never>;
  private readonly st: LiveState;
  private readonly now: () => number;
  private drawn = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly tasks: readonly HostTask[],
    private readonly options: LiveRendererOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.st = { hosts: new Map(tasks.map((t) => [t.title ?? '', { phase: 'waiting' }])), startedAt: this.now() };
  }

  render(): void {
    if (this.options.stop.aborted) return;
    this.options.stop.addEventListener('abort', () => this.end(), { once: true });
    for (const t of this.tasks) {
      t.on(ListrTaskEventType.OUTPUT, (line) => this.active(t.title ?? '', line));
      t.on(ListrTaskEventType.STATE, () => this.finished(t));
    }
    this.draw();
    this.timer = setInterval(() => this.draw(), this.options.intervalMs ?? 200);
    this.timer.unref();
  }

  /** Erases the region: what stays on screen is what comes after (the recap). */
  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.erase();
  }

  private erase(): void {
    if (this.drawn > 0) this.options.term.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    const { term } = this.options;
    const lines = liveLines(this.st, this.now(), term.columns() - 1, Math.max(3, term.rows() - 4));
    this.erase();
    term.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }

  /** The row shows the host's latest line; its clock runs from the host's first one. */
  private active(host: string, doing: string): void {
    const prev = this.st.hosts.get(host);
    if (prev?.phase === 'done') return;
    const since = prev?.phase === 'active' ? prev.since : this.now();
    this.st.hosts.set(host, { phase: 'active', doing, since });
  }

  private finished(t: HostTask): void {
    const result = t.hasFinalized() ? this.options.outcome(t.title ?? '') : undefined;
    if (result) this.st.hosts.set(result.host, { phase: 'done', result });
  }
}

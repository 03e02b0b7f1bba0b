import type { HostResult, RunReporter, TaskResult } from '../engine/types.js';
import type { TaskName } from '../tasks/contract.js';
import { screenLine } from './screen.js';
import { clip } from './width.js';

/**
 * The live view on a terminal: redrawn in place, erased when the batch ends (the recap is then
 * the one final line per host). Up to SUMMARY_ABOVE hosts it shows a row per host; above, a
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

/** The summary bar: progress, counts and (once a host has finished) an ETA from the pace so far. */
export function summaryBar(st: LiveState, now: number, width: number): string {
  const all = [...st.hosts.values()];
  const done = all.filter((h) => h.phase === 'done') as Extract<HostState, { phase: 'done' }>[];
  const changed = done.filter((h) => h.result.status === 'changed').length;
  const failed = done.filter((h) => ['failed', 'unreachable', 'interrupted'].includes(h.result.status)).length;
  const left = all.length - done.length;
  const elapsed = now - st.startedAt;
  const eta = done.length === 0 ? 'ETA ?' : left === 0 ? 'ETA 0:00' : `ETA ${clock((elapsed / done.length) * left)}`;
  const text = `${done.length}/${all.length} done  ${changed} changed  ${failed} failed  ${left} left  ${eta}`;
  const barWidth = Math.max(10, Math.min(30, width - text.length - 3));
  const filled = Math.round((done.length / Math.max(1, all.length)) * barWidth);
  return `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ${text}`;
}

/** The lines of the live region (each clipped to `width`, `rows` at most). */
export function liveLines(st: LiveState, now: number, width: number, rows: number): string[] {
  const names = [...st.hosts.keys()];
  const pad = Math.min(20, Math.max(0, ...names.map((n) => n.length)));
  let lines: string[];
  if (names.length <= SUMMARY_ABOVE) {
    lines = names.map((n) => hostRow(n, st.hosts.get(n)!, now, pad));
  } else {
    const active = names.filter((n) => st.hosts.get(n)!.phase === 'active');
    const failed = names.filter((n) => {
      const s = st.hosts.get(n)!;
      return s.phase === 'done' && ['failed', 'unreachable'].includes(s.result.status);
    });
    const room = Math.max(2, rows - 2);
    const shownFailed = failed.slice(0, Math.ceil(room / 2));
    const shownActive = active.slice(0, room - shownFailed.length);
    lines = [
      summaryBar(st, now, width),
      ...shownFailed.map((n) => hostRow(n, st.hosts.get(n)!, now, pad)),
      ...shownActive.map((n) => hostRow(n, st.hosts.get(n)!, now, pad)),
    ];
    const hidden = failed.length - shownFailed.length + active.length - shownActive.length;
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

/** A RunReporter that keeps LiveState and redraws it on a timer. */
export class LiveReporter implements RunReporter {
  private readonly st: LiveState;
  private drawn = 0;
  private timer?: NodeJS.Timeout;
  private left: number;
  private resolveFinished!: () => void;
  /** Resolves (and the view is erased) once every host has finished. */
  readonly finished = new Promise<void>((r) => (this.resolveFinished = r));

  constructor(
    private readonly term: Terminal,
    hosts: readonly string[],
    private readonly now: () => number = () => performance.now(),
  ) {
    this.st = { hosts: new Map(hosts.map((h) => [h, { phase: 'waiting' }])), startedAt: now() };
    this.left = this.st.hosts.size;
    if (this.left === 0) this.resolveFinished();
  }

  start(intervalMs = 200): void {
    this.draw();
    this.timer = setInterval(() => this.draw(), intervalMs);
    this.timer.unref();
  }

  /** Erases the region: what stays on screen is what comes after (the recap). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.erase();
  }

  private erase(): void {
    if (this.drawn > 0) this.term.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (!this.timer && this.drawn === 0 && this.left <= 0) return;
    const lines = liveLines(this.st, this.now(), this.term.columns() - 1, Math.max(3, this.term.rows() - 4));
    this.erase();
    this.term.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }

  private active(host: string, doing: string): void {
    const prev = this.st.hosts.get(host);
    const since = prev?.phase === 'active' ? prev.since : this.now();
    this.st.hosts.set(host, { phase: 'active', doing, since });
  }

  hostStarted(host: string): void {
    this.active(host, 'started');
  }
  hostStep(host: string, step: string): void {
    this.active(host, step);
  }
  taskStarted(host: string, task: TaskName): void {
    this.active(host, task);
  }
  taskFinished(_host: string, _r: TaskResult): void {}
  hostFinished(result: HostResult): void {
    if (this.st.hosts.get(result.host)?.phase !== 'done') this.left--;
    this.st.hosts.set(result.host, { phase: 'done', result });
    if (this.left <= 0) {
      this.stop();
      this.resolveFinished();
    }
  }
}

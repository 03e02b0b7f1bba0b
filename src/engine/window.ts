import { EdgeError } from '../errors.js';
import { WEEKDAYS, type Window } from '../playbook/window-schema.js';

/**
 * Maintenance-window arithmetic in IANA time zones, with nothing but `Intl` (no tz database of
 * our own to go stale: Node's ICU is the one the operator's OS keeps current).
 *
 * An "opening" belongs to one local calendar day D whose weekday is in `days`: it opens at `start`
 * on D and closes at `end` on D, or on D+1 when `end` is at or before `start` (a Tue 23:00–01:00
 * window is Tuesday's and closes on Wednesday). `end: "24:00"` is midnight at the end of D.
 * `start == end` (refused by windowSchema, but defined here so the functions are total) follows
 * the same rule: it is a 24-hour opening, closing at the same wall-clock time on D+1.
 *
 * Daylight saving, for `start` and `end` alike:
 * - a wall-clock time that does not exist (the spring-forward gap, e.g. 02:30 on 29 Mar 2026 in
 *   Europe/Amsterdam) resolves to the first instant after it, which is the transition itself
 *   (03:00 CEST). A window is meant to be open from its start on, so opening at 03:00 loses
 *   nothing; Temporal's "compatible" rule would open at 03:30 and lose half an hour.
 * - an ambiguous wall-clock time (the fall-back hour, 02:30 on 25 Oct 2026 happens twice) resolves
 *   to its FIRST occurrence (02:30 CEST). For `start` that opens as early as the clock allows; for
 *   `end` it closes on the earlier reading, the conservative side for a change window.
 * - an opening that the gap swallows whole (02:10–02:40 on spring-forward day) is empty: it does
 *   not open that day.
 * Times are compared to the second (Intl reports no milliseconds; all openings are whole seconds).
 */

const MINUTE = 60_000;
const DAY = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    // hourCycle h23: with hour12:false some ICU versions print midnight as "24"
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** The wall clock in `tz` at instant `ms`, as milliseconds of a UTC date with the same fields. */
function wallMs(tz: string, ms: number): number {
  const p: Record<string, string> = {};
  for (const part of formatter(tz).formatToParts(new Date(ms))) p[part.type] = part.value;
  let year = Number(p.year);
  if (p.era === 'BC' || p.era === 'B') year = 1 - year;
  const hour = Number(p.hour) % 24;
  const d = new Date(0);
  d.setUTCFullYear(year, Number(p.month) - 1, Number(p.day));
  d.setUTCHours(hour, Number(p.minute), Number(p.second), 0);
  return d.getTime();
}

/** Whole seconds: the resolution Intl gives us. */
function floorSecond(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** UTC offset of `tz` at instant `ms` (local = utc + offset). */
export function offsetAt(tz: string, ms: number): number {
  const s = floorSecond(ms);
  return wallMs(tz, s) - s;
}

/**
 * The instant a local wall-clock time (given as ms of a UTC date with the same fields) happens in
 * `tz`, by the rules above: first occurrence when ambiguous, the transition when in a gap.
 * Assumes at most one offset change within a day of the time, which holds for every real zone.
 */
export function instantOf(tz: string, local: number): number {
  const offsets = [...new Set([offsetAt(tz, local - DAY), offsetAt(tz, local), offsetAt(tz, local + DAY)])];
  const candidates = offsets.map((o) => local - o).sort((a, b) => a - b);
  const valid = candidates.find((t) => wallMs(tz, t) === local);
  if (valid !== undefined) return valid;
  // In a gap: the wall clock jumps over `local`. Find the first second whose wall clock reads at
  // or after it (the transition) between the earliest candidate (reads before) and the latest (after).
  let lo = candidates[0]!;
  let hi = candidates[candidates.length - 1]!;
  while (hi - lo > 1000) {
    const mid = lo + floorSecond((hi - lo) / 2);
    if (wallMs(tz, mid) >= local) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Local calendar day number (days since 1970-01-01) of instant `ms` in `tz`. */
function localDay(tz: string, ms: number): number {
  return Math.floor(wallMs(tz, ms) / DAY);
}

/** Monday = 0 ... Sunday = 6 (WEEKDAYS order); day 0 (1970-01-01) was a Thursday. */
function weekdayOf(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

export interface Opening {
  open: Date;
  close: Date;
}

/** The opening that belongs to local day `day`, if `day` is a window day and the opening is not empty. */
function openingOn(w: Window, day: number): { open: number; close: number } | undefined {
  if (!w.days.includes(WEEKDAYS[weekdayOf(day)]!)) return undefined;
  const s = minutesOf(w.start);
  const e = minutesOf(w.end); // "24:00" → 1440, the next midnight
  const endDay = e <= s ? day + 1 : day;
  const open = instantOf(w.timezone, day * DAY + s * MINUTE);
  const close = instantOf(w.timezone, endDay * DAY + e * MINUTE);
  return close > open ? { open, close } : undefined;
}

/** The opening containing `ms`: only the local day of `ms` and the day before can hold it (an opening lasts ≤ 25 h). */
function openingAt(w: Window, ms: number): { open: number; close: number } | undefined {
  const today = localDay(w.timezone, ms);
  for (const day of [today - 1, today]) {
    const o = openingOn(w, day);
    if (o && o.open <= ms && ms < o.close) return o;
  }
  return undefined;
}

/** True when `at` is inside an opening of the window (open at `start`, closed at `end`). */
export function isOpen(w: Window, at: Date): boolean {
  return openingAt(w, at.getTime()) !== undefined;
}

/** Look this far ahead for the next opening: a week plus room for a day the DST gap swallowed. */
const HORIZON_DAYS = 15;

/** The next instant the window opens; `from` itself when it is open at `from`. */
export function nextOpen(w: Window, from: Date): Date {
  const ms = from.getTime();
  if (openingAt(w, ms)) return from;
  const today = localDay(w.timezone, ms);
  for (let day = today - 1; day <= today + HORIZON_DAYS; day++) {
    const o = openingOn(w, day);
    if (o && o.open > ms) return new Date(o.open);
  }
  throw new EdgeError('WINDOW', `the maintenance window (${describeWindow(w)}) never opens`);
}

/**
 * When the current opening ends; undefined when the window is closed at `at`. Openings that touch
 * (00:00–24:00 on consecutive days) are one opening: the window does not really close between them.
 * A window that never closes reports the end of the last of 8 chained openings (about a week out).
 */
export function closesAt(w: Window, at: Date): Date | undefined {
  const o = openingAt(w, at.getTime());
  if (!o) return undefined;
  let close = o.close;
  for (let i = 0; i < 8; i++) {
    const next = openingAt(w, close);
    if (!next) break;
    close = next.close;
  }
  return new Date(close);
}

/** "tue,thu 02:00–04:00 Europe/Amsterdam" */
export function describeWindow(w: Window): string {
  const days = w.days.length === 7 ? 'daily' : w.days.join(',');
  return `${days} ${w.start}–${w.end} ${w.timezone}`;
}

/** An instant as the window's local time plus UTC: "2026-03-29 03:00 Europe/Amsterdam (2026-03-29T01:00:00Z)". */
export function formatInstant(at: Date, tz: string): string {
  const local = new Date(wallMs(tz, at.getTime())).toISOString();
  return `${local.slice(0, 10)} ${local.slice(11, 16)} ${tz} (${at.toISOString().replace('.000Z', 'Z')})`;
}

import { z } from 'zod';
import { didYouMean } from '../config/suggest.js';

/**
 * A maintenance window: batches only START inside it (a batch that started runs to its end).
 * It opens at `start` on each of `days` in `timezone` and closes at `end`; an `end` at or before
 * `start` closes on the next day (22:00–04:00). One definition serves the play keyword `window`
 * and the inventory variable `edge_window` (per group, e.g. per site and time zone).
 */

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

let zones: string[] | undefined;
/** Computed once: asking Intl for its ~430 zones on every bad value made a playbook of them crawl. */
function timeZoneNames(): string[] {
  zones ??= ['UTC', ...Intl.supportedValuesOf('timeZone')];
  return zones;
}

const timeZone = z
  .string()
  .refine(isTimeZone, {
    error: (iss) =>
      `unknown time zone ${JSON.stringify(iss.input)}; expected an IANA name like Europe/Amsterdam` +
      didYouMean(String(iss.input), timeZoneNames()),
  });

const hhmm = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'expected a 24-hour time like 02:00 (quote it)');
const hhmmEnd = z.string().regex(/^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$/, 'expected a 24-hour time like 05:00 or 24:00');

export const windowSchema = z
  .strictObject({
    days: z
      .array(z.enum(WEEKDAYS))
      .min(1)
      .default([...WEEKDAYS])
      .describe('Days the window opens on (mon..sun); default: every day'),
    start: hhmm.describe('Local time the window opens, "HH:MM"'),
    end: hhmmEnd.describe('Local time the window closes, "HH:MM"; at or before start means the next day'),
    timezone: timeZone.describe('IANA time zone of start and end, e.g. Europe/Amsterdam'),
  })
  .refine((w) => w.start !== w.end, { path: ['end'], message: 'must differ from start' })
  .describe('Maintenance window: batches only start inside it');

export type Window = z.output<typeof windowSchema>;

export const WINDOW_KEYS: readonly string[] = Object.keys(windowSchema.shape);

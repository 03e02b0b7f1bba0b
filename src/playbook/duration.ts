import { z } from 'zod';

const UNIT_SECONDS = { h: 3600, m: 60, s: 1 } as const;
const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/;

/** "1h30m" → 5400. Assumes the text matched DURATION. */
export function durationSeconds(text: string): number {
  const [, h, m, s] = DURATION.exec(text) ?? [];
  return Number(h ?? 0) * UNIT_SECONDS.h + Number(m ?? 0) * UNIT_SECONDS.m + Number(s ?? 0);
}

/** Seconds as a number, or a duration string like "30s", "5m", "1h30m"; parses to seconds. */
export const durationSchema = z
  .union(
    [
      z.number().min(0),
      z
        .string()
        .regex(DURATION, { message: 'expected seconds or a duration like 30s, 5m, 1h30m', abort: true })
        .refine((s) => s !== '', 'expected seconds or a duration like 30s, 5m, 1h30m'),
    ],
    { error: 'expected seconds or a duration like 30s, 5m, 1h30m' },
  )
  .transform((v) => (typeof v === 'number' ? v : durationSeconds(v)));

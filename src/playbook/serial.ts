import { z } from 'zod';

/**
 * Rollout batch sizes, with Ansible's `serial` semantics: a host count, a percentage of the play's
 * hosts (rounded down, at least 1), or a list of those where the last one repeats until all hosts
 * are done. No `serial` means one batch with every host.
 */
export type SerialStep = { count: number } | { percent: number };

const SERIAL_ERROR = 'expected a host count like 5, a percentage like "30%", or a list of those';
const count = z.number().int().min(1);
const percent = z
  .string()
  .regex(/^[0-9]+(\.[0-9]+)?%$/, { message: 'expected a percentage like "30%"', abort: true })
  .refine((s) => parseFloat(s) > 0 && parseFloat(s) <= 100, 'expected a percentage between 1% and 100%');
const step = z.union([count, percent], { error: SERIAL_ERROR });

export const serialSchema = z
  .union([count, percent, z.array(step).min(1)], { error: SERIAL_ERROR })
  .transform((v): SerialStep[] =>
    (Array.isArray(v) ? v : [v]).map((s) => (typeof s === 'number' ? { count: s } : { percent: parseFloat(s) })),
  )
  .describe('Hosts per batch: a count, "30%", or a list of those (the last repeats)');

/** Batch sizes for `total` hosts; they sum to `total`. */
export function batchSizes(total: number, serial: readonly SerialStep[] | undefined): number[] {
  if (total <= 0) return [];
  if (!serial || serial.length === 0) return [total];
  const sizes: number[] = [];
  let left = total;
  for (let i = 0; left > 0; i++) {
    const s = serial[Math.min(i, serial.length - 1)]!;
    const n = 'count' in s ? s.count : Math.max(1, Math.floor((total * s.percent) / 100));
    sizes.push(Math.min(n, left));
    left -= n;
  }
  return sizes;
}

/** Splits items (in order) into batches per `serial`. */
export function splitBatches<T>(items: readonly T[], serial: readonly SerialStep[] | undefined): T[][] {
  const out: T[][] = [];
  let at = 0;
  for (const n of batchSizes(items.length, serial)) {
    out.push(items.slice(at, at + n));
    at += n;
  }
  return out;
}

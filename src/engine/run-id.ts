import { randomBytes } from 'node:crypto';
import { EdgeError } from '../errors.js';

/**
 * A run id: the controller's time (for people: it says roughly when) and 32 random bits, so two
 * controllers starting runs in the same second still get different ids. Safe as a file name. It
 * orders nothing: a host orders its runs by its own sequence numbers (run-order.ts), as a
 * controller's clock may be off. Ids of older edges had 16 random bits; they are still read.
 */
export function newRunId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${t}-${randomBytes(4).toString('hex')}`;
}

export const RUN_ID_RE = /^\d{8}T\d{6}Z-(?:[0-9a-f]{4}|[0-9a-f]{8})$/;

/**
 * RUN_ID_RE as a shell `case` pattern, for the router's scripts that read a run id back from disk
 * (the pending mark): a value of any other shape (`1T1Z-/../../tmp/x`) never becomes a path there.
 */
export const RUN_ID_CASE = [4, 8].map((n) => `${'[0-9]'.repeat(8)}T${'[0-9]'.repeat(6)}Z-${'[0-9a-f]'.repeat(n)}`).join('|');

/**
 * A run id given on the command line (or read back from a journal): it becomes part of paths and
 * unit names on routers, so nothing but the exact shape newRunId makes is accepted.
 */
export function checkRunId(text: string, field: string): string {
  if (!RUN_ID_RE.test(text)) throw new EdgeError('USAGE', `${JSON.stringify(text)} is not a run id (like 20261123T204501Z-1a2b3c4d); see edge runs`, { field });
  return text;
}

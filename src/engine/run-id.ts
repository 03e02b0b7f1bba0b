import { randomBytes } from 'node:crypto';
import { EdgeError } from '../errors.js';

/** Run ids sort by time (snapshot pruning relies on it) and are safe as file names. */
export function newRunId(now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${t}-${randomBytes(2).toString('hex')}`;
}

export const RUN_ID_RE = /^\d{8}T\d{6}Z-[0-9a-f]{4}$/;

/**
 * A run id given on the command line (or read back from a journal): it becomes part of paths and
 * unit names on routers, so nothing but the exact shape newRunId makes is accepted.
 */
export function checkRunId(text: string, field: string): string {
  if (!RUN_ID_RE.test(text)) throw new EdgeError('USAGE', `${JSON.stringify(text)} is not a run id (like 20261123T204501Z-1a2b); see edge runs`, { field });
  return text;
}

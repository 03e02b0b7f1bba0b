import { statSync, type Stats } from 'node:fs';
import { EdgeError } from '../errors.js';

/**
 * The one rule for what the controller reads from a place it did not create: a path is trusted
 * when it is owned by the user running edge or by root, and neither its group nor others can write
 * it. Applied to .edge/ (settings, journals, the script cache record), ./inventories/, ./ansible.cfg,
 * edge's settings file and a host's edge_known_hosts_file and its directory (its trust anchor):
 * otherwise any local user could set `inventory` or `accept-new-host-keys`, or rewrite what
 * `rollback` acts on, for the next operator who runs edge in a shared directory such as /tmp.
 */

/** Who owns `st`, when that is neither the user running edge nor root; undefined when it is. */
export function foreignOwner(st: Stats, uid = process.getuid?.()): number | undefined {
  return uid === undefined || st.uid === uid || st.uid === 0 ? undefined : st.uid;
}

/** `owner uid 1000, mode 0755`: what a refusal shows of a path. */
export function ownerAndMode(st: Stats): string {
  return `owner uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

/** Why `st` cannot be trusted, or undefined when it can. */
export function trustProblem(st: Stats, uid = process.getuid?.()): string | undefined {
  if (foreignOwner(st, uid) !== undefined) return `owned by uid ${st.uid}, not by you (uid ${uid}) or root`;
  if (st.mode & 0o022) return `writable by ${st.mode & 0o002 ? 'every user' : 'its group'}`;
  return undefined;
}

/** Refuses `path` (an existing file or directory) unless trusted; the error names the path, owner and mode. */
export function requireTrusted(path: string, what: string, field?: string): void {
  const st = statSync(path);
  const problem = trustProblem(st);
  if (problem === undefined) return;
  throw new EdgeError('CONFIG', `${path} (${ownerAndMode(st)}) is ${problem}: refusing to read ${what} from it`, {
    field,
    hint: 'another user could have written it: if its content is yours, own it yourself and take write access from group and others (chmod go-w)',
  });
}

import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { isMissingFile, readBoundedText } from '../config/read-file.js';
import { ownerAndMode, trustProblem } from '../config/trusted.js';
import { EdgeError } from '../errors.js';

/**
 * What edge keeps under .edge/ for itself (run journals, the script cache record): in directories
 * only the user can reach, written through fresh names, read through the bounded reader. What is
 * read there decides what rollback and confirm act on, so a directory or file another user could
 * have placed is refused, never used.
 */

/** `dir` (and the .edge it is in) made if missing, then checked as checkPrivateDir does; `what` it holds, for a refusal. */
export function privateDir(dir: string, what: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkPrivateDir(dir, what);
}

/**
 * The checks of privateDir on a directory that exists, before anything is read from it: one of
 * ours left open by an older edge is closed (0700); a symlink, or one another user owns or could
 * write (a root-owned one open to others too: it cannot be closed, only refused), is refused.
 */
export function checkPrivateDir(dir: string, what: string): void {
  for (const d of basename(dirname(dir)) === '.edge' ? [dirname(dir), dir] : [dir]) {
    const st = lstatSync(d);
    const mine = st.uid === process.getuid?.();
    const problem = !st.isDirectory() ? 'not a directory (a symlink?)' : mine ? undefined : trustProblem(st);
    if (problem) throw new EdgeError('CONFIG', `${d} (${ownerAndMode(st)}) is ${problem}: refusing to keep or read ${what} there`);
    if (mine && st.mode & 0o077) chmodSync(d, 0o700);
  }
}

/** Writes `text` as `file` atomically: a fresh temp name created O_EXCL (no planted symlink is followed), 0600, then renamed. */
export function writePrivate(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** `file` through the bounded reader (a FIFO or a huge file is refused, not waited on; one another user owns too); undefined when absent. */
export function readPrivate(file: string, what: string, maxBytes: number): string | undefined {
  try {
    return readBoundedText(file, { what, maxBytes, ownerOnly: true });
  } catch (e) {
    if (isMissingFile(e)) return undefined;
    throw e;
  }
}

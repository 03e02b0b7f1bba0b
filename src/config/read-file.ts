import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { EdgeError, errorMessage, type ErrorCode } from '../errors.js';
import { foreignOwner, ownerAndMode } from './trusted.js';

/**
 * The one way edge reads a file a user named (inventory, playbook, vars files, keys, known_hosts,
 * ssh_config): a regular file no larger than a cap, or a clear error naming the file.
 *
 * Why: readFileSync on /dev/zero, a FIFO or /dev/stdin of a terminal never returns, and on a huge
 * file it fills memory — edge would hang with no output. Here the file is opened non-blocking (so
 * opening a FIFO does not wait for a writer), checked with fstat on the open descriptor (no race
 * with a rename between check and read), and read to at most cap + 1 bytes.
 */

export const MiB = 1024 * 1024;

/** Caps per kind of file: far above any real one, far below what would hurt. */
export const FILE_CAPS = {
  /** Inventories, playbooks, group_vars / host_vars files. */
  config: 16 * MiB,
  /** An SSH private key (an RSA-16384 key in PEM is about 12 KiB). */
  key: 1 * MiB,
  known_hosts: 64 * MiB,
  ssh_config: 4 * MiB,
} as const;

export interface ReadOptions {
  /** What the file is, for the message: "inventory", "private key file", ... */
  what: string;
  maxBytes: number;
  /** Where to read when `file` (the name errors show) is relative to another directory. */
  readFrom?: string;
  /** Error code of a refusal (default CONFIG). */
  code?: ErrorCode;
  /** Field that named the file (ansible_ssh_private_key_file, -i, ...). */
  field?: string;
  host?: string;
  /** Refuse a file another user owns (edge's own records under .edge: what they say, rollback acts on). */
  ownerOnly?: boolean;
}

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Reads a regular file of at most `maxBytes`; throws an EdgeError naming the file otherwise. */
export function readBoundedFile(file: string, opts: ReadOptions): Buffer {
  const fail = (why: string, cause?: unknown) =>
    new EdgeError(opts.code ?? 'CONFIG', `${opts.what} ${file}: ${why}`, { field: opts.field, host: opts.host, cause });
  let fd: number;
  try {
    fd = openSync(opts.readFrom ?? file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw fail(`cannot be read: ${errorMessage(e)}`, e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw fail(`is ${kindOf(st)}, not a regular file: refused (edge reads only regular files)`);
    if (opts.ownerOnly && foreignOwner(st) !== undefined) throw fail(`${ownerAndMode(st)}: owned by neither you nor root: refused`);
    if (st.size > opts.maxBytes) throw fail(`is ${st.size} bytes, over the ${opts.maxBytes}-byte limit for this kind of file: refused`);
    // The size can change while reading (a file being written): read to EOF, never past the cap.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(Math.max(st.size - total, 0) + 65536, 1 * MiB, opts.maxBytes - total + 1));
      const got = readSync(fd, chunk, 0, chunk.length, null);
      if (got === 0) break;
      total += got;
      if (total > opts.maxBytes) throw fail(`grew past the ${opts.maxBytes}-byte limit for this kind of file while being read: refused`);
      chunks.push(chunk.subarray(0, got));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** The same, as UTF-8 text. */
export function readBoundedText(file: string, opts: ReadOptions): string {
  return readBoundedFile(file, opts).toString('utf8');
}

/** True when a refusal was the file's absence (known_hosts may legitimately not exist yet). */
export function isMissingFile(e: unknown): boolean {
  return e instanceof EdgeError && (e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

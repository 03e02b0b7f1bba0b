import { randomBytes } from 'node:crypto';
import { EdgeError } from '../errors.js';
import { shJoin, shQuote } from '../encode/index.js';

/**
 * Become root with sudo without the password ever reaching argv, a log or an error message.
 *
 * Without a become password: `sudo -n -- ARGV` (NOPASSWD, or fail at once instead of hanging on
 * a prompt nobody can answer).
 *
 * With one, the password is the first line of the channel's stdin for `sudo -S -p ''`. sudo reads
 * it only if it needs it (a NOPASSWD rule or a cached timestamp skips the read), and a line sudo
 * did not read would be run by bash as a command, echoing the password in "command not found".
 * So the stdin is `PASSWORD \n MARKER \n SCRIPT`, and the root side first discards lines up to a
 * random per-exec marker, then execs ARGV on the rest: whether sudo took line one or not, ARGV
 * starts reading exactly at the script. (bash's `read` takes a pipe one byte at a time, so nothing
 * past the marker is swallowed.)
 */

export interface Invocation {
  /** Command line for the SSH exec request (no secrets in it). */
  command: string;
  /** Bytes to write to stdin before the script (the password and marker, when used). */
  stdinPrefix: Buffer;
  /** Which way root was obtained, to interpret a failure. */
  become: 'none' | 'sudo-nopasswd' | 'sudo-password';
}

export function buildInvocation(argv: readonly string[], becomeRoot: boolean, becomePassword?: string): Invocation {
  if (argv.length === 0) throw new EdgeError('EXEC', 'empty remote command');
  if (!becomeRoot) return { command: shJoin(argv), stdinPrefix: Buffer.alloc(0), become: 'none' };
  if (becomePassword === undefined) {
    return { command: `sudo -n -- ${shJoin(argv)}`, stdinPrefix: Buffer.alloc(0), become: 'sudo-nopasswd' };
  }
  if (/[\r\n\0]/.test(becomePassword)) {
    // sudo -S reads one line; such a password cannot be typed there at all.
    throw new EdgeError('USAGE', 'the become password cannot contain a line break or NUL');
  }
  const marker = `edge-script-follows-${randomBytes(12).toString('hex')}`;
  // $0 is the marker, "$@" the real argv: the marker travels as an argument, not inside shell text.
  const skipToMarker =
    'while IFS= read -r l; do [ "$l" = "$0" ] && exec "$@"; done; ' +
    'echo "edge: stdin ended before the script started" >&2; exit 125';
  return {
    command: `sudo -S -p '' -- bash -c ${shQuote(skipToMarker)} ${shQuote(marker)} ${shJoin(argv)}`,
    stdinPrefix: Buffer.from(`${becomePassword}\n${marker}\n`),
    become: 'sudo-password',
  };
}

/**
 * Turn sudo's own refusals into errors that say what to do. Only looked at when sudo was used and
 * the exec failed; the messages are edge's, never sudo's stderr (nothing secret can leak through).
 */
export function becomeFailure(
  become: Invocation['become'],
  result: { code: number | null; stdout: string; stderr: string },
  where: { name: string; user: string },
): EdgeError | undefined {
  if (become === 'none' || result.code === 0) return undefined;
  const err = result.stderr;
  const host = where.name;
  if (result.code === 1 && /sudo: (a password is required|a terminal is required)/.test(err)) {
    return new EdgeError('CONNECT', `sudo on ${host} needs a password for user ${where.user}`, {
      host,
      hint: 'pass --ask-become-pass, or give the user NOPASSWD in sudoers',
    });
  }
  if (result.code === 1 && /incorrect password attempt|Sorry, try again|no password was provided/.test(err)) {
    return new EdgeError('CONNECT', `sudo on ${host} rejected the become password for user ${where.user}`, {
      host,
      hint: 'check the password given to --ask-become-pass',
    });
  }
  if (result.code === 1 && /is not in the sudoers file|is not allowed to (execute|run sudo)|may not run sudo/.test(err)) {
    return new EdgeError('CONNECT', `user ${where.user} may not run commands as root with sudo on ${host}`, {
      host,
      hint: 'grant the user sudo rights, or connect as root (ansible_user)',
    });
  }
  if (result.code === 1 && /you must have a tty to run sudo/.test(err)) {
    return new EdgeError('CONNECT', `sudo on ${host} is configured with requiretty`, {
      host,
      hint: 'add "Defaults:USER !requiretty" to sudoers for the login user, or connect as root',
    });
  }
  if (result.code === 127 && /sudo: (command )?not found/.test(err)) {
    return new EdgeError('CONNECT', `sudo is not installed on ${host} and user ${where.user} is not root`, {
      host,
      hint: 'install sudo on the host, or connect as root (ansible_user)',
    });
  }
  return undefined;
}

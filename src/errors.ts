/**
 * Errors are values with a code, optionally a host and a place in a config file.
 * The CLI is the one place that turns them into text and an exit code.
 */
export type ErrorCode =
  | 'CONFIG' // bad inventory / playbook input
  | 'USAGE' // bad command-line input
  | 'NO_HOSTS' // the inventory and --limit leave no host to target (exit 1, as ansible-playbook)
  | 'CONNECT' // could not reach or authenticate to a host
  | 'HOSTKEY' // host key unknown or changed
  | 'EXEC' // a remote command failed
  | 'TIMEOUT' // a remote command or connection timed out
  | 'TASK' // a task failed while planning or applying
  | 'VERIFY' // verification after apply failed
  | 'ROLLBACK' // restoring a snapshot failed
  | 'LOCKOUT' // the change would cut edge's own SSH session
  | 'LOCKED' // another edge holds the host (the message names its run, user, controller and start)
  | 'WINDOW' // outside the maintenance window
  | 'LAB' // the local lab could not do what was asked
  | 'INTERRUPTED';

export interface SourcePos {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

export interface EdgeErrorInit {
  host?: string;
  pos?: SourcePos;
  field?: string;
  hint?: string;
  cause?: unknown;
}

export class EdgeError extends Error {
  readonly code: ErrorCode;
  readonly host?: string;
  readonly pos?: SourcePos;
  readonly field?: string;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, init: EdgeErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'EdgeError';
    this.code = code;
    this.host = init.host;
    this.pos = init.pos;
    this.field = init.field;
    this.hint = init.hint;
  }
}

/** Several config errors found at once (all are reported, not just the first). */
export class EdgeErrors extends Error {
  constructor(readonly errors: EdgeError[]) {
    super(errors.map((e) => formatError(e)).join('\n'));
    this.name = 'EdgeErrors';
  }
}

export function formatPos(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

/** One line (plus an optional hint line) per error: `file:line:col: field: message`. */
export function formatError(e: unknown): string {
  if (e instanceof EdgeErrors) return e.errors.map(formatError).join('\n');
  if (!(e instanceof EdgeError)) return e instanceof Error ? e.message : String(e);
  const where = [e.pos ? formatPos(e.pos) : undefined, e.host, e.field].filter(Boolean).join(': ');
  const text = where ? `${where}: ${e.message}` : e.message;
  return e.hint ? `${text}\n  hint: ${e.hint}` : text;
}

/** The last `n` lines of a command's stderr: what its error message is made of. */
export function lastLines(text: string, n = 5): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The message with its place (file:line:col: field:) but not the host: for lines already under the host's name. */
export function placedMessage(e: unknown): string {
  if (!(e instanceof EdgeError)) return errorMessage(e);
  const where = [e.pos ? formatPos(e.pos) : undefined, e.field].filter(Boolean).join(': ');
  return where ? `${where}: ${e.message}` : e.message;
}

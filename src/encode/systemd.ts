/**
 * The systemd sink: values written into unit files and drop-ins. A newline would start a new
 * directive of the author's choosing (ExecStartPre=…), `%` is a specifier, a trailing backslash
 * joins the next line: a value is refused when it cannot be written as itself.
 */

// Printable ASCII without backslash, quotes or `$` (expanded in Exec lines), and not starting with `-`,
// `@`, `:`, `+` or `!` (Exec prefixes that change how the command runs).
const EXEC_PATH = /^\/[A-Za-z0-9_.,/+=-]*$/;

/** A value for a `Key=value` line (Description=, ConditionPathExists=): one line, `%` doubled. */
export function systemdValue(value: string): string {
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u.test(value)) throw new Error(`refusing to render ${JSON.stringify(value)} into a systemd unit: control or invisible characters`);
  if (value.endsWith('\\')) throw new Error(`refusing to render ${JSON.stringify(value)} into a systemd unit: a trailing backslash joins the next line`);
  if (value !== value.trim()) throw new Error(`refusing to render ${JSON.stringify(value)} into a systemd unit: systemd trims leading and trailing white space`);
  return value.replace(/%/g, '%%');
}

/** An absolute path as the program or an argument of an Exec line: nothing systemd would read as syntax. */
export function systemdExecPath(path: string): string {
  if (!EXEC_PATH.test(path) || path.split('/').includes('..')) {
    throw new Error(`refusing to render ${JSON.stringify(path)} into a systemd Exec line: an absolute path of A-Z a-z 0-9 _ . , / + = - is expected`);
  }
  return path;
}

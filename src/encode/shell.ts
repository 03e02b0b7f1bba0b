/**
 * The shell sink: quoting for the remote POSIX shell. Every remote command in edge is built with
 * these functions, so user input is never pasted into shell text unquoted.
 */
import { termLine } from './terminal.js';

// Words made only of these characters mean the same thing quoted or not; leaving them bare keeps
// commands readable in logs (`sudo -n -- bash -s` rather than `'sudo' '-n' '--' 'bash' '-s'`).
// `~` and `#` are special at the start of a word; `=` is too in zsh (`=cmd` expands to a path),
// which may be a router's login shell, so a word may not start with it.
const SAFE_WORD = /^[A-Za-z0-9_@%+:,./-][A-Za-z0-9_@%+=:,./-]*$/;

/** Quote one word for a POSIX shell: `it's` → `'it'\''s'`. The empty string becomes `''`. */
export function shQuote(s: string): string {
  if (s.includes('\0')) {
    // A NUL cannot travel through argv or a shell word; refusing beats silently truncating.
    throw new TypeError('shQuote: a shell word cannot contain a NUL byte');
  }
  if (SAFE_WORD.test(s)) return s;
  // Inside single quotes nothing is special except the closing quote itself, so a quote is
  // written as: close, escaped quote, reopen.
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Quote each word and join with spaces: the shell sees exactly `args` as argv. */
export function shJoin(args: readonly string[]): string {
  return args.map(shQuote).join(' ');
}

// OpenSSH >= 9.6 (ssh.c valid_hostname) refuses these in a name given on the command line: they
// would be shell syntax once the name reaches a `Match exec` or ProxyCommand through %h or %n.
const SSH_NAME_SYNTAX = /['`"$\\;&<>|(){}]|[\s\p{Cc}]/u;

/** Why `name` cannot be an SSH address or user (shell syntax in it), or undefined when it can. */
export function sshNameProblem(name: string): string | undefined {
  if (name.startsWith('-')) return 'starts with "-" (ssh would read it as an option)';
  const m = SSH_NAME_SYNTAX.exec(name);
  return m ? `holds ${JSON.stringify(m[0])}, shell syntax once ssh_config puts it into a command (OpenSSH 9.6 refuses such names)` : undefined;
}

/**
 * Text for a `#` comment line of a script: a comment cannot be quoted, so anything that could end
 * it (a newline, CR, any control character) or make it read differently from what it says (bidi
 * controls, zero-width and other invisible characters) is written as a visible escape: `\n`,
 * `\u202e`. Names are validated at load; this is the second line of defence for comments.
 */
export function shComment(text: string): string {
  return termLine(text);
}

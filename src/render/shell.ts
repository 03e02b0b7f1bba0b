import { shQuote } from '../encode/index.js';

/**
 * Building blocks of the scripts edge runs on a host. Every script is sent on stdin to `bash -s`,
 * so file contents travel inside the script as base64 heredocs: no temp upload, one exec.
 */

/** Functions every edge script may call. Kept small: each is used by the engine or by changes. */
export const PREAMBLE = `set -eu
umask 077
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# edge_mkdir DIR: a missing directory (and its parents) is created 0755 whatever the umask: files
# are private by default (umask 077), but a directory daemons read as their own user (systemd-networkd
# reads networkd.conf.d as systemd-network) must be searchable; each file carries its own mode.
edge_mkdir() { [ -d "$1" ] || (umask 022 && mkdir -p -- "$1"); }
# edge_write_file PATH MODE OWNER GROUP  (base64 content on stdin): atomic temp + fsync + rename in
# the same dir, then fsync of the dir: a cut leaves the old file or the new one, never a torn one
# (a stray temp file is removed by the restore).
edge_write_file() {
  d=$(dirname "$1"); edge_mkdir "$d"
  t=$(mktemp "$d/.edge.XXXXXX")
  base64 -d > "$t"
  chown "$3:$4" "$t"; chmod "$2" "$t"
  sync "$t" 2>/dev/null || true
  mv -f "$t" "$1"
  sync "$d" 2>/dev/null || true
}
edge_fail() { echo "edge: $*" >&2; exit 1; }
`;

/** A heredoc carrying base64 data; the delimiter can never occur inside base64. */
export function base64Heredoc(data: string | Buffer): string {
  const flat = Buffer.from(data).toString('base64');
  // 76 columns, like base64(1); sliced rather than a RegExp replace, which cost more than encoding.
  const lines: string[] = [];
  for (let i = 0; i < flat.length; i += 76) lines.push(flat.slice(i, i + 76));
  const b64 = lines.join('\n');
  return `<<'EDGE_B64'\n${b64}\nEDGE_B64`;
}

export function writeFileCommand(path: string, content: string, mode: string, owner = 'root', group = 'root'): string {
  return `edge_write_file ${shQuote(path)} ${mode} ${shQuote(owner)} ${shQuote(group)} ${base64Heredoc(content)}`;
}

export function removeFileCommand(path: string): string {
  return `rm -f -- ${shQuote(path)}`;
}

/** Wraps a block so its failure names the step that failed. */
export function step(name: string, body: string): string {
  return `# --- ${name}\n${body}\n`;
}

/**
 * Like writeFileCommand, but the new content must pass `check` (a command given the temporary file
 * as its last argument, e.g. `nft -c -f`) before it replaces `path`. If the check fails, the
 * temporary file is removed, `path` is left untouched, and the script fails with the check's own
 * error output on stderr.
 */
export function writeCheckedFileCommand(path: string, content: string, mode: string, check: string, owner = 'root', group = 'root'): string {
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  return [
    `edge_mkdir ${shQuote(dir)}`,
    `edge_t=$(mktemp ${shQuote(`${dir}/.edge.XXXXXX`)})`,
    `base64 -d > "$edge_t" ${base64Heredoc(content)}`,
    `chown ${shQuote(`${owner}:${group}`)} "$edge_t"; chmod ${mode} "$edge_t"`,
    `if ! ${check} "$edge_t"; then rm -f -- "$edge_t"; edge_fail ${shQuote(`${path}: the new content fails \`${check}\`; the file was not changed`)}; fi`,
    `sync "$edge_t" 2>/dev/null || true`,
    `mv -f -- "$edge_t" ${shQuote(path)}`,
    `sync ${shQuote(dir)} 2>/dev/null || true`,
  ].join('\n');
}

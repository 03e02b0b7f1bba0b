import { shQuote } from '../ssh/quote.js';

/**
 * Building blocks of the scripts edge runs on a host. Every script is sent on stdin to `bash -s`,
 * so file contents travel inside the script as base64 heredocs: no temp upload, one exec.
 */

/** Functions every edge script may call. Kept small: each is used by the engine or by changes. */
export const PREAMBLE = `set -eu
umask 077
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# edge_write_file PATH MODE OWNER GROUP  (base64 content on stdin): atomic temp + rename in the same dir
edge_write_file() {
  d=$(dirname "$1"); mkdir -p "$d"
  t=$(mktemp "$d/.edge.XXXXXX")
  base64 -d > "$t"
  chown "$3:$4" "$t"; chmod "$2" "$t"
  sync "$t" 2>/dev/null || true
  mv -f "$t" "$1"
}
edge_fail() { echo "edge: $*" >&2; exit 1; }
`;

/** A heredoc carrying base64 data; the delimiter can never occur inside base64. */
export function base64Heredoc(data: string | Buffer): string {
  const b64 = Buffer.from(data).toString('base64').replace(/(.{76})/g, '$1\n');
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

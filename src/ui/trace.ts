import type { ExecTraceEvent, SshTrace } from '../ssh/types.js';

/**
 * What -v .. -vvvv print, on stderr so stdout stays what it was: -v one line per exec (time,
 * exit, bytes); -vv also the remote command; -vvv also the script, secrets redacted; -vvvv also
 * ssh2's protocol debug lines.
 */

const REDACTED = '«redacted»';

/** Lines that look like credentials, whatever wrote them. */
const SECRET_PATTERNS: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /\b(auth_pass|password|passwd|secret|token|psk)(\s*[=:]?\s*)("[^"\n]*"|'[^'\n]*'|\S+)/gi,
];

/** The script as -vvv shows it: known secret values and credential-looking values replaced. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join(REDACTED);
  out = out.replace(SECRET_PATTERNS[0]!, REDACTED);
  return out.replace(SECRET_PATTERNS[1]!, (_m, key: string, sep: string) => `${key}${sep}${REDACTED}`);
}

function kib(n: number): string {
  return n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} KiB`;
}

/** Wire bytes, the figures --json sums per host; what gzipped output came to, beside it. */
export function execLine(e: ExecTraceEvent): string {
  const outcome = e.error ? `failed: ${e.error}` : `exit ${e.code ?? 'signal'}`;
  const unzipped = e.bytesDecompressed === undefined ? '' : ` (${kib(e.bytesDecompressed)} decompressed)`;
  return `${e.host}: exec ${e.durationMs} ms, ${outcome}, ${kib(e.bytesSent)} sent, ${kib(e.bytesReceived)} received${unzipped}`;
}

/** The trace for a verbosity (undefined below -v). */
export function sshTrace(verbosity: number, write: (line: string) => void, secrets: readonly string[] = []): SshTrace | undefined {
  if (verbosity < 1) return undefined;
  const trace: SshTrace = {
    exec(e) {
      write(execLine(e));
      if (verbosity >= 2) write(`${e.host}:   command: ${e.command.join(' ')}`);
      if (verbosity >= 3) for (const l of redact(e.script, secrets).replace(/\n$/, '').split('\n')) write(`${e.host}:   | ${l}`);
    },
  };
  if (verbosity >= 4) trace.debug = (host, line) => write(`${host}: ssh: ${redact(line, secrets)}`);
  return trace;
}

import { execFile, spawnSync } from 'node:child_process';
import { EdgeError } from '../errors.js';
import { KEYWORDS, type SshValues } from './ssh-config-read.js';
import type { SshCliOption } from './types.js';

/** Keywords ssh -G prints as one space-separated list on one line. */
const LIST_KEYS = new Set(['userknownhostsfile', 'globalknownhostsfile']);

let available: boolean | undefined;

/** True when an OpenSSH client is installed (checked once). */
export function sshInstalled(): boolean {
  available ??= spawnSync('ssh', ['-V'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  return available;
}

export interface AskInput {
  host: string;
  user?: string;
  port?: number;
  /** -F FILE: only this file is read (not ~/.ssh/config, not /etc/ssh/ssh_config). */
  configFile?: string;
  /** Command-line options before -l/-p (Ansible's ssh_args) and after them (ssh_common_args, ssh_extra_args). */
  optionsFirst?: readonly SshCliOption[];
  options?: readonly SshCliOption[];
}

/** An argument as ssh's argv_split reads it back: quoted when it holds a space, a quote, `\\` or `#`. */
function quoteArg(v: string): string {
  return /[\s"'\\#]/.test(v) || v === '' ? `"${v.replace(/["\\]/g, '\\$&')}"` : v;
}

/** The argv ssh is given for these options (-J as -J, every other one as -o KEYWORD=VALUES). */
export function cliArgv(options: readonly SshCliOption[] = []): string[] {
  return options.flatMap((o) => ('jump' in o ? ['-J', o.jump] : ['-o', `${o.keyword}=${o.values.map(quoteArg).join(' ')}`]));
}

/**
 * `ssh -G [-F FILE] [-l USER] [-p PORT] -- HOST`: how OpenSSH itself resolves the host (Include,
 * Match, tokens and all), as keyword → values. Nothing is connected to. An ssh refusal (a bad
 * token in HostName, a bad Port) is a CONFIG error with ssh's own words.
 */
export function askSsh(input: AskInput): SshValues {
  return parseAnswer(askSshAnswer(input));
}

/**
 * What ssh -G said, cut to the lines edge reads (parseAnswer makes it keyword → values). A run
 * keeps every host's answer: as one small string of its own (~400 bytes) rather than the whole
 * output (~3 KB, ~80 keywords) or a Map of it (~4 KB), 10,000 hosts' answers held 76 MB.
 */
export type SshAnswer = string;

export function askSshAnswer(input: AskInput): SshAnswer {
  const r = spawnSync('ssh', sshGArgs(input), { encoding: 'utf8', timeout: ASK_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) throw refusal(input, r.stderr || r.error?.message || `exit ${r.status}`);
  return keptLines(r.stdout);
}

const ASK_TIMEOUT_MS = 10_000;

/**
 * askSshAnswer without blocking, or undefined where ssh refused (the blocking ask, made where the
 * host is resolved, then says why in its place and order).
 */
export function askSshLater(input: AskInput): Promise<SshAnswer | undefined> {
  return new Promise((resolve) => {
    execFile('ssh', sshGArgs(input), { encoding: 'utf8', timeout: ASK_TIMEOUT_MS }, (err, stdout) => resolve(err ? undefined : keptLines(stdout)));
  });
}

function sshGArgs(input: AskInput): string[] {
  const args = ['-G'];
  if (input.configFile !== undefined) args.push('-F', input.configFile);
  args.push(...cliArgv(input.optionsFirst));
  if (input.user !== undefined) args.push('-l', input.user);
  if (input.port !== undefined) args.push('-p', String(input.port));
  args.push(...cliArgv(input.options), '--', input.host);
  return args;
}

function refusal(input: AskInput, stderr: string): EdgeError {
  const why = stderr.trim().split('\n').filter((l) => !/Pseudo-terminal/.test(l)).join('; ');
  return new EdgeError('CONFIG', `ssh config for ${input.host}: ssh -G refused it: ${why}`, { host: input.host });
}

function keptLines(stdout: string): SshAnswer {
  const kept = stdout.split('\n').filter((line) => {
    const sp = line.indexOf(' ');
    return sp > 0 && KEYWORDS.has(line.slice(0, sp));
  });
  // A string of its own: a slice would keep ssh's whole output alive with it.
  return Buffer.from(kept.join('\n'), 'utf8').toString('utf8');
}

/** The answer as keyword → values, for the keywords edge reads. */
export function parseAnswer(answer: SshAnswer): SshValues {
  const values: SshValues = new Map();
  for (const line of answer.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const key = line.slice(0, sp);
    const value = line.slice(sp + 1);
    const items = LIST_KEYS.has(key) ? value.split(' ').filter(Boolean) : [value];
    values.set(key, [...(values.get(key) ?? []), ...items]);
  }
  return values;
}

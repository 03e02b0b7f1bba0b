import { unsafeTextProblem } from '../config/text.js';
import { splitArgs } from '../ssh/ssh-config-read.js';
import { parseProxyJump } from '../ssh/ssh-config.js';
import type { SshCliOption } from '../ssh/types.js';
import { shlexSplit } from './shlex.js';

/**
 * ansible_ssh_args, ansible_ssh_common_args and ansible_ssh_extra_args (and ansible.cfg's
 * ssh_args, ssh_common_args, ssh_extra_args): split as Ansible's ssh plugin splits them
 * (`shlex.split`, each word stripped), then read as ssh reads its command line. edge connects with
 * its own SSH client, so it honours the options that decide where, as whom and how patiently it
 * connects, and refuses every other one by name: an option it dropped would be a path or a check
 * the team did not choose.
 */

export type SshArgsField = 'ssh_args' | 'ssh_common_args' | 'ssh_extra_args';

/** POSIX user names, plus @ and \ for directory users (user@REALM, DOMAIN\user). */
export const SSH_USER_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.@\\-]{0,63}\$?$/;

const HONOURED = 'ProxyJump (-J), Port (-p), User (-l), IdentityFile (-i), UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout, ServerAliveInterval, ServerAliveCountMax';

/** Checks one honoured keyword's values; returns the problem, if any. */
const CHECKS: Record<string, (v: string[]) => string | undefined> = {
  proxyjump: (v) => one(v) ?? (v[0]!.toLowerCase() === 'none' ? undefined : jumpProblem(v[0]!)),
  port: (v) => one(v) ?? (/^[0-9]{1,5}$/.test(v[0]!) && Number(v[0]) >= 1 && Number(v[0]) <= 65535 ? undefined : `${v[0]} is not a port number`),
  user: (v) => one(v) ?? (SSH_USER_RE.test(v[0]!) ? undefined : `${JSON.stringify(v[0])} is not a user name`),
  identityfile: (v) => one(v) ?? pathProblem(v),
  userknownhostsfile: (v) => (v.length === 0 ? 'needs a file' : pathProblem(v)),
  stricthostkeychecking: (v) =>
    one(v) ?? (['yes', 'no', 'ask', 'accept-new', 'off', 'true', 'false'].includes(v[0]!.toLowerCase()) ? undefined : `${v[0]} is not yes, no, ask or accept-new`),
  connecttimeout: seconds,
  serveraliveinterval: seconds,
  serveralivecountmax: seconds,
};

/**
 * Options about sharing and compressing one ssh process's connection (Ansible's default ssh_args
 * are made of them): edge holds one connection per host for the whole run, which is what they buy
 * Ansible, so they are accepted and change nothing.
 */
const CONNECTION_SHARING = new Set(['controlmaster', 'controlpersist', 'controlpath', 'compression']);

const REFUSED: Record<string, string> = {
  proxycommand: 'ProxyCommand is not supported: use ProxyJump (ProxyCommand "ssh -W %h:%p bastion" is -J bastion)',
};

/** The flags ssh takes an argument for that are an ssh_config keyword; -o and -J are read apart. */
const FLAG_KEYWORD: Record<string, string> = { p: 'port', l: 'user', i: 'identityfile' };

function one(v: string[]): string | undefined {
  if (v.length === 0) return 'needs a value';
  return v.length > 1 ? `takes one value, got ${v.length}` : undefined;
}

function seconds(v: string[]): string | undefined {
  return one(v) ?? (/^[0-9]{1,6}$/.test(v[0]!) ? undefined : `${v[0]} is not a whole number of seconds`);
}

function pathProblem(v: string[]): string | undefined {
  for (const p of v) {
    const problem = unsafeTextProblem(p, { allowSpace: true });
    if (problem) return `path ${problem}`;
  }
  return undefined;
}

function jumpProblem(spec: string): string | undefined {
  try {
    parseProxyJump(spec);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** `-o Keyword=value` / `-o "Keyword value"`, as readconf.c splits a line. */
function keywordOption(text: string, field: SshArgsField): SshCliOption | string {
  const m = /^\s*([^\s=]+)(?:\s*=\s*|\s+)(.*)$/.exec(text);
  if (!m) return `-o ${JSON.stringify(text)}: expected -o Keyword=value`;
  const keyword = m[1]!.toLowerCase();
  let values: string[];
  try {
    values = splitArgs(m[2]!.trim(), `-o ${m[1]}`);
  } catch (e) {
    return (e as Error).message;
  }
  return keywordChecked(m[1]!, keyword, values, field);
}

function keywordChecked(name: string, keyword: string, values: string[], field: SshArgsField): SshCliOption | string {
  if (REFUSED[keyword]) return REFUSED[keyword];
  if (CONNECTION_SHARING.has(keyword)) return { keyword, values: [] };
  const check = CHECKS[keyword];
  if (!check) return `${name} is an ssh option edge cannot honour (it connects with its own SSH client); it honours ${HONOURED}`;
  // Ansible puts -o ConnectTimeout=<timeout> before ssh_common_args and ssh_extra_args: there it never takes effect.
  if (keyword === 'connecttimeout' && field !== 'ssh_args') {
    return `ConnectTimeout never takes effect in ${field}: Ansible passes -o ConnectTimeout=<timeout> before it; set timeout instead (ansible.cfg [defaults] timeout, ANSIBLE_TIMEOUT or --connect-timeout)`;
  }
  const problem = check(values);
  return problem ? `${name} ${problem}` : { keyword, values };
}

/**
 * The options one of these variables gives ssh, in order; a string is why edge refuses it. The
 * connection-sharing options come out with no values and are dropped by the caller.
 */
function parse(text: string, field: SshArgsField): SshCliOption[] | string {
  const split = shlexSplit(text, { comments: false });
  if ('error' in split) return `cannot split it as Ansible does: ${split.error}`;
  const words = split.words.map((w) => w.trim()).filter(Boolean);
  const out: SshCliOption[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const flag = /^-([A-Za-z])(.*)$/s.exec(w);
    if (!flag) return `${JSON.stringify(w)} is not an ssh option (expected -o Keyword=value, -J, -p, -l, -i or -C)`;
    const [, letter, attached] = flag as unknown as [string, string, string];
    if (letter === 'C' && attached === '') continue; // compression: see CONNECTION_SHARING
    if (letter === 'F') return '-F is not supported: edge reads ~/.ssh/config and /etc/ssh/ssh_config; put the Host block there, or give the bastion with -J';
    if (letter !== 'o' && letter !== 'J' && !FLAG_KEYWORD[letter]) return `-${letter} is an ssh flag edge cannot honour; it honours ${HONOURED}`;
    const arg = attached !== '' ? attached : words[++i];
    if (arg === undefined) return `-${letter} needs an argument`;
    const got = letter === 'o' ? keywordOption(arg, field) : letter === 'J' ? jumpOption(arg) : keywordChecked(`-${letter}`, FLAG_KEYWORD[letter]!, [arg], field);
    if (typeof got === 'string') return got;
    if (!('keyword' in got) || got.values.length > 0) out.push(got);
  }
  return out;
}

function jumpOption(spec: string): SshCliOption | string {
  const problem = jumpProblem(spec);
  return problem ? `-J ${problem}` : { jump: spec };
}

/** The options, or throws the reason as an Error (the caller places it at the variable). */
export function sshArgsOptions(text: string, field: SshArgsField): SshCliOption[] {
  const got = parse(text, field);
  if (typeof got === 'string') throw new Error(got);
  return got;
}

/** Why edge refuses this value, if it does (for the inventory schema). */
export function sshArgsProblem(text: string, field: SshArgsField): string | undefined {
  const got = parse(text, field);
  return typeof got === 'string' ? got : undefined;
}

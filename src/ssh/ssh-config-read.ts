import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { FILE_CAPS, isMissingFile, readBoundedText } from '../config/read-file.js';
import { sshNameProblem } from '../encode/index.js';
import { EdgeError } from '../errors.js';
import type { SshCliOption } from './types.js';
import { matchWildcard } from './wildcard.js';

/**
 * ssh_config evaluated as OpenSSH 9's readconf.c does, for when `ssh -G` cannot be asked: the
 * values come out as `ssh -G` prints them (lowercase keyword → values), for the keywords edge
 * uses. Host patterns are whitespace-separated globs (a comma is part of the pattern), matched
 * case-sensitively against the name as given; Match (all, final, canonical, exec, host,
 * originalhost, user, localuser, with `!`) is evaluated, exec through /bin/sh; Include is read
 * in place, in the state of the block it is in; the first value obtained wins, except for the
 * keywords that accumulate (IdentityFile). HostName takes only %h and %%, as in ssh.
 */

export type SshValues = Map<string, string[]>;

export interface ReadInput {
  /** The name given to ssh (`ssh NAME`). */
  host: string;
  /** -l and -p: given on the command line, they win over the files. */
  user?: string;
  port?: number;
  /** Command-line options given before -l/-p, and after them (see SshCliOption). */
  optionsFirst?: readonly SshCliOption[];
  options?: readonly SshCliOption[];
  /** The user file first (~/.ssh/config or -F), then the system one. */
  files: readonly string[];
  home: string;
  localUser: string;
}

/** The keywords edge reads; others are skipped (ssh itself would reject unknown ones). */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'hostname', 'user', 'port', 'identityfile', 'identityagent', 'proxyjump', 'proxycommand',
  'userknownhostsfile', 'globalknownhostsfile', 'stricthostkeychecking', 'connecttimeout',
  'serveraliveinterval', 'serveralivecountmax',
]);
/** Keywords whose every value counts (in order), not just the first one obtained. */
const ACCUMULATE = new Set(['identityfile']);
/** Keywords whose arguments are one list (the rest take one argument). */
const LISTS = new Set(['userknownhostsfile', 'globalknownhostsfile', 'proxycommand']);
const DEFAULT_IDENTITIES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'];

/** ssh's argv_split: whitespace separates, quotes group, `\` escapes a quote or itself, `#` starts a comment. */
export function splitArgs(s: string, where: string): string[] {
  const out: string[] = [];
  let cur: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (!quote && (c === ' ' || c === '\t')) {
      if (cur !== undefined) out.push(cur);
      cur = undefined;
    } else if (!quote && c === '#' && cur === undefined) break;
    else if (c === '\\' && (s[i + 1] === '"' || s[i + 1] === "'" || s[i + 1] === '\\')) cur = (cur ?? '') + s[++i];
    else if (quote && c === quote) quote = undefined;
    else if (!quote && (c === '"' || c === "'")) {
      quote = c;
      cur ??= '';
    } else cur = (cur ?? '') + c;
  }
  if (quote) throw new EdgeError('CONFIG', `${where}: invalid quotes`);
  if (cur !== undefined) out.push(cur);
  return out;
}

/** match_pattern_list: comma-separated, `!` negates and wins. */
function matchList(text: string, list: string, lower: boolean): boolean {
  let got = false;
  for (const raw of list.split(',')) {
    const negated = raw.startsWith('!');
    const p = lower ? (negated ? raw.slice(1) : raw).toLowerCase() : negated ? raw.slice(1) : raw;
    if (matchWildcard(lower ? text.toLowerCase() : text, p)) {
      if (negated) return false;
      got = true;
    }
  }
  return got;
}

interface State {
  input: ReadInput;
  values: SshValues;
  final: boolean;
  wantFinal: boolean;
}

function tokens(s: string, t: Record<string, string>, where: string, allowed: string): string {
  return s.replace(/%(.)/g, (_, c: string) => {
    if (c === '%') return '%';
    if (!allowed.includes(c) || t[c] === undefined) throw new EdgeError('CONFIG', `${where}: unknown token %${c} (ssh refuses it too)`);
    return t[c]!;
  });
}

/** The host Match host sees: HostName (with %h) once it is set, else the name given. */
function currentHost(st: State): string {
  const hn = st.values.get('hostname')?.[0];
  return hn === undefined ? st.input.host : hn.replace(/%h/g, st.input.host).replace(/%%/g, '%');
}

function matchCriteria(st: State, args: string[], where: string): boolean {
  let result = true;
  for (let i = 0; i < args.length; i++) {
    let word = args[i]!.toLowerCase();
    const negate = word.startsWith('!');
    if (negate) word = word.slice(1);
    if (word === 'all') {
      if (negate) result = false;
      continue;
    }
    if (word === 'canonical' || word === 'final') {
      if (word === 'final') st.wantFinal = true;
      if (st.final === negate) result = false;
      continue;
    }
    const arg = args[++i];
    if (arg === undefined) throw new EdgeError('CONFIG', `${where}: Match ${word} needs an argument`);
    let hit: boolean;
    const user = st.values.get('user')?.[0] ?? st.input.localUser;
    switch (word) {
      case 'host':
        hit = matchList(currentHost(st), arg, true);
        break;
      case 'originalhost':
        hit = matchList(st.input.host, arg, true);
        break;
      case 'user':
        hit = matchList(user, arg, false);
        break;
      case 'localuser':
        hit = matchList(st.input.localUser, arg, false);
        break;
      case 'exec': {
        if (!result) {
          hit = false; // ssh skips the command once an earlier criterion failed
          break;
        }
        const port = st.values.get('port')?.[0] ?? '22';
        const t = { h: currentHost(st), n: st.input.host, r: user, p: port, u: st.input.localUser, d: st.input.home, l: '', L: '' };
        const cmd = tokens(arg, t, where, 'hnrpudlL');
        // The command goes to /bin/sh: a token carrying shell syntax (a name like r1$(id)) is
        // refused, as OpenSSH >= 9.6 refuses such names, instead of being run.
        for (const [c, v] of Object.entries(t)) {
          if (arg.includes(`%${c}`) && sshNameProblem(v)) {
            throw new EdgeError('CONFIG', `${where}: Match exec: %${c} is ${JSON.stringify(v)}, which ${sshNameProblem(v)}: refused, not run`);
          }
        }
        hit = spawnSync('/bin/sh', ['-c', cmd], { stdio: 'ignore', timeout: 10_000 }).status === 0;
        break;
      }
      default:
        throw new EdgeError('CONFIG', `${where}: unsupported Match criterion ${word}`);
    }
    if (hit === negate) result = false;
  }
  return result;
}

function setValue(st: State, key: string, args: string[]): void {
  if (!KEYWORDS.has(key)) return;
  const value = LISTS.has(key) ? args : [args[0]!];
  if (ACCUMULATE.has(key)) st.values.set(key, [...(st.values.get(key) ?? []), ...value]);
  else if (!st.values.has(key)) st.values.set(key, value);
}

function readFile(st: State, file: string, active: { on: boolean }, neverMatch: boolean, user: boolean, depth: number): void {
  if (depth > 16) throw new EdgeError('CONFIG', `ssh config ${file}: Include nested too deeply`);
  let text: string;
  try {
    text = readBoundedText(file, { what: 'ssh config', maxBytes: FILE_CAPS.ssh_config });
  } catch (e) {
    if (isMissingFile(e)) return;
    throw e;
  }
  text.split('\n').forEach((raw, n) => {
    const where = `${file}:${n + 1}`;
    const m = /^\s*([^\s=]+)(?:\s*=\s*|\s+)(.*)$/.exec(raw.replace(/\s+$/, ''));
    if (!m || m[1]!.startsWith('#')) return;
    const key = m[1]!.toLowerCase();
    const args = splitArgs(m[2]!, where);
    if (args.length === 0) throw new EdgeError('CONFIG', `${where}: no argument after keyword "${m[1]}"`);
    if (key === 'host') {
      let on = false;
      for (const a of args) {
        const negated = a.startsWith('!');
        if (matchWildcard(st.input.host, negated ? a.slice(1) : a)) {
          if (negated) {
            on = false;
            break;
          }
          on = true;
        }
      }
      active.on = !neverMatch && on;
    } else if (key === 'match') {
      active.on = matchCriteria(st, args, where) && !neverMatch;
    } else if (key === 'include') {
      const was = active.on;
      for (const inc of includePaths(args, st.input.home, user)) readFile(st, inc, active, neverMatch || !was, user, depth + 1);
      active.on = was;
    } else {
      // ssh checks a Port on every line, in force or not
      const value = key === 'port' ? [portNumber(args[0]!, where)] : args;
      if (active.on) setValue(st, key, value);
    }
  });
}

let servicesText: string | undefined;
function services(): string {
  if (servicesText === undefined) {
    try {
      servicesText = readFileSync('/etc/services', 'utf8');
    } catch {
      servicesText = '';
    }
  }
  return servicesText;
}

/** ssh's a2port: a number, or a service name from /etc/services (`Port ssh` is 22). */
function portNumber(value: string, where: string): string {
  if (/^[0-9]+$/.test(value) && Number(value) >= 1 && Number(value) <= 65535) return String(Number(value));
  for (const line of services().split('\n')) {
    const [name, portProto, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (portProto?.endsWith('/tcp') && (name === value || aliases.includes(value))) return portProto.slice(0, -4);
  }
  throw new EdgeError('CONFIG', `${where}: Port ${value} is not a port number`);
}

function includePaths(patterns: string[], home: string, user: boolean): string[] {
  const out: string[] = [];
  for (const raw of patterns) {
    let p = raw === '~' ? home : raw.startsWith('~/') ? join(home, raw.slice(2)) : raw;
    // Relative includes: under ~/.ssh for the user's file, /etc/ssh for the system one (ssh_config(5)).
    if (!isAbsolute(p)) p = join(user ? join(home, '.ssh') : '/etc/ssh', p);
    out.push(...globPath(p));
  }
  return out;
}

/** glob(3) over path components, sorted, hidden files only when asked for. */
function globPath(p: string): string[] {
  if (!/[*?[]/.test(p)) return [p];
  const dir = dirname(p);
  const dirs = /[*?[]/.test(dir) ? globPath(dir) : [dir];
  const name = basename(p);
  const out: string[] = [];
  for (const d of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(d).sort();
    } catch {
      names = [];
    }
    for (const n of names) if ((name.startsWith('.') || !n.startsWith('.')) && matchWildcard(n, name)) out.push(join(d, n));
  }
  return out;
}

/** ssh's command line, read before any file: -o as a config line in force, -J as ssh.c takes it. */
function applyCli(st: State, options: readonly SshCliOption[] = []): void {
  for (const o of options) {
    if ('jump' in o) {
      if (st.values.has('proxyjump')) throw new EdgeError('CONFIG', 'ssh: Only a single -J option is permitted (a -J after -o ProxyJump, or a second -J)');
      if (st.values.has('proxycommand')) throw new EdgeError('CONFIG', 'ssh: Cannot specify -J with ProxyCommand');
      st.values.set('proxyjump', [o.jump]);
      st.values.set('proxycommand', ['none']);
    } else setValue(st, o.keyword, o.keyword === 'port' ? [portNumber(o.values[0]!, 'command line')] : o.values);
  }
}

/** Evaluates the files for one host; the result has ssh -G's defaults filled in. */
export function readSshValues(input: ReadInput): SshValues {
  const st: State = { input, values: new Map(), final: false, wantFinal: false };
  applyCli(st, input.optionsFirst);
  // -l and -p sit between Ansible's ssh_args and its ssh_common_args; like -o, the first value wins.
  if (input.user !== undefined && !st.values.has('user')) st.values.set('user', [input.user]);
  if (input.port !== undefined && !st.values.has('port')) st.values.set('port', [String(input.port)]);
  applyCli(st, input.options);
  const pass = () => input.files.forEach((f, i) => readFile(st, f, { on: true }, false, i === 0, 0));
  pass();
  if (st.wantFinal) {
    st.final = true;
    pass();
  }
  const v = st.values;
  const hostName = v.get('hostname')?.[0];
  const where = `ssh config for ${input.host}`;
  v.set('hostname', [(hostName === undefined ? input.host : tokens(hostName, { h: input.host }, `${where}: HostName`, 'h')).toLowerCase()]);
  v.set('user', [v.get('user')?.[0] ?? input.localUser]);
  v.set('port', [v.get('port')?.[0] ?? '22']);
  if (v.get('proxycommand')?.[0]?.toLowerCase() === 'none') v.delete('proxycommand');
  v.set('serveraliveinterval', [v.get('serveraliveinterval')?.[0] ?? '0']);
  v.set('serveralivecountmax', [v.get('serveralivecountmax')?.[0] ?? '3']);
  if (!v.has('identityfile')) v.set('identityfile', DEFAULT_IDENTITIES.map((k) => `~/.ssh/${k}`));
  const tilde = (p: string) => (p.startsWith('~/') ? join(input.home, p.slice(2)) : p);
  v.set('userknownhostsfile', (v.get('userknownhostsfile') ?? ['~/.ssh/known_hosts', '~/.ssh/known_hosts2']).map(tilde));
  v.set('globalknownhostsfile', v.get('globalknownhostsfile') ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);
  // ssh -G prints the first name of each StrictHostKeyChecking state
  const strict = (v.get('stricthostkeychecking')?.[0] ?? 'ask').toLowerCase();
  v.set('stricthostkeychecking', [({ yes: 'true', no: 'false', off: 'false' } as Record<string, string>)[strict] ?? strict]);
  return v;
}

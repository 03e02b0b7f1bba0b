import { existsSync, statSync } from 'node:fs';
import { availableParallelism, homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { EdgeError } from '../errors.js';
import { readSshValues, type SshValues } from './ssh-config-read.js';
import { askSshAnswer, askSshLater, parseAnswer, sshInstalled, type AskInput, type SshAnswer } from './ssh-g.js';
import type { SshCliOption, SshTarget } from './types.js';

/**
 * Resolve how to reach a host the way `ssh` would, given what the inventory says: OpenSSH itself
 * (`ssh -G`) is asked when installed, the built-in reader (ssh-config-read.ts) otherwise.
 *
 * Precedence mirrors what Ansible does when it runs `ssh -o User=.. -o Port=.. -i KEY ansible_host`:
 *  - the name looked up in ssh_config is ansible_host if set, else the inventory name;
 *  - HostName from ssh_config still applies to that name (as it would for `ssh ansible_host`);
 *  - ansible_user / ansible_port / ansible_ssh_private_key_file beat ssh_config, which beats the
 *    defaults (local user, port 22, ssh's default identities that exist, SSH_AUTH_SOCK);
 *  - ansible_ssh_args come before all of these and ansible_ssh_common_args/_extra_args after the
 *    user and port, as in the command line Ansible builds: on ssh's command line the first value
 *    obtained wins, and the command line is read before ssh_config.
 */

export interface InventoryConnection {
  host?: string;
  user?: string;
  port?: number;
  privateKeyFile?: string;
  /** ssh command-line options before the user and port (ansible_ssh_args), and after them. */
  sshOptionsFirst?: readonly SshCliOption[];
  sshOptions?: readonly SshCliOption[];
}

export interface SshConfigOptions {
  /** Default: ~/.ssh/config then /etc/ssh/ssh_config; the first value obtained wins, as in ssh. */
  configFiles?: string[];
  /** auto (default, unless EDGE_SSH_CONFIG=builtin): ask `ssh -G` when it can answer for these files, else the built-in reader. */
  backend?: 'auto' | 'builtin';
  home?: string;
  localUser?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ResolvedHost {
  name: string;
  host: string;
  port: number;
  user: string;
  privateKeyPath?: string;
  identityFiles: string[];
  agent?: string;
  /** Raw ProxyJump value (`[user@]host[:port]`, comma-separated chain), `none` removed. */
  proxyJump?: string;
  /** UserKnownHostsFile then GlobalKnownHostsFile, expanded. */
  knownHostsFiles: string[];
  /** ssh -G's words (true, false, ask, accept-new): accept-new and false let edge record a new key, never a changed one. */
  strictHostKeyChecking?: string;
  connectTimeoutMs?: number;
  /** ServerAliveInterval / ServerAliveCountMax; unset (0) leaves edge's own keepalive. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
}

const MAX_JUMPS = 8;

interface Ctx {
  home: string;
  localUser: string;
  env: NodeJS.ProcessEnv;
  files: string[];
  /** `ssh -G` with this -F (undefined: ssh's own default files), or false: the built-in reader. */
  ask: { configFile?: string } | false;
}

function context(opts: SshConfigOptions): Ctx {
  const home = opts.home ?? homedir();
  const env = opts.env ?? process.env;
  const realUser = safeUserName(env);
  const localUser = opts.localUser ?? realUser;
  const defaults = [join(home, '.ssh', 'config'), '/etc/ssh/ssh_config'];
  const files = opts.configFiles ?? defaults;
  return { home, env, localUser, files, ask: askFor(opts, files, home === homedir() && localUser === realUser, env) };
}

/**
 * OpenSSH is asked whenever it can answer for exactly these files as this user: it gets Include,
 * Match and tokens right by definition. Otherwise (no ssh, a home or user other than the real
 * one, several explicit files) the built-in reader answers, which the parity test holds to ssh -G.
 */
function askFor(opts: SshConfigOptions, files: readonly string[], sameUser: boolean, env: NodeJS.ProcessEnv): Ctx['ask'] {
  // EDGE_SSH_CONFIG=builtin skips the ssh -G process per host (~15 ms each on a loaded 2-core machine)
  const backend = opts.backend ?? (env.EDGE_SSH_CONFIG === 'builtin' ? 'builtin' : 'auto');
  if (backend === 'builtin' || !sameUser || !sshInstalled()) return false;
  if (opts.configFiles === undefined) return {};
  if (files.length !== 1) return false;
  if (!existsSync(files[0]!)) return { configFile: '/dev/null' };
  // Not a regular file (/dev/zero, a FIFO): the built-in reader refuses it by name; ssh would hang on it.
  return statSync(files[0]!).isFile() ? { configFile: files[0] } : false;
}

function safeUserName(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    // userInfo() throws when the uid has no passwd entry (some containers).
    return env.USER ?? env.LOGNAME ?? 'root';
  }
}

function expandTilde(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return p;
}

interface Tokens {
  h: string;
  r?: string;
  p?: number;
  n?: string;
  u: string;
  d: string;
}

/** The ssh_config TOKENS edge expands in paths: %h %r %p %n %u %d and %%. Others are left as written. */
export function expandTokens(s: string, t: Tokens): string {
  return s.replace(/%([%hrpnud])/g, (whole, c: string) => {
    switch (c) {
      case '%':
        return '%';
      case 'h':
        return t.h;
      case 'r':
        return t.r ?? whole;
      case 'p':
        return t.p === undefined ? whole : String(t.p);
      case 'n':
        return t.n ?? whole;
      case 'u':
        return t.u;
      case 'd':
        return t.d;
      default:
        return whole;
    }
  });
}

/** What ssh_config says for a name, as `ssh -G` prints it (from ssh itself, or the built-in reader). */
type LookupInput = Pick<InventoryConnection, 'user' | 'port' | 'sshOptionsFirst' | 'sshOptions'>;

export function sshConfigValues(name: string, inv: LookupInput, opts: SshConfigOptions = {}): SshValues {
  return valuesFor(context(opts), name, inv);
}

/** ssh -G answers, per process: a jump host shared by many routers is asked about once. */
const asked = new Map<string, SshAnswer>();

/** Where an answer is kept in `asked`: one key for the blocking ask and the one made ahead. */
const askedKey = (input: AskInput) => JSON.stringify(input);

/** The ssh -G question for `name`, or undefined where the built-in reader answers. */
function askInputOf(ctx: Ctx, name: string, inv: LookupInput): AskInput | undefined {
  if (!ctx.ask) return undefined;
  return { host: name, user: inv.user, port: inv.port, optionsFirst: inv.sshOptionsFirst, options: inv.sshOptions, configFile: ctx.ask.configFile };
}

function valuesFor(ctx: Ctx, name: string, inv: LookupInput): SshValues {
  const input = askInputOf(ctx, name, inv);
  if (!input) {
    const cli = { optionsFirst: inv.sshOptionsFirst, options: inv.sshOptions };
    return readSshValues({ host: name, user: inv.user, port: inv.port, ...cli, files: ctx.files, home: ctx.home, localUser: ctx.localUser });
  }
  const key = askedKey(input);
  let answer = asked.get(key);
  if (answer === undefined) asked.set(key, (answer = askSshAnswer(input)));
  return parseAnswer(answer);
}

/**
 * Asks ssh -G about many hosts at once, a few processes at a time, so that resolving them one by
 * one afterwards (resolveTarget, which must stay synchronous and in order: the first bad host
 * stops the run before any is touched) finds every answer waiting. One ssh -G costs ~20 ms of CPU
 * and ~25 ms of wall time; asked in turn, 10,000 routers kept a run from starting for minutes.
 * A refusal is not kept: the blocking ask in its place says why. Jump hosts are left to it too
 * (few, and asked once each). `signal` aborted, it stops asking.
 */
export async function askAhead(
  hosts: readonly { name: string; inv: InventoryConnection }[],
  opts: SshConfigOptions = {},
  signal?: AbortSignal,
): Promise<void> {
  const ctx = context(opts);
  const todo = new Map<string, AskInput>();
  for (const h of hosts) {
    const input = askInputOf(ctx, h.inv.host ?? h.name, h.inv);
    if (input && !asked.has(askedKey(input))) todo.set(askedKey(input), input);
  }
  const queue = [...todo];
  const worker = async () => {
    // An interrupted run asks no more: it ends before any host starts.
    for (let next = queue.pop(); next && !signal?.aborted; next = queue.pop()) {
      const answer = await askSshLater(next[1]);
      if (answer !== undefined) asked.set(next[0], answer);
    }
  };
  // ssh -G is CPU-bound: one process per core keeps them busy without starving the rest.
  await Promise.all(Array.from({ length: Math.min(todo.size, availableParallelism()) }, worker));
}

function resolveWith(ctx: Ctx, name: string, inv: InventoryConnection): ResolvedHost {
  const lookupName = inv.host ?? name;
  const cfg = valuesFor(ctx, lookupName, inv);
  const one = (k: string) => cfg.get(k)?.[0];
  const set = (v: string | undefined) => (v === undefined || v.toLowerCase() === 'none' ? undefined : v);
  const where = `ssh config for ${lookupName}`;

  const host = one('hostname') ?? lookupName;
  const user = one('user') ?? ctx.localUser;
  const port = Number(one('port') ?? 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new EdgeError('CONFIG', `${where}: Port ${one('port')} is not a port number`, { host: name });
  }

  if (set(cfg.get('proxycommand')?.join(' '))) {
    throw new EdgeError('CONFIG', `${where}: ProxyCommand is not supported`, {
      host: name,
      hint: 'use ProxyJump instead (ProxyCommand "ssh -W %h:%p bastion" is ProxyJump bastion)',
    });
  }

  const tokens: Tokens = { h: host, r: user, p: port, n: lookupName, u: ctx.localUser, d: ctx.home };
  const expandPath = (p: string) => expandTilde(expandTokens(p, tokens), ctx.home);

  // ssh skips IdentityFile entries that do not exist; so do we (the inventory key is kept, below,
  // so a typo there is reported rather than silently replaced by another key).
  const identityFiles = (cfg.get('identityfile') ?? [])
    .filter((k) => k.toLowerCase() !== 'none')
    .map(expandPath)
    .filter((k) => existsSync(k));

  const identityAgent = one('identityagent');
  let agent: string | undefined;
  if (identityAgent === undefined || identityAgent === 'SSH_AUTH_SOCK') agent = ctx.env.SSH_AUTH_SOCK || undefined;
  else if (identityAgent.toLowerCase() !== 'none') {
    agent = identityAgent.startsWith('$') ? ctx.env[identityAgent.slice(1)] || undefined : expandPath(identityAgent);
  }

  const knownHostsFiles = [...(cfg.get('userknownhostsfile') ?? []), ...(cfg.get('globalknownhostsfile') ?? [])]
    .filter((f) => f.toLowerCase() !== 'none')
    .map(expandPath);

  const positive = (k: string) => {
    const n = Number(one(k));
    return Number.isFinite(n) && n > 0 ? n : undefined;
  };

  return {
    name,
    host,
    port,
    user,
    privateKeyPath: inv.privateKeyFile === undefined ? undefined : expandPath(inv.privateKeyFile),
    identityFiles,
    agent,
    proxyJump: set(one('proxyjump')),
    knownHostsFiles,
    strictHostKeyChecking: one('stricthostkeychecking'),
    connectTimeoutMs: mul(positive('connecttimeout'), 1000),
    keepaliveIntervalMs: mul(positive('serveraliveinterval'), 1000),
    keepaliveCountMax: positive('serveralivecountmax'),
  };
}

function mul(n: number | undefined, by: number): number | undefined {
  return n === undefined ? undefined : n * by;
}

/** Resolve one host through ssh_config (see the precedence note at the top of this file). */
export function resolveHost(name: string, inv: InventoryConnection = {}, opts: SshConfigOptions = {}): ResolvedHost {
  return resolveWith(context(opts), name, inv);
}

export interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

/** `[user@]host[:port]` or `ssh://[user@]host[:port]`, comma-separated; IPv6 as `[addr]:port`. */
export function parseProxyJump(spec: string): JumpSpec[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((hop) => {
      const m = /^(?:ssh:\/\/)?(?:([^@]+)@)?(\[[^\]]+\]|[^:@/]+)(?::(\d+))?\/?$/.exec(hop);
      if (!m) throw new EdgeError('CONFIG', `ProxyJump ${JSON.stringify(hop)}: expected [user@]host[:port]`);
      const port = m[3] === undefined ? undefined : Number(m[3]);
      if (port !== undefined && (port < 1 || port > 65535)) {
        throw new EdgeError('CONFIG', `ProxyJump ${JSON.stringify(hop)}: ${port} is not a port number`);
      }
      return { user: m[1], host: m[2]!.replace(/^\[(.*)\]$/, '$1'), port };
    });
}

export interface ResolvedTarget {
  target: SshTarget;
  resolved: ResolvedHost;
}

/**
 * Resolve a host into an SshTarget, ProxyJump chain included. Each jump host is resolved through
 * ssh_config under its own name (as `ssh -J` does); in a chain `a,b`, b is reached through a, and
 * a's own ProxyJump, if any, is honoured.
 */
export function resolveTarget(
  name: string,
  inv: InventoryConnection = {},
  opts: SshConfigOptions & { becomePassword?: string } = {},
): ResolvedTarget {
  const ctx = context(opts);
  const resolved = resolveWith(ctx, name, inv);
  const target: SshTarget = { ...toTarget(resolved), becomePassword: opts.becomePassword };
  if (resolved.proxyJump) target.proxyJump = resolveJumpChain(ctx, resolved.proxyJump, name, 1);
  return { target, resolved };
}

function resolveJumpChain(ctx: Ctx, spec: string, forHost: string, depth: number): SshTarget {
  if (depth > MAX_JUMPS) {
    throw new EdgeError('CONFIG', `ProxyJump chain for ${forHost} is longer than ${MAX_JUMPS} hops (a loop?)`, {
      host: forHost,
    });
  }
  let previous: SshTarget | undefined;
  for (const hop of parseProxyJump(spec)) {
    const r = resolveWith(ctx, hop.host, { user: hop.user, port: hop.port });
    const t = toTarget(r);
    if (previous) t.proxyJump = previous;
    else if (r.proxyJump) t.proxyJump = resolveJumpChain(ctx, r.proxyJump, forHost, depth + 1);
    previous = t;
  }
  if (!previous) throw new EdgeError('CONFIG', `ProxyJump for ${forHost} is empty`, { host: forHost });
  return previous;
}

function toTarget(r: ResolvedHost): SshTarget {
  return {
    name: r.name,
    host: r.host,
    port: r.port,
    user: r.user,
    privateKeyPath: r.privateKeyPath,
    identityFiles: r.identityFiles,
    agent: r.agent,
  };
}

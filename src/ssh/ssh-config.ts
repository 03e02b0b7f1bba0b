import { existsSync, readdirSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import picomatch from 'picomatch';
import SSHConfig, { LineType, type Line } from 'ssh-config';
import { FILE_CAPS, isMissingFile, readBoundedText } from '../config/read-file.js';
import { EdgeError, errorMessage } from '../errors.js';
import type { SshTarget } from './types.js';

/**
 * Resolve how to reach a host the way `ssh` would, given what the inventory says.
 *
 * Precedence mirrors what Ansible does when it runs `ssh -o User=.. -o Port=.. -i KEY ansible_host`:
 *  - the name looked up in ssh_config is ansible_host if set, else the inventory name;
 *  - HostName from ssh_config still applies to that name (as it would for `ssh ansible_host`);
 *  - ansible_user / ansible_port / ansible_ssh_private_key_file beat ssh_config, which beats the
 *    defaults (local user, port 22, ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exist, SSH_AUTH_SOCK).
 */

export interface InventoryConnection {
  host?: string;
  user?: string;
  port?: number;
  privateKeyFile?: string;
}

export interface SshConfigOptions {
  /** Default: ~/.ssh/config then /etc/ssh/ssh_config; the first value obtained wins, as in ssh. */
  configFiles?: string[];
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
  /** Informational: edge's own --accept-new-host-keys decides, this is only shown. */
  strictHostKeyChecking?: string;
  connectTimeoutMs?: number;
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
const MAX_JUMPS = 8;

interface Ctx {
  home: string;
  localUser: string;
  env: NodeJS.ProcessEnv;
  config: SSHConfig;
}

function context(opts: SshConfigOptions): Ctx {
  const home = opts.home ?? homedir();
  const env = opts.env ?? process.env;
  const localUser = opts.localUser ?? safeUserName(env);
  const files = opts.configFiles ?? [join(home, '.ssh', 'config'), '/etc/ssh/ssh_config'];
  return { home, env, localUser, config: loadSshConfig(files, home) };
}

function safeUserName(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    // userInfo() throws when the uid has no passwd entry (some containers).
    return env.USER ?? env.LOGNAME ?? 'root';
  }
}

/** Parse and concatenate config files (missing ones skipped), with `Include` expanded. */
export function loadSshConfig(files: readonly string[], home: string = homedir()): SSHConfig {
  const all = new SSHConfig();
  for (const file of files) all.push(...parseFile(file, home, 0));
  return all;
}

function parseFile(file: string, home: string, depth: number): Line[] {
  let text: string;
  try {
    text = readBoundedText(file, { what: 'ssh config', maxBytes: FILE_CAPS.ssh_config });
  } catch (e) {
    if (isMissingFile(e)) return [];
    throw e;
  }
  let parsed: SSHConfig;
  try {
    parsed = SSHConfig.parse(text);
  } catch (e) {
    throw new EdgeError('CONFIG', `cannot parse ssh config ${file}: ${errorMessage(e)}`, { cause: e });
  }
  return expandIncludes([...parsed], file, home, depth);
}

/**
 * ssh-config's compute() ignores `Include`; splice the included files in. Included lines inside a
 * Host/Match block join that block; Host/Match sections of such a file follow the block. That is
 * the common use (`Include config.d/*` at the top) exactly, and close enough for the rest.
 */
function expandIncludes(lines: Line[], file: string, home: string, depth: number): Line[] {
  if (depth > 16) throw new EdgeError('CONFIG', `ssh config ${file}: Include nested too deeply`);
  const out: Line[] = [];
  for (const line of lines) {
    if (line.type !== LineType.DIRECTIVE) {
      out.push(line);
      continue;
    }
    if (/^include$/i.test(line.param)) {
      for (const inc of includePaths(line.value, file, home)) out.push(...parseFile(inc, home, depth + 1));
      continue;
    }
    out.push(line);
    if ('config' in line) {
      const inner: Line[] = [];
      const trailing: Line[] = [];
      for (const sub of line.config) {
        if (sub.type === LineType.DIRECTIVE && /^include$/i.test(sub.param)) {
          for (const inc of includePaths(sub.value, file, home)) {
            for (const l of parseFile(inc, home, depth + 1)) {
              (l.type === LineType.DIRECTIVE && 'config' in l ? trailing : inner).push(l);
            }
          }
        } else inner.push(sub);
      }
      line.config.splice(0, line.config.length, ...inner);
      out.push(...trailing);
    }
  }
  return out;
}

function includePaths(value: string | { val: string }[], file: string, home: string): string[] {
  const patterns = typeof value === 'string' ? value.split(/\s+/) : value.map((v) => v.val);
  const paths: string[] = [];
  for (const raw of patterns.filter(Boolean)) {
    // Relative includes are relative to ~/.ssh for user files, /etc/ssh for system ones (ssh_config(5)).
    let p = expandTilde(raw, home);
    if (!isAbsolute(p)) p = join(file.startsWith('/etc/ssh/') ? '/etc/ssh' : join(home, '.ssh'), p);
    // Globs in the last component only (`config.d/*.conf`); enough for real configs.
    if (!/[*?[]/.test(basename(p))) {
      paths.push(p);
      continue;
    }
    const dir = dirname(p);
    const isMatch = picomatch(basename(p), { dot: false });
    let names: string[] = [];
    try {
      names = readdirSync(dir).sort();
    } catch {
      names = [];
    }
    for (const n of names) if (isMatch(n)) paths.push(join(dir, n));
  }
  return paths;
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

/** The few ssh_config TOKENS edge supports: %h %r %p %n %u %d and %%. Others are left as written. */
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

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : v.split(/\s+/)).filter(Boolean);
}

function resolveWith(ctx: Ctx, name: string, inv: InventoryConnection): ResolvedHost {
  const lookupName = inv.host ?? name;
  // ignoreCase: keys come back lowercased whatever case the file used. matchExec stays on (ssh
  // runs `Match exec` too, and people use it to pick a ProxyJump off-VPN).
  const cfg = ctx.config.compute(
    inv.user === undefined ? { Host: lookupName } : { Host: lookupName, User: inv.user },
    { ignoreCase: true },
  );
  const where = `ssh config for ${lookupName}`;

  const hostName = first(cfg.hostname);
  const host = hostName ? expandTokens(hostName, { h: lookupName, u: ctx.localUser, d: ctx.home }) : lookupName;
  const user = inv.user ?? first(cfg.user) ?? ctx.localUser;

  let port = inv.port;
  const cfgPort = first(cfg.port);
  if (port === undefined && cfgPort !== undefined) {
    port = Number(cfgPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new EdgeError('CONFIG', `${where}: Port ${cfgPort} is not a port number`, { host: name });
    }
  }
  port ??= 22;

  const proxyCommand = first(cfg.proxycommand);
  if (proxyCommand && proxyCommand.toLowerCase() !== 'none') {
    throw new EdgeError('CONFIG', `${where}: ProxyCommand is not supported`, {
      host: name,
      hint: 'use ProxyJump instead (ProxyCommand "ssh -W %h:%p bastion" is ProxyJump bastion)',
    });
  }

  const tokens: Tokens = { h: host, r: user, p: port, n: lookupName, u: ctx.localUser, d: ctx.home };
  const expandPath = (p: string) => expandTilde(expandTokens(p, tokens), ctx.home);

  const cfgKeys = list(cfg.identityfile)
    .filter((k) => k.toLowerCase() !== 'none')
    .map(expandPath);
  const candidates = cfgKeys.length > 0 ? cfgKeys : DEFAULT_KEYS.map((k) => join(ctx.home, '.ssh', k));
  // ssh skips IdentityFile entries that do not exist; so do we (the inventory key is kept, below,
  // so a typo there is reported rather than silently replaced by another key).
  const identityFiles = candidates.filter((k) => existsSync(k));

  const identityAgent = first(cfg.identityagent);
  let agent: string | undefined;
  if (identityAgent === undefined || identityAgent === 'SSH_AUTH_SOCK') agent = ctx.env.SSH_AUTH_SOCK || undefined;
  else if (identityAgent.toLowerCase() !== 'none') {
    agent = identityAgent.startsWith('$') ? ctx.env[identityAgent.slice(1)] || undefined : expandPath(identityAgent);
  }

  const proxyJump = first(cfg.proxyjump);
  const userKh = list(cfg.userknownhostsfile);
  const globalKh = list(cfg.globalknownhostsfile);
  const knownHostsFiles = [
    ...(userKh.length > 0 ? userKh : ['~/.ssh/known_hosts', '~/.ssh/known_hosts2']),
    ...(globalKh.length > 0 ? globalKh : ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']),
  ]
    .filter((f) => f.toLowerCase() !== 'none')
    .map(expandPath);

  const connectTimeout = first(cfg.connecttimeout);
  const timeoutS = connectTimeout === undefined ? undefined : Number(connectTimeout);

  return {
    name,
    host,
    port,
    user,
    privateKeyPath: inv.privateKeyFile === undefined ? undefined : expandPath(inv.privateKeyFile),
    identityFiles,
    agent,
    proxyJump: proxyJump && proxyJump.toLowerCase() !== 'none' ? proxyJump : undefined,
    knownHostsFiles,
    strictHostKeyChecking: first(cfg.stricthostkeychecking),
    connectTimeoutMs: timeoutS !== undefined && Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS * 1000 : undefined,
  };
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

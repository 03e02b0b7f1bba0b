import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { FILE_CAPS, readBoundedFile } from '../config/read-file.js';
import { requireTrusted } from '../config/trusted.js';
import { EdgeError } from '../errors.js';
import type { VarSource } from '../inventory/types.js';
import { BECOME_PASSWORD_VARS, type HostVars } from '../inventory/vars.js';
import { SshConnection } from '../ssh/connection.js';
import type { HandshakePacer } from '../ssh/handshake-pacer.js';
import { askAhead, resolveTarget, type InventoryConnection } from '../ssh/ssh-config.js';
import type { SshTrace } from '../ssh/types.js';
import { sshOptionsFor, type SshArgsSettings } from './ssh-options.js';

export interface ConnectionSettings {
  acceptNewHostKeys: boolean;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** -K: the sudo password where the inventory and -e set no ansible_become_password. */
  becomePassword?: string;
  /** -b/--become (or ANSIBLE_BECOME, ansible.cfg [privilege_escalation] become): where the inventory sets no ansible_become. */
  become?: boolean;
  /** Extra known_hosts files (tests); the host's own edge_known_hosts_file comes first. */
  knownHostsFiles?: string[];
  /** Bounds the SSH handshakes in flight across all hosts (--max-handshakes); default: the process's one pacer. */
  handshakes?: HandshakePacer;
  /** -u / remote_user: the login user where the inventory sets no ansible_user (Ansible's order). */
  remoteUser?: string;
  /** --private-key / private_key_file: where the inventory sets no ansible_ssh_private_key_file. */
  privateKeyFile?: string;
  /** -v and up: what each exec did, and SSH debug. */
  trace?: SshTrace;
  /** ssh_args / ssh_common_args / ssh_extra_args from ANSIBLE_SSH_* or ansible.cfg [ssh_connection]; a host's ansible_ssh_* wins. */
  sshArgs?: SshArgsSettings;
}

/**
 * How to reach one inventory host: ansible_* variables beat ~/.ssh/config, which beats defaults.
 * ssh_config is matched on the address as Ansible passes it to ssh (ansible_host, else the name).
 */
export function connectorFor(
  name: string,
  vars: HostVars,
  s: ConnectionSettings,
  sources?: Record<string, VarSource>,
): () => Promise<SshConnection> {
  const { target, resolved } = resolveTarget(vars.ansible_host ?? name, inventoryConnection(name, vars, s, sources), {
    becomePassword: becomePasswordOf(vars) ?? s.becomePassword,
  });
  target.name = name;
  refuseWithoutBecome(name, target.user, vars.ansible_become ?? s.become ?? false, sources?.ansible_become);
  try {
    checkNamedFiles(name, target.privateKeyPath, vars.edge_known_hosts_file);
  } catch (e) {
    throw placeFileError(e, vars, sources);
  }
  const knownHostsFiles = [
    ...(vars.edge_known_hosts_file ? [vars.edge_known_hosts_file] : []),
    ...(s.knownHostsFiles ?? []),
    ...(resolved.knownHostsFiles.length ? resolved.knownHostsFiles : [join(homedir(), '.ssh', 'known_hosts')]),
  ];
  return () =>
    SshConnection.connect(target, {
      knownHostsFiles,
      // StrictHostKeyChecking as ssh resolved it (--accept-new-host-keys is accept-new, in Ansible's place); a changed key is always refused
      acceptNewHostKeys: ['accept-new', 'false'].includes(resolved.strictHostKeyChecking ?? ''),
      connectTimeoutMs: resolved.connectTimeoutMs ?? s.connectTimeoutMs,
      ...(resolved.keepaliveIntervalMs ? { keepaliveIntervalMs: resolved.keepaliveIntervalMs } : {}),
      ...(resolved.keepaliveCountMax ? { keepaliveCountMax: resolved.keepaliveCountMax } : {}),
      commandTimeoutMs: s.commandTimeoutMs,
      handshakes: s.handshakes,
      ...(s.trace ? { trace: s.trace } : {}),
    }).catch((e: unknown) => {
      throw placeFileError(e, vars, sources);
    });
}

/** What the inventory (and the command line) say of reaching the host, before ssh_config. */
function inventoryConnection(name: string, vars: HostVars, s: ConnectionSettings, sources?: Record<string, VarSource>): InventoryConnection {
  return {
    host: vars.ansible_host,
    user: vars.ansible_user ?? s.remoteUser,
    port: vars.ansible_port,
    privateKeyFile: vars.ansible_ssh_private_key_file ?? s.privateKeyFile,
    ...sshOptionsFor(name, vars, s.sshArgs ?? {}, s.acceptNewHostKeys, sources),
  };
}

/**
 * ssh_config for all these hosts asked ahead, concurrently (see askAhead), so that the
 * connectorFor of each, made in turn after it, waits for no ssh process. A host whose inventory
 * is at fault is left to connectorFor, which says so in its place.
 */
export async function askSshAhead(
  hosts: readonly { name: string; vars: HostVars; varSources?: Record<string, VarSource> }[],
  s: ConnectionSettings,
  signal?: AbortSignal,
): Promise<void> {
  const lookups = hosts.flatMap((h) => {
    try {
      return [{ name: h.name, inv: inventoryConnection(h.name, h.vars, s, h.varSources) }];
    } catch {
      return [];
    }
  });
  await askAhead(lookups, {}, signal);
}

/** The sudo plugin's password variables; where several are set, the later name wins, as in Ansible. */
function becomePasswordOf(vars: HostVars): string | undefined {
  return BECOME_PASSWORD_VARS.map((k) => vars[k]).filter((v) => v !== undefined).at(-1);
}

/**
 * Every edge task needs root. A root login needs no become; any other login without become would
 * fail on the first command, so it is refused before any host is touched (as Ansible's play would
 * fail, but up front and with the way out).
 */
function refuseWithoutBecome(name: string, user: string, become: boolean, src: VarSource | undefined): void {
  if (user === 'root' || become) return;
  const why = src ? 'ansible_become is false' : 'become is off';
  throw new EdgeError('CONFIG', `logs in as ${user}, not root, and ${why}: every edge task needs root`, {
    host: name,
    hint: 'pass -b/--become or set ansible_become: true (with ansible_become_password or -K where sudo asks for a password), or log in as root',
    ...(src ? { field: src.path, pos: { file: src.file, line: src.line, col: src.col } } : {}),
  });
}

/**
 * A key the operator named that is not there is bad input (exit 5, nothing touched), not an
 * unreachable host: found here, before any host is connected. The host's known_hosts file is its
 * trust anchor: one another user can write could vouch for any key (trusted.ts's rule), and so
 * could one they create first, or swap in, where the directory it is (or will be) in is theirs to
 * write.
 */
function checkNamedFiles(name: string, privateKeyPath: string | undefined, knownHostsFile: string | undefined): void {
  if (privateKeyPath) readBoundedFile(privateKeyPath, { what: 'private key file', maxBytes: FILE_CAPS.key, host: name, field: 'ansible_ssh_private_key_file' });
  if (!knownHostsFile) return;
  requireTrusted(existingDirOf(knownHostsFile), 'known host keys', 'edge_known_hosts_file');
  if (existsSync(knownHostsFile)) requireTrusted(knownHostsFile, 'known host keys', 'edge_known_hosts_file');
}

/** The directory `file` is in, or the nearest above it that exists (appendKnownHost makes the rest). */
function existingDirOf(file: string): string {
  let dir = dirname(resolve(file));
  while (!existsSync(dir)) dir = dirname(dir);
  return dir;
}

/**
 * A key or known_hosts file the inventory named and edge refused (missing, not a regular file,
 * too big) is reported where the inventory names it, like every other bad value.
 */
function placeFileError(e: unknown, vars: HostVars, sources: Record<string, VarSource> | undefined): unknown {
  if (!(e instanceof EdgeError) || e.pos || !sources) return e;
  const field = (['ansible_ssh_private_key_file', 'edge_known_hosts_file'] as const).find(
    (f) => vars[f] !== undefined && (e.field === f || e.message.startsWith(`known_hosts file ${vars[f]}:`)),
  );
  const src = field && sources[field];
  if (!src) return e;
  return new EdgeError(e.code, e.message, { host: e.host, hint: e.hint, cause: e.cause, field: src.path, pos: { file: src.file, line: src.line, col: src.col } });
}

/** One connection for one job: connect, run `job`, and always close again. */
export async function withConnection<T>(connect: () => Promise<SshConnection>, job: (conn: SshConnection) => Promise<T>): Promise<T> {
  const conn = await connect();
  try {
    return await job(conn);
  } finally {
    conn.close();
  }
}

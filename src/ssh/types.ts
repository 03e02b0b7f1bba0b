/** Shared shapes of the SSH layer (kept apart so resolution and connection do not import each other). */
import type { HandshakePacer } from './handshake-pacer.js';

/**
 * One option given to ssh on its command line, as Ansible passes ansible_ssh_args and
 * ansible_ssh_common_args/_extra_args: `-o KEYWORD=VALUES` (ssh's -p, -l and -i are this too),
 * or `-J SPEC`, which ssh treats apart (a second -J, or a -J after -o ProxyJump, is fatal).
 * Command-line options are read before any ssh_config file, and the first value obtained wins.
 */
export type SshCliOption = { keyword: string; values: string[] } | { jump: string };

/** Everything needed to reach one host, after inventory and ssh_config are merged. */
export interface SshTarget {
  /** Inventory host name: used in messages and errors, never to connect. */
  name: string;
  /** Address or DNS name to connect to; also the name looked up in known_hosts. */
  host: string;
  port: number;
  user: string;
  /** Key from the inventory (ansible_ssh_private_key_file): tried first. */
  privateKeyPath?: string;
  /** Keys from ssh_config IdentityFile, or the default ~/.ssh/id_* that exist: tried after the agent. */
  identityFiles?: string[];
  /** ssh-agent socket path (SSH_AUTH_SOCK or IdentityAgent). */
  agent?: string;
  /** Reach this host through a forwarded channel of another SSH connection. */
  proxyJump?: SshTarget;
  /** sudo password for a non-root login user; only ever sent on the channel's stdin. */
  becomePassword?: string;
}

export interface ConnectOptions {
  /** Files consulted for host keys; an accepted new key is appended to the first one. */
  knownHostsFiles: string[];
  /** Trust and record a host key when the host is not in known_hosts yet (never when it changed). */
  acceptNewHostKeys: boolean;
  /** TCP connect + SSH handshake + authentication, per hop. Default 10000. */
  connectTimeoutMs?: number;
  /** SSH-level keepalive; the connection is declared dead after keepaliveCountMax unanswered. Default 5000. */
  keepaliveIntervalMs?: number;
  /** Default 3. */
  keepaliveCountMax?: number;
  /** Default per-exec timeout; undefined means none (each exec may still pass its own). */
  commandTimeoutMs?: number;
  /** Concurrent session channels per connection. Default 8, under OpenSSH's MaxSessions 10. */
  maxChannels?: number;
  /** Bounds the handshakes in flight across hosts (default: one pacer for the process). */
  handshakes?: HandshakePacer;
  /** Told about every exec and (when `debug` is set) ssh2's protocol debug lines; for -v and up. */
  trace?: SshTrace;
}

/** One finished exec, as -v shows it. */
export interface ExecTraceEvent {
  host: string;
  /** The script written to the remote shell (the sudo preamble and extra stdin not included). */
  script: string;
  command: string[];
  durationMs: number;
  code: number | null | undefined;
  /** Wire bytes, as the run's --json counts them: stdin written (sudo preamble included), stdout + stderr as received. */
  bytesSent: number;
  bytesReceived: number;
  /** What the received bytes came to after gunzip, where the exec asked for it and it differs. */
  bytesDecompressed?: number;
  error?: string;
}

export interface SshTrace {
  exec?(e: ExecTraceEvent): void;
  debug?(host: string, line: string): void;
}

export interface ExecOptions {
  /**
   * Extra bytes written to stdin right after the script. With `bash -s` the script itself can read
   * them (bash reads its script from a pipe one byte at a time, so e.g. a last line `cat >FILE`
   * receives exactly these bytes): one round trip for "upload and apply".
   */
  stdin?: string | Buffer;
  /** Overrides the connection's commandTimeoutMs for this exec. */
  timeoutMs?: number;
  /**
   * Run as root through sudo when the login user is not root. Default true: everything edge runs
   * on a router needs root. Ignored when logged in as root.
   */
  sudo?: boolean;
  /**
   * Run this argv instead of `bash -s`; the script is still what is written to its stdin.
   * Quoted with shJoin, so it is argv, not shell text.
   */
  command?: string[];
  /**
   * The script may gzip its stdout (the facts probe does): a stdout that starts with gzip's magic
   * is decompressed before it is decoded. bytesReceived counts what crossed the wire.
   */
  decompress?: boolean;
  /**
   * The most this exec may send on stdout or on stderr, and its stdout decompress to (default
   * EXEC_OUTPUT_CAP): an exec whose answer has a smaller limit of its own (the facts document)
   * holds no more than that while a hostile host floods it.
   */
  maxOutputBytes?: number;
  /** Called with stderr as it arrives (progress lines of a long exec); stderr is still returned whole. */
  onStderr?: (chunk: Buffer) => void;
}

export interface ExecResult {
  /** Exit status; null when the command was killed by a signal (see `signal`). */
  code: number | null;
  /** e.g. `SIGKILL`, when the remote process died of a signal. */
  signal?: string;
  /** Exactly what the command wrote, decoded as UTF-8, never trimmed. */
  stdout: string;
  stderr: string;
  durationMs: number;
}

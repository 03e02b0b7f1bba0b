import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { NodeSSH, type Config } from 'node-ssh';
import type { Client, ClientChannel, ClientErrorExtensions } from 'ssh2';
import { EdgeError, errorMessage } from '../errors.js';
import { planAuth, type AuthPlan } from './auth.js';
import { EXEC_OUTPUT_CAP, mib, runOnChannel, withRemoteTimeout } from './exec.js';
import { describeSaturation, isSaturated, sharedPacer, type Saturation } from './handshake-pacer.js';
import { HostKeyVerifier } from './host-key-verifier.js';
import { Semaphore } from './semaphore.js';
import { becomeFailure, buildInvocation } from './sudo.js';
import type { ConnectOptions, ExecOptions, ExecResult, SshTarget } from './types.js';

/**
 * One SSH connection to one host: node-ssh over ssh2. node-ssh connects and authenticates (with
 * edge's own authHandler, hostVerifier and algorithms passed through to ssh2). Exec runs on the
 * ssh2 channel directly (runOnChannel in exec.ts) because node-ssh's exec trims the output and
 * throws when anything reaches stderr, has no timeout, and leaves the connection without an
 * 'error' listener once connect() has resolved (its own is removed on 'ready'); edge needs
 * untrimmed output with the exit status whatever it is, a per-command timeout that kills the
 * remote process, and a reset at any time to fail what is running rather than crash the process.
 * So edge attaches its own permanent 'error' and 'close' listeners to node-ssh's ssh2 Client, and
 * uses that Client for exec and forwardOut.
 */

const DEFAULTS = {
  connectTimeoutMs: 10_000,
  keepaliveIntervalMs: 5_000,
  keepaliveCountMax: 3,
  maxChannels: 8,
};

// A channel killed on timeout normally confirms its close within a round trip; if it never does,
// its session slot is given back after this long rather than lost for the rest of the run.
const SLOT_RECLAIM_MS = 5_000;
// close() says goodbye and half-closes the socket; a peer that no longer answers (its network
// gone) never acknowledges that, and TCP would keep the socket — and edge's process — alive for
// many minutes of retransmissions. After this long the socket is dropped instead.
const CLOSE_GRACE_MS = 2_000;

const gunzipAsync = promisify(gunzip);

/**
 * gzip's magic (RFC 1952): what a script that compressed its output starts with. Decompressed on
 * the thread pool, never past `cap`: a 0.5 MB gzip bomb once became 512 MB, synchronously, on the
 * event loop that keeps every other host's session alive.
 */
export async function gunzipIfGzip(data: Buffer, host: string, cap = EXEC_OUTPUT_CAP): Promise<Buffer> {
  if (data.length < 2 || data[0] !== 0x1f || data[1] !== 0x8b) return data;
  try {
    return await gunzipAsync(data, { maxOutputLength: cap });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new EdgeError('EXEC', `the output of the command decompresses to more than ${mib(cap)}: refused (a gzip bomb?)`, { host, cause: e });
    }
    throw new EdgeError('EXEC', `the output of the command was cut short or corrupt (gzip: ${errorMessage(e)})`, { host, cause: e });
  }
}

type Ssh2Error = Error & ClientErrorExtensions & { code?: string | number };

/** What withDeadline rejects with when the time is up. */
const DEADLINE = Symbol('deadline');

/** `p`, or a rejection with DEADLINE after `ms` (at once when `ms` <= 0). */
function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(DEADLINE), Math.max(0, ms));
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class SshConnection {
  /** Remote execs started (session channels opened with an exec request). */
  execs = 0;
  /** Payload bytes written to exec stdin (script, extra stdin, sudo preamble). SSH framing not counted. */
  bytesSent = 0;
  /** Payload bytes of stdout + stderr received from execs. SSH framing not counted. */
  bytesReceived = 0;

  /** The SHA256 fingerprint of the host key this connection verified (set once connected). */
  hostKeyFingerprint?: string;

  /** The target as given, minus the become password (kept in a #field so no dump or log shows it). */
  readonly target: Omit<SshTarget, 'becomePassword'>;
  readonly #becomePassword?: string;
  private alive = false;
  private lost?: EdgeError;
  private readonly aborts = new Set<(err: EdgeError) => void>();
  private readonly channels: Semaphore;
  private readonly where: string;
  /** node-ssh's ssh2 Client, kept here: node-ssh forgets it (`connection = null`) once it closes. */
  private client?: Client;

  private constructor(
    target: SshTarget,
    private readonly ssh: NodeSSH,
    private readonly opts: ConnectOptions,
    private readonly jump?: SshConnection,
  ) {
    const { becomePassword, ...rest } = target;
    this.target = rest;
    this.#becomePassword = becomePassword;
    this.channels = new Semaphore(opts.maxChannels ?? DEFAULTS.maxChannels);
    this.where = `${target.name} (${target.user}@${target.host}:${target.port})`;
  }

  get isAlive(): boolean {
    return this.alive;
  }

  /** The host name edge uses in messages (inventory name). */
  get name(): string {
    return this.target.name;
  }

  /**
   * Connect, verify the host key against known_hosts, authenticate. Through ProxyJump, the jump
   * host is connected first under the same rules and the target is reached over its channel.
   */
  static async connect(target: SshTarget, opts: ConnectOptions): Promise<SshConnection> {
    // Credentials and known_hosts are read before any socket is opened: a bad key path fails fast.
    // The connect timeout counts from here, so reading them is inside it (files are read bounded).
    const startedAt = performance.now();
    const auth = planAuth(target);
    const verifier = new HostKeyVerifier(target, {
      knownHostsFiles: opts.knownHostsFiles,
      acceptNew: opts.acceptNewHostKeys,
    });

    let jump: SshConnection | undefined;
    let sock: Duplex | undefined;
    if (target.proxyJump) {
      const through = `cannot reach ${target.host}:${target.port} through jump host ${target.proxyJump.name}`;
      try {
        jump = await SshConnection.connect(target.proxyJump, opts);
      } catch (e) {
        // The jump host's own error, under the host the operator asked for: "host key of 198.18.0.250
        // is not known" alone, in r1's row, does not say that it is r1's bastion.
        if (!(e instanceof EdgeError)) throw e;
        throw new EdgeError(e.code, `${through}: ${e.message}`, { host: e.host, hint: e.hint, cause: e });
      }
      // As ssh's ConnectTimeout: reaching the host through the bastion counts against the same
      // timeout. A bastion whose connect to a silent host hangs answers only after its kernel gives
      // up (over two minutes), so the channel request is bounded by what is left of it.
      const timeoutMs = opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
      try {
        sock = await withDeadline(jump.forwardOut(target.host, target.port), timeoutMs - (performance.now() - startedAt));
      } catch (e) {
        jump.close();
        const timedOut = e === DEADLINE;
        throw new EdgeError('CONNECT', timedOut ? `${through}: timed out after ${timeoutMs} ms (the jump host opened no connection to it)` : `${through}: ${errorMessage(e)}`, {
          host: target.name,
          ...(timedOut ? {} : { cause: e }),
          hint: 'is the host up, and may the jump host forward to it (sshd AllowTcpForwarding, PermitOpen)? (ConnectTimeout / --connect-timeout)',
        });
      }
    }

    const conn = new SshConnection(target, new NodeSSH(), opts, jump);
    try {
      // Waiting for a handshake slot is not the host's time: the timeout's clock stops meanwhile.
      const before = performance.now() - startedAt;
      await (opts.handshakes ?? sharedPacer).run((saturation) => conn.handshake(auth, verifier, sock, performance.now() - before, saturation));
      conn.hostKeyFingerprint = verifier.verdict?.offeredFingerprint;
    } catch (e) {
      conn.close();
      throw e;
    }
    return conn;
  }

  private async handshake(
    auth: AuthPlan,
    verifier: HostKeyVerifier,
    sock: Duplex | undefined,
    startedAt: number,
    saturation: () => Saturation,
  ): Promise<void> {
    const { target, opts, ssh } = this;
    const host = target.name;
    const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    const left = Math.round(connectTimeoutMs - (performance.now() - startedAt));
    if (left <= 0) {
      throw new EdgeError('CONNECT', `connection to ${this.where} timed out after ${connectTimeoutMs} ms (${this.jump ? `reaching it through jump host ${this.jump.name}` : 'reading keys and known_hosts'})`, { host });
    }
    const config: Config = {
      username: target.user,
      readyTimeout: left,
      keepaliveInterval: opts.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs,
      keepaliveCountMax: opts.keepaliveCountMax ?? DEFAULTS.keepaliveCountMax,
      hostVerifier: verifier.verify,
      algorithms: { serverHostKey: verifier.algorithms },
      authHandler: auth.methods,
      ...(opts.trace?.debug ? { debug: (line: string) => opts.trace!.debug!(host, line) } : {}),
      ...(sock ? { sock } : { host: target.host, port: target.port }),
    };

    // With no privateKey/privateKeyPath/password in the config, node-ssh's connect() reaches its
    // first await only after `new SSH2.Client()`, `this.connection = connection`, its listeners and
    // `connection.connect(config)` have run, all synchronously. ssh2 emits no 'error' or 'close'
    // synchronously from connect() (socket and crypto events come later; a config it rejects is
    // thrown, which node-ssh turns into a rejection), so listeners attached right here miss nothing.
    const pending = ssh.connect(config);
    const client = ssh.connection;
    if (!client) {
      // node-ssh refused the config before creating a Client (its own validation).
      try {
        await pending;
      } catch (e) {
        throw new EdgeError('CONNECT', `cannot connect to ${this.where}: ${errorMessage(e)}`, { host, cause: e });
      }
      throw new EdgeError('CONNECT', `cannot connect to ${this.where}: node-ssh created no connection`, { host });
    }
    this.client = client;

    // Never removed: a reset at any time must end up here, not as an uncaught 'error' event that
    // kills the process (node-ssh drops its own 'error' listener once the connection is ready).
    let connecting = true;
    let handshakeError: Ssh2Error | undefined;
    let closedInHandshake = false;
    client.on('error', (err: Ssh2Error) => {
      if (connecting) handshakeError ??= err;
      else this.markLost(err.message);
    });
    client.on('close', () => {
      if (connecting) closedInHandshake = true;
      else this.markLost('connection closed');
    });

    try {
      await pending;
    } catch (e) {
      connecting = false;
      // node-ssh rejects with ssh2's first 'error' (the one recorded above), or with its own
      // "No response from server" when the connection closed without one.
      if (handshakeError) throw this.connectError(handshakeError, verifier, auth, connectTimeoutMs, saturation());
      if (closedInHandshake) {
        throw (
          verifier.verdict?.error ??
          new EdgeError('CONNECT', `connection to ${this.where} closed during the SSH handshake`, { host })
        );
      }
      // ssh2 validates some of the config synchronously; node-ssh turns that into a rejection.
      throw new EdgeError('CONNECT', `cannot connect to ${this.where}: ${errorMessage(e)}`, { host, cause: e });
    }
    connecting = false;
    this.alive = true;
  }

  private connectError(err: Ssh2Error, verifier: HostKeyVerifier, auth: AuthPlan, timeoutMs: number, saturation: Saturation): EdgeError {
    const { target } = this;
    const host = target.name;
    // ssh2 only says "Host denied (verification failed)"; the verdict says why.
    if (verifier.verdict?.error) return verifier.verdict.error;
    switch (err.level) {
      case 'client-timeout': {
        // A controller too busy to answer its own handshakes times them out: say so, so the host is not blamed first.
        const busy = isSaturated(saturation);
        return new EdgeError('CONNECT', `connection to ${this.where} timed out after ${timeoutMs} ms${busy ? ` ${describeSaturation(saturation)}` : ''}`, {
          host,
          cause: err,
          hint: busy
            ? 'the controller may be what is slow: lower --forks or --max-handshakes, or raise --connect-timeout'
            : 'is the host up and SSH reachable from here? (ConnectTimeout / --connect-timeout)',
        });
      }
      case 'client-authentication': {
        const skipped = auth.skipped.length > 0 ? `; skipped ${auth.skipped.join(', ')}` : '';
        return new EdgeError('CONNECT', `authentication failed for ${this.where} (tried ${auth.tried.join(', ')}${skipped})`, {
          host,
          cause: err,
          hint: 'check ansible_user and ansible_ssh_private_key_file, or load the key into ssh-agent',
        });
      }
      case 'client-socket':
        return new EdgeError('CONNECT', `cannot connect to ${this.where}: ${err.message}`, { host, cause: err });
      default:
        return new EdgeError('CONNECT', `SSH handshake with ${this.where} failed: ${err.message}`, { host, cause: err });
    }
  }

  /** The connection is gone: fail what is running and everything that comes later. */
  private markLost(reason: string): void {
    if (!this.lost) {
      this.lost = new EdgeError('CONNECT', `connection to ${this.target.name} lost: ${reason}`, { host: this.target.name });
    }
    this.alive = false;
    for (const abort of [...this.aborts]) abort(this.lost);
    this.aborts.clear();
    // A target reached through a jump host does not need the jump any more.
    this.jump?.close();
  }

  /**
   * Run a script with `bash -s` (or `opts.command`) fed on stdin. Resolves with the exit status and
   * untrimmed output whatever they are; rejects only when the command could not run to completion:
   * TIMEOUT, CONNECT (connection lost, or sudo refused), EXEC (no session could be opened).
   */
  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const client = this.client;
    if (!this.alive || !client) throw this.deadError();
    const becomeRoot = (opts.sudo ?? true) && this.target.user !== 'root';
    const timeoutMs = opts.timeoutMs ?? this.opts.commandTimeoutMs;
    const argv = opts.command ?? ['bash', '-s'];
    const inv = buildInvocation(
      timeoutMs !== undefined && timeoutMs > 0 ? withRemoteTimeout(argv, timeoutMs) : argv,
      becomeRoot,
      this.#becomePassword,
    );
    const extra = opts.stdin === undefined ? [] : [typeof opts.stdin === 'string' ? Buffer.from(opts.stdin) : opts.stdin];
    const input = Buffer.concat([inv.stdinPrefix, Buffer.from(script), ...extra]);

    const release = await this.channels.acquire();
    let released = false;
    const releaseOnce = () => {
      if (released) return;
      released = true;
      release();
    };
    // The connection may have died while this exec waited for a slot.
    if (!this.alive) {
      releaseOnce();
      throw this.deadError();
    }
    try {
      const out = await runOnChannel(
        client,
        { command: inv.command, input, timeoutMs, host: this.target.name, ...(opts.maxOutputBytes ? { maxOutputBytes: opts.maxOutputBytes } : {}) },
        {
          onStart: () => this.execs++,
          onSent: (n) => (this.bytesSent += n),
          onReceived: (n) => (this.bytesReceived += n),
          ...(opts.onStderr ? { onStderr: opts.onStderr } : {}),
          onClosed: releaseOnce,
          onAbortable: (abort) => {
            this.aborts.add(abort);
            return () => this.aborts.delete(abort);
          },
          lostError: () => this.lost,
        },
      );
      const result: ExecResult = {
        code: out.code,
        stdout: (opts.decompress ? await gunzipIfGzip(out.stdout, this.target.name, opts.maxOutputBytes) : out.stdout).toString('utf8'),
        stderr: out.stderr.toString('utf8'),
        durationMs: out.durationMs,
      };
      if (out.signal !== undefined) result.signal = out.signal;
      const refused = becomeFailure(inv.become, result, { name: this.target.name, user: this.target.user });
      if (refused) throw refused;
      this.traceExec(script, argv, { result, sent: input.length, received: out.stdout.length + out.stderr.length });
      return result;
    } catch (e) {
      this.traceExec(script, argv, { sent: input.length }, e);
      throw e;
    } finally {
      if (!released) setTimeout(releaseOnce, SLOT_RECLAIM_MS).unref();
    }
  }

  /** -v: one event per exec (the trace decides what of it to show, and redacts). */
  private traceExec(script: string, command: string[], wire: { result?: ExecResult; sent: number; received?: number }, e?: unknown): void {
    if (!this.opts.trace?.exec) return;
    const r = wire.result;
    const decoded = r ? Buffer.byteLength(r.stdout) + Buffer.byteLength(r.stderr) : 0;
    const received = wire.received ?? 0;
    // The password never travels in the script (sudo reads it from stdin ahead of it); should a
    // script ever quote it, -vvv still must not show it.
    const pw = this.#becomePassword;
    this.opts.trace.exec({
      host: this.target.name,
      script: pw ? script.split(pw).join('«redacted»') : script,
      command,
      durationMs: r?.durationMs ?? 0,
      code: r?.code,
      bytesSent: wire.sent,
      bytesReceived: received,
      ...(r && decoded !== received ? { bytesDecompressed: decoded } : {}),
      ...(e === undefined ? {} : { error: errorMessage(e) }),
    });
  }

  /** A stream to host:port opened from this host (direct-tcpip), e.g. the next hop of a ProxyJump. */
  forwardOut(host: string, port: number): Promise<ClientChannel> {
    const client = this.client;
    if (!this.alive || !client) return Promise.reject(this.deadError());
    return new Promise<ClientChannel>((resolve, reject) => {
      try {
        // The originator address is informational for the server; OpenSSH only logs it.
        client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => {
          if (err) reject(this.lost ?? err);
          else resolve(stream);
        });
      } catch (e) {
        reject(this.lost ?? e);
      }
    });
  }

  /** Close the connection (and its jump host's). Safe to call more than once. */
  close(): void {
    if (!this.lost) {
      this.lost = new EdgeError('CONNECT', `connection to ${this.target.name} was closed`, { host: this.target.name });
    }
    this.alive = false;
    for (const abort of [...this.aborts]) abort(this.lost);
    this.aborts.clear();
    // ssh2's own destroy() does nothing once end() has half-closed the socket: drop the socket itself.
    const sock = (this.client as unknown as { _sock?: { destroyed?: boolean; destroy(): void } } | undefined)?._sock;
    if (sock) setTimeout(() => sock.destroyed || sock.destroy(), CLOSE_GRACE_MS).unref();
    try {
      // node-ssh ends the Client while it still holds it; it lets go on 'end'/'close', after which
      // ending it here is at most a no-op.
      if (this.ssh.connection) this.ssh.dispose();
      else this.client?.end();
    } catch {
      // Already torn down.
    }
    this.jump?.close();
  }

  private deadError(): EdgeError {
    return this.lost ?? new EdgeError('CONNECT', `connection to ${this.target.name} is not open`, { host: this.target.name });
  }
}

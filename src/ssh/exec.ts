import type { Client, ClientChannel } from 'ssh2';
import { EdgeError, errorMessage } from '../errors.js';

/**
 * One exec request on one session channel: write stdin, collect stdout/stderr as bytes, settle on
 * channel close. Unlike node-ssh's exec it never trims, never throws because of stderr, and has a
 * timeout. Connection-level concerns (channel cap, sudo, counters, a lost connection) belong to
 * the caller, through the hooks.
 */

export interface ChannelRequest {
  command: string;
  input: Buffer;
  timeoutMs?: number;
  /** The cap on stdout and on stderr (default EXEC_OUTPUT_CAP). */
  maxOutputBytes?: number;
  /** For messages only. */
  host: string;
}

export interface ChannelOutcome {
  code: number | null;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
  durationMs: number;
}

export interface ChannelHooks {
  /** The exec request went out (the counter of remote execs). */
  onStart(): void;
  onSent(bytes: number): void;
  onReceived(bytes: number): void;
  /** stderr as it arrives (optional: progress lines). */
  onStderr?(chunk: Buffer): void;
  /** The channel is gone on both sides (or never opened): its session slot is free again. */
  onClosed(): void;
  /** Register a way for the connection to fail this exec when it dies; returns the unregister. */
  onAbortable(abort: (err: EdgeError) => void): () => void;
  /** Why the connection died, if it did: a channel closing without an exit status is explained by it. */
  lostError(): EdgeError | undefined;
}

/**
 * The most one exec may send on stdout or on stderr. A router is untrusted input: past this the
 * channel is closed and the exec fails, so one host's flood never grows the controller's memory or
 * stalls the event loop every other host's session runs on. edge's largest legitimate answer (the
 * facts of a router with a few hundred routes, or a file's content) is far below it.
 */
export const EXEC_OUTPUT_CAP = 32 * 1024 * 1024;

/** A byte count for a message ("32 MiB", "0.5 MiB"). */
export const mib = (bytes: number) => `${Math.round((bytes / 1024 / 1024) * 100) / 100} MiB`;

// Grace given to the host-side timeout over ours, so our TIMEOUT is what the caller sees (not the
// command's exit 124), and the KILL that follows a TERM the command ignores.
const REMOTE_TIMEOUT_GRACE_MS = 1_000;
const REMOTE_KILL_AFTER_S = 5;

/**
 * Run argv under coreutils timeout(1) on the host. Our own timer only ends the wait; the process
 * itself must die too. The SSH "signal" request cannot be relied on for that: OpenSSH before
 * sshd-session (9.8) refuses it for root logins ("session signalling requires privilege
 * separation"), and a command that does not write never notices its channel closing.
 * timeout(1) signals the whole process group it leads, so children die too.
 */
export function withRemoteTimeout(argv: readonly string[], timeoutMs: number): string[] {
  const seconds = (timeoutMs + REMOTE_TIMEOUT_GRACE_MS) / 1000;
  // Short options and a bare number of seconds: understood by GNU coreutils and BusyBox alike.
  return ['timeout', '-k', String(REMOTE_KILL_AFTER_S), String(seconds), ...argv];
}

/**
 * The longest an exec given `timeoutMs` can live on the host: timeout(1)'s limit plus the grace
 * before its KILL. The dead-man timer's lease of a changing exec is built on this (deadman.ts).
 */
export function remoteLifetimeMs(timeoutMs: number): number {
  return timeoutMs + REMOTE_TIMEOUT_GRACE_MS + REMOTE_KILL_AFTER_S * 1000;
}

export function runOnChannel(client: Client, req: ChannelRequest, hooks: ChannelHooks): Promise<ChannelOutcome> {
  return new Promise<ChannelOutcome>((resolve, reject) => {
    const started = performance.now();
    let settled = false;
    let channel: ClientChannel | undefined;
    let timer: NodeJS.Timeout | undefined;
    let closedNotified = false;
    const notifyClosed = () => {
      if (closedNotified) return;
      closedNotified = true;
      hooks.onClosed();
    };
    const unregister = hooks.onAbortable((err) => fail(err));

    function finish(): void {
      settled = true;
      if (timer) clearTimeout(timer);
      unregister();
    }
    function fail(err: EdgeError): void {
      if (settled) return;
      finish();
      reject(err);
    }

    if (req.timeoutMs !== undefined && req.timeoutMs > 0) {
      const ms = req.timeoutMs;
      timer = setTimeout(() => {
        if (channel) {
          // Where the server honours it (OpenSSH >= 7.9, non-root logins before 9.8) this ends the
          // command at once; withRemoteTimeout() is the backstop everywhere else.
          sendSignal(channel, 'TERM');
          try {
            channel.close();
          } catch {
            // Same: nothing more can be done for a channel that is already going away.
          }
        }
        fail(new EdgeError('TIMEOUT', `command on ${req.host} timed out after ${ms} ms`, { host: req.host }));
      }, ms);
    }

    try {
      client.exec(req.command, (err, ch) => {
        if (err) {
          notifyClosed();
          fail(
            hooks.lostError() ??
              new EdgeError('EXEC', `cannot open a session on ${req.host}: ${err.message}`, { host: req.host, cause: err }),
          );
          return;
        }
        channel = ch;
        hooks.onStart();
        if (settled) {
          // Timed out or aborted while the channel was opening.
          ch.close();
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        let signal: string | undefined;
        let exited = false;

        const sizes = { stdout: 0, stderr: 0 };
        const cap = req.maxOutputBytes ?? EXEC_OUTPUT_CAP;
        const collect = (into: Buffer[], stream: 'stdout' | 'stderr') => (d: Buffer) => {
          hooks.onReceived(d.length);
          sizes[stream] += d.length;
          if (sizes[stream] > cap) {
            into.length = 0;
            // as on a timeout: the flood ends now where the server honours the signal, else at the
            // command's own timeout(1) (a writer blocked on a closed channel is not told)
            sendSignal(ch, 'TERM');
            ch.close();
            fail(new EdgeError('EXEC', `${req.host} sent more than ${mib(cap)} on ${stream} for one command: the channel was closed and the output dropped`, { host: req.host }));
          } else if (!settled) {
            into.push(d);
            if (stream === 'stderr') hooks.onStderr?.(d);
          }
        };
        ch.on('data', collect(out, 'stdout'));
        ch.stderr.on('data', collect(errOut, 'stderr'));
        ch.on('exit', (c: number | null, sig?: string) => {
          exited = true;
          code = c;
          signal = sig ?? undefined;
        });
        // A stream error must not become an uncaught exception; the close that follows settles.
        ch.on('error', (e: Error) => {
          fail(new EdgeError('EXEC', `session on ${req.host} failed: ${e.message}`, { host: req.host, cause: e }));
        });
        ch.on('close', () => {
          notifyClosed();
          if (settled) return;
          if (!exited) {
            // No exit status: either the connection died under us, or the server just closed.
            const lost = hooks.lostError();
            if (lost) return fail(lost);
          }
          finish();
          resolve({
            code,
            signal,
            stdout: Buffer.concat(out),
            stderr: Buffer.concat(errOut),
            durationMs: Math.round(performance.now() - started),
          });
        });

        if (req.input.length > 0) hooks.onSent(req.input.length);
        ch.end(req.input);
      });
    } catch (e) {
      // ssh2 throws synchronously when the socket is no longer writable.
      notifyClosed();
      fail(
        hooks.lostError() ??
          new EdgeError('CONNECT', `connection to ${req.host} lost: ${errorMessage(e)}`, { host: req.host, cause: e }),
      );
    }
  });
}

interface ChannelInternals {
  outgoing?: { id?: number; state?: string };
  _client?: { _protocol?: { signal?: (id: number, signal: string) => void } };
}

/**
 * ssh2's Channel.signal() does nothing once our side of the stream has ended, and we end it as
 * soon as stdin is written (bash -s needs the EOF). The protocol allows a signal request on a
 * channel that is still open after EOF, so send it through ssh2's protocol object directly. These
 * are ssh2 internals (lib/Channel.js signal()); if they ever move, we only lose the signal and the
 * channel is still closed.
 */
function sendSignal(channel: ClientChannel, name: string): void {
  const internals = channel as unknown as ChannelInternals;
  const id = internals.outgoing?.id;
  // 'eof' is what ssh2 calls our side after end(): still open as far as the protocol goes.
  const state = internals.outgoing?.state;
  const signal = internals._client?._protocol?.signal;
  try {
    if ((state === 'open' || state === 'eof') && id !== undefined && signal) {
      signal.call(internals._client!._protocol, id, name);
    } else {
      channel.signal(name);
    }
  } catch {
    // The channel is going away anyway; closing it is what matters.
  }
}

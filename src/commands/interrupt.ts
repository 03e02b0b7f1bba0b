import { releaseEarlySignals } from './early-signals.js';
import { EXIT } from './exit-codes.js';

/**
 * A closed output pipe (`edge run … | head`) and SIGINT, SIGTERM, SIGHUP are all one thing: an
 * interruption. A command that can stop cleanly (run: start nothing new, finish or roll back the
 * hosts in flight) claims interruptions and gets an AbortSignal; for every other command, and for
 * a second signal, edge exits at once with 99 (whatever it had changed restores itself on its
 * dead-man timer).
 */

type Reason = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'EPIPE';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

interface Claim {
  controller: AbortController;
  notify(reason: Reason): void;
}

let claim: Claim | undefined;
const broken = new Set<NodeJS.WriteStream>();

function interrupted(reason: Reason): void {
  if (!claim || claim.controller.signal.aborted) {
    // Nobody can stop cleanly, or this is the second interruption: stop now.
    if (reason === 'EPIPE' && claim) return; // more writes into the closed pipe, not a new request
    process.exit(EXIT.interrupted);
  }
  claim.controller.abort(reason);
  claim.notify(reason);
}

/** Installed once at start: a closed stdout/stderr never crashes edge, signals never kill it mid-write. */
export function watchOutputs(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      broken.add(stream);
      if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') interrupted('EPIPE');
      else throw e;
    });
  }
  releaseEarlySignals();
  for (const s of SIGNALS) process.on(s, () => interrupted(s));
}

/** Whether writing to this stream still reaches anyone. */
export function writable(stream: NodeJS.WriteStream): boolean {
  return !broken.has(stream) && !stream.destroyed;
}

/**
 * The running command handles interruptions itself from now on: the returned signal aborts on
 * the first one, and `notify` says so (on whichever output still works). `release` gives them back.
 */
export function claimInterruptions(notify: (reason: Reason) => void): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  claim = { controller, notify };
  return {
    signal: controller.signal,
    release: () => {
      if (claim?.controller === controller) claim = undefined;
    },
  };
}

export function interruptionText(reason: Reason): string {
  const what = reason === 'EPIPE' ? 'output closed' : reason;
  return `edge: interrupted (${what}) — starting nothing new, finishing in-flight commands, rolling back hosts left part-way (Ctrl-C again to quit now)`;
}

import { cpus, loadavg } from 'node:os';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Semaphore } from './semaphore.js';

/**
 * SSH handshakes in flight at once, for the whole process and apart from --forks. Key exchange and
 * authentication cost CPU at both ends; hundreds at once on a controller that shares its cores
 * make every one of them slow enough to hit its connect timeout — edge timing itself out. A
 * handshake waits here for a slot, and its connect timeout starts only once it has one.
 */
export const DEFAULT_MAX_HANDSHAKES = 16;

/** How busy the controller was while one handshake ran: what a timeout message says about edge itself. */
export interface Saturation {
  /** Share of the time the event loop was busy (0–1) while the handshake ran. */
  eventLoop: number;
  load1: number;
  cores: number;
  inFlight: number;
  waiting: number;
}

export class HandshakePacer {
  private readonly slots: Semaphore;

  constructor(readonly limit = DEFAULT_MAX_HANDSHAKES) {
    this.slots = new Semaphore(limit);
  }

  /** Runs one handshake when a slot is free; `job` is told how busy the controller has been since it started. */
  async run<T>(job: (saturation: () => Saturation) => Promise<T>): Promise<T> {
    const release = await this.slots.acquire();
    const since: EventLoopUtilization = performance.eventLoopUtilization();
    try {
      return await job(() => ({
        eventLoop: performance.eventLoopUtilization(since).utilization,
        load1: loadavg()[0] ?? 0,
        cores: cpus().length || 1,
        inFlight: this.slots.inUse,
        waiting: this.slots.queued,
      }));
    } finally {
      release();
    }
  }
}

/** The pacer of connections made without one of their own (one process, one budget). */
export const sharedPacer = new HandshakePacer();

/** Saturated: the event loop was busy most of the time, or the machine had more runnable work than cores. */
export function isSaturated(s: Saturation): boolean {
  return s.eventLoop >= 0.8 || s.load1 >= s.cores;
}

/** "… while the controller was saturated (…)": said with a connect timeout, so nobody blames the host first. */
export function describeSaturation(s: Saturation): string {
  return (
    `while the controller was saturated (event loop busy ${Math.round(s.eventLoop * 100)}% of that time, ` +
    `load ${s.load1.toFixed(1)} on ${s.cores} cores, ${s.inFlight} handshakes in flight and ${s.waiting} waiting)`
  );
}

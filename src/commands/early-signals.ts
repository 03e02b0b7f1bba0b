import { EXIT } from './exit-codes.js';

/**
 * SIGINT, SIGTERM and SIGHUP before edge's own handling is in place (interrupt.ts): nothing has
 * started yet, so the interruption is simply exit 99. This module must stay free of imports that
 * load code (exit-codes.ts brings only a type), so that cli.ts installs it before anything else loads.
 */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const early = () => process.exit(EXIT.interrupted);

export function catchEarlySignals(): void {
  for (const s of SIGNALS) process.on(s, early);
}

/** interrupt.ts takes over. */
export function releaseEarlySignals(): void {
  for (const s of SIGNALS) process.removeListener(s, early);
}

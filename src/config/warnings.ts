import type { EdgeError } from '../errors.js';

/**
 * Warnings found while loading config (a likely typo that is not an error, such as an unknown
 * ansible_* variable). Loaders report them here; the CLI decides where they go (stderr), so every
 * command that loads an inventory or playbook shows them without each command wiring it up.
 * With no sink they are dropped; collectWarnings gathers them (tests, callers that show them their way).
 */
export type WarningSink = (warning: EdgeError) => void;

let sink: WarningSink | undefined;

export function setWarningSink(s: WarningSink | undefined): void {
  sink = s;
}

export function warn(warning: EdgeError): void {
  sink?.(warning);
}

/** Warnings reported while `fn` ran (whatever the sink), in order. */
export function collectWarnings<T>(fn: () => T): { result: T; warnings: EdgeError[] } {
  const before = sink;
  const warnings: EdgeError[] = [];
  sink = (w) => warnings.push(w);
  try {
    return { result: fn(), warnings };
  } finally {
    sink = before;
  }
}

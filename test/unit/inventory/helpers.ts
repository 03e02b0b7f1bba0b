import { EdgeError, EdgeErrors, formatError } from '../../../src/errors.js';

/** Runs fn, expecting EdgeError(s); returns them formatted one per error, as the CLI prints them. */
export function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof EdgeErrors) return e.errors.map((x) => formatError(x));
    if (e instanceof EdgeError) return [formatError(e)];
    throw e;
  }
  throw new Error('expected an error');
}

/** Like errorsOf, but the EdgeError objects. */
export function edgeErrorsOf(fn: () => unknown): EdgeError[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof EdgeErrors) return e.errors;
    if (e instanceof EdgeError) return [e];
    throw e;
  }
  throw new Error('expected an error');
}

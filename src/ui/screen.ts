import { once } from 'node:events';
import { termJson, termJsonChunks, termLine, termText } from '../encode/index.js';

/**
 * The screen is a sink like any other: text a router sent (its hostname, task stderr, a diff body,
 * a lock holder's name, a journal's details) reaches the operator's terminal only through the
 * terminal encoder. Commands write through these; the views escape their data before they add
 * their own colours, so edge's SGR codes are the only escape sequences that reach a terminal.
 */

export { termJson as screenJson, termLine as screenLine, termText as screenText };

/** A copy of `value` with every string in it (keys too) passed through the terminal encoder. */
export function screenSafe<T>(value: T): T {
  if (typeof value === 'string') return termText(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => screenSafe(v)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [termText(k), screenSafe(v)])) as T;
  }
  return value;
}

/** A writer that puts every string through the terminal encoder before `write` sees it. */
export function screenWriter(write: (s: string) => void): (s: string) => void {
  return (s) => write(termText(s));
}

/**
 * screenJson(value, 2) and a newline written to `stream` piece by piece (termJsonChunks), waiting
 * whenever the stream's buffer is full, so that a large result never sits in memory whole.
 */
export async function writeScreenJson(stream: NodeJS.WritableStream, value: object): Promise<void> {
  try {
    for (const piece of termJsonChunks(value, 2)) if (!stream.write(piece)) await once(stream, 'drain');
    stream.write('\n');
  } catch {
    // the reader went away (EPIPE): said by the stream's own error handler (interrupt.ts)
  }
}

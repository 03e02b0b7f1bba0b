/**
 * The terminal sink: text a router sent (task stderr, its hostname, PRETTY_NAME, interface names,
 * diff bodies, a lock holder's name) reaches a screen, a log line or a journal only through these.
 * A router is untrusted: an escape sequence in its output could rewrite the recap, retitle the
 * window or set the operator's clipboard (OSC 52), and a bidi override could make a line read
 * differently from what it says. Every such character is written as a visible escape instead.
 */

// C0 and C1 controls (ESC, CSI, OSC among them), format characters (bidi overrides and isolates,
// zero-width joiners), line and paragraph separators, and lone surrogates.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;
const INVISIBLE_KEEPING_LINES = /(?![\n\t])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

function escaped(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (cp === 0x0a) return '\\n';
  if (cp === 0x0d) return '\\r';
  if (cp === 0x09) return '\\t';
  return cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
}

/** One line of router text: every control, format or separator character visible (`\x1b`, `\u202e`, `\n`). */
export function termLine(text: string): string {
  return text.replace(INVISIBLE, escaped);
}

/** Router text of several lines (stderr, a diff body): newlines and tabs kept, everything else as termLine. */
export function termText(text: string): string {
  return text.replace(INVISIBLE_KEEPING_LINES, escaped);
}

/** Bytes from a router as text for a screen: invalid UTF-8 becomes U+FFFD, then termText. */
export function termBytes(bytes: Uint8Array): string {
  return termText(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
}

// What JSON.stringify leaves raw but a terminal acts on: C1 controls, DEL, bidi and other format
// characters, line and paragraph separators. Written as \u escapes, the JSON document is the same.
const JSON_RAW = /[\x7f-\x9f\p{Cf}\p{Zl}\p{Zp}]/gu;

const jsonEscaped = (ch: string): string => [...Array(ch.length).keys()].map((i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

/** JSON for a screen, a pipe or a journal: the same document, with nothing in it a terminal would act on. */
export function termJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(JSON_RAW, jsonEscaped);
}

/**
 * termJson of an object, in pieces: its members one at a time, and the elements of a member that
 * is an array one at a time (a run's hosts), so that a large document is never one string: the
 * result of a run of 10,000 hosts was some 100 MB of text, made three times over on its way out.
 * Joined, the pieces are termJson(value, indent) exactly.
 */
export function* termJsonChunks(value: object, indent: number): Generator<string> {
  const pad = ' '.repeat(indent);
  const encodable = (v: unknown) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
  const nested = (v: unknown, depth: number) => termJson(encodable(v) ? v : null, indent).replace(/\n/g, `\n${pad.repeat(depth)}`);
  const members = Object.entries(value).filter(([, v]) => encodable(v));
  if (members.length === 0) {
    yield '{}';
    return;
  }
  yield '{\n';
  for (const [i, [key, v]] of members.entries()) {
    const comma = i < members.length - 1 ? ',' : '';
    const name = `${pad}${termJson(key)}: `;
    if (!Array.isArray(v) || v.length === 0) {
      yield `${name}${nested(v, 1)}${comma}\n`;
      continue;
    }
    yield `${name}[\n`;
    for (const [j, el] of v.entries()) yield `${pad}${pad}${nested(el, 2)}${j < v.length - 1 ? ',' : ''}\n`;
    yield `${pad}]${comma}\n`;
  }
  yield '}';
}

import { EdgeError, type SourcePos } from '../errors.js';

const RANGE = /\[([0-9]*|[a-zA-Z]):([0-9]+|[a-zA-Z])(?::([0-9]+))?\]/;
// Ansible's alphabetic ranges run through string.ascii_letters: a..z then A..Z ([x:B] is valid).
const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Expands Ansible's host ranges: `rtr[01:03]` → rtr01, rtr02, rtr03; `db-[a:c]` → db-a, db-b, db-c;
 * `[1:9:2]` steps by 2; `[:3]` starts at 0. A start with leading zeros pads every number to its
 * width (and must be as wide as the end, as Ansible requires). Several ranges multiply.
 */
export function expandHostRange(pattern: string, pos?: SourcePos): string[] {
  const m = RANGE.exec(pattern);
  if (!m) return [pattern];
  const [whole, fromText = '', to = '', stepText] = m;
  const from = fromText === '' ? '0' : fromText;
  const step = stepText === undefined ? 1 : Number(stepText);
  const head = pattern.slice(0, m.index);
  const tail = pattern.slice(m.index + whole.length);
  const numeric = /^[0-9]+$/.test(from) && /^[0-9]+$/.test(to);
  const alpha = /^[a-zA-Z]$/.test(from) && /^[a-zA-Z]$/.test(to);
  const [a, b] = numeric ? [Number(from), Number(to)] : [LETTERS.indexOf(from), LETTERS.indexOf(to)];
  const padded = numeric && from.length > 1 && from.startsWith('0');
  if ((!numeric && !alpha) || step < 1 || a > b || (padded && from.length !== to.length)) {
    throw new EdgeError('CONFIG', `bad host range ${whole} in ${pattern}`, {
      pos,
      hint: 'use [start:end] or [start:end:step] with start <= end (zero-padded starts as wide as the end), e.g. rtr[01:10] or db-[a:f]',
    });
  }
  const items: string[] = [];
  for (let i = a; i <= b; i += step) {
    items.push(numeric ? String(i).padStart(padded ? from.length : 0, '0') : LETTERS[i]!);
  }
  return items.flatMap((item) => expandHostRange(`${head}${item}${tail}`, pos));
}

import { EdgeError, type SourcePos } from '../errors.js';

const RANGE = /\[([0-9]+|[a-zA-Z]):([0-9]+|[a-zA-Z])(?::([0-9]+))?\]/;
const RANGES = new RegExp(RANGE.source, 'g');

/**
 * Most hosts one inventory may name, ranges expanded: far more than any fleet edge drives, and few
 * enough that expanding them cannot exhaust memory (`r[1:99999999]` is refused, not attempted).
 */
export const MAX_HOSTS = 100_000;

/** How many names a pattern expands to (its ranges multiplied), without expanding it. */
export function hostRangeSize(pattern: string): number {
  let n = 1;
  for (const m of pattern.matchAll(RANGES)) {
    const [, from = '', to = '', stepText] = m;
    const numeric = /^[0-9]+$/.test(from) && /^[0-9]+$/.test(to);
    const [a, b] = numeric ? [Number(from), Number(to)] : [from.charCodeAt(0), to.charCodeAt(0)];
    const step = stepText === undefined ? 1 : Number(stepText);
    n *= step >= 1 && b >= a ? Math.floor((b - a) / step) + 1 : 1;
  }
  return n;
}

/**
 * Expands Ansible's host ranges: `rtr[01:03]` → rtr01, rtr02, rtr03; `db-[a:c]` → db-a, db-b, db-c;
 * `[1:9:2]` steps by 2. Numeric ranges keep the start's zero padding. Several ranges multiply.
 */
export function expandHostRange(pattern: string, pos?: SourcePos, listedBefore = 0): string[] {
  checkHostLimit(pattern, pos, listedBefore);
  return expandChecked(pattern, pos);
}

/** Throws when `pattern`'s hosts, with `listedBefore` others, would be more than MAX_HOSTS. */
export function checkHostLimit(pattern: string, pos?: SourcePos, listedBefore = 0): void {
  const size = hostRangeSize(pattern);
  if (size + listedBefore > MAX_HOSTS) {
    const what = size === 1 ? `host ${pattern}` : `host range ${pattern} (${size} hosts)`;
    const before = listedBefore > 0 ? ` with the ${listedBefore} listed before it` : '';
    throw new EdgeError('CONFIG', `${what}${before} takes the inventory over the limit of ${MAX_HOSTS} hosts: refused`, {
      pos,
      hint: 'a typo in a range bound? (e.g. r[1:99999999]); split a real fleet this large into several inventories',
    });
  }
}

function expandChecked(pattern: string, pos?: SourcePos): string[] {
  const m = RANGE.exec(pattern);
  if (!m) return [pattern];
  const [whole, from = '', to = '', stepText] = m;
  const step = stepText === undefined ? 1 : Number(stepText);
  const head = pattern.slice(0, m.index);
  const tail = pattern.slice(m.index + whole.length);
  const numeric = /^[0-9]+$/.test(from) && /^[0-9]+$/.test(to);
  const alpha = /^[a-zA-Z]$/.test(from) && /^[a-zA-Z]$/.test(to);
  const [a, b] = numeric ? [Number(from), Number(to)] : [from.charCodeAt(0), to.charCodeAt(0)];
  if ((!numeric && !alpha) || step < 1 || a > b) {
    throw new EdgeError('CONFIG', `bad host range ${whole} in ${pattern}`, {
      pos,
      hint: 'use [start:end] or [start:end:step] with start <= end, e.g. rtr[01:10] or db-[a:f]',
    });
  }
  const items: string[] = [];
  for (let i = a; i <= b; i += step) {
    items.push(numeric ? String(i).padStart(from.length, '0') : String.fromCharCode(i));
  }
  return items.flatMap((item) => expandChecked(`${head}${item}${tail}`, pos));
}

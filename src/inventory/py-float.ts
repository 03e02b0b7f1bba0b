import { randomBytes } from 'node:crypto';
import { isMap, isScalar, isSeq } from 'yaml';

/**
 * Floats as Python keeps them. YAML's `8.0` and INI's `8.0` are Python floats, and
 * `ansible-inventory` prints them as `8.0`; a JavaScript number cannot say it was written with a
 * fraction. The value keeps being a number everywhere edge uses it; only the Ansible-shaped output
 * asks the node it came from, and prints a float the way Python's json does.
 */

/** The YAML tag the INI reader gives a value Python reads as a float (INI values have no source text). */
export const FLOAT_TAG = 'tag:yaml.org,2002:float';

/** A number to print as Python prints a float. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Python's repr of a float (json.dumps writes the same): shortest digits, `.0` on whole numbers, e+XX past 1e16. */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  const [mantissa, exp] = n.toExponential().split('e') as [string, string];
  const e = Number(exp);
  if (e < -4 || e >= 16) {
    return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  const fixed = n.toFixed(Math.max(0, (mantissa.split('.')[1]?.length ?? 0) - e));
  return fixed.includes('.') ? fixed : `${fixed}.0`;
}

function isFloatNode(node: unknown): boolean {
  if (!isScalar(node) || typeof node.value !== 'number') return false;
  if (node.tag === FLOAT_TAG) return true;
  // PyYAML's float needs a dot (.inf and .nan included); ints (0x1f, 0o17, 1_000) have none.
  const src = (node as { source?: string }).source;
  return src !== undefined && src.includes('.');
}

/** `value` with every number its YAML node says is a float wrapped as PyFloat (lists and maps walked alongside). */
export function withFloats(value: unknown, node: unknown): unknown {
  if (typeof value === 'number') return isFloatNode(node) ? new PyFloat(value) : value;
  if (Array.isArray(value)) return isSeq(node) ? value.map((v, i) => withFloats(v, node.items[i])) : value;
  if (value !== null && typeof value === 'object' && isMap(node)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withFloats(v, node.get(k, true))]));
  }
  return value;
}

/** JSON.stringify(value, null, indent), with PyFloat values written as Python writes floats. */
export function stringifyWithFloats(value: unknown, indent: number): string {
  const mark = `pyfloat-${randomBytes(8).toString('hex')}:`;
  const text = JSON.stringify(value, (_k, v: unknown) => (v instanceof PyFloat ? `${mark}${pyFloatRepr(v.value)}` : v), indent);
  return text.replace(new RegExp(`"${mark}([^"]*)"`, 'g'), '$1');
}

/**
 * Python's `ast.literal_eval`, as Ansible's INI inventory plugin applies it to every value
 * (`x=1` is a number, `x=True` a boolean, `x=[1, 2]` a list, `x="a"` the string a). A value that
 * is not a Python literal stays the text it was, exactly as Ansible's `_parse_value` leaves it.
 * Tuples become lists and bytes become text (as Ansible's JSON output shows them). Complex numbers
 * and sets have no JSON form; they are kept as text (see the refusals listed in the differential test).
 */
export function parsePythonValue(text: string): unknown {
  try {
    const p = new LiteralParser(text.replace(/^[ \t]+/, ''));
    const v = p.value();
    p.end();
    return v;
  } catch (e) {
    if (e instanceof NotLiteral) return text;
    throw e;
  }
}

class NotLiteral extends Error {}

/** Brackets nested deeper than Python's own parser takes (its tokenizer stops at 200): refused, not recursed into. */
export const LITERAL_MAX_DEPTH = 100;

/** A value nested past LITERAL_MAX_DEPTH: an error the caller places at file:line:col (not a stack overflow). */
export class LiteralTooDeep extends Error {
  constructor() {
    super(`brackets nested more than ${LITERAL_MAX_DEPTH} deep: refused`);
  }
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '\n': '' };

class LiteralParser {
  private i = 0;
  /** Nesting depth: newlines are whitespace only inside brackets, as in Python. */
  private depth = 0;
  constructor(private readonly s: string) {}

  private fail(): never {
    throw new NotLiteral();
  }

  private enter(): void {
    this.i++;
    if (++this.depth > LITERAL_MAX_DEPTH) throw new LiteralTooDeep();
  }

  private skip(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\f' || (this.depth > 0 && (c === '\n' || c === '\r'))) this.i++;
      else if (c === '\\' && this.s[this.i + 1] === '\n') this.i += 2;
      else if (c === '#') while (this.i < this.s.length && this.s[this.i] !== '\n') this.i++;
      else return;
    }
  }

  end(): void {
    this.skip();
    while (this.s[this.i] === '\n' || this.s[this.i] === '\r') {
      this.i++;
      this.skip();
    }
    if (this.i !== this.s.length) this.fail();
  }

  value(): unknown {
    this.skip();
    const c = this.s[this.i];
    if (c === undefined) this.fail();
    if (c === '[') return this.sequence(']');
    if (c === '(') return this.sequence(')');
    if (c === '{') return this.mapping();
    if (c === '-' || c === '+') {
      this.i++;
      this.skip();
      const n = this.number();
      return c === '-' ? -n : n;
    }
    if (/[0-9.]/.test(c)) return this.number();
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.s.slice(this.i))?.[0] ?? '';
    const quote = this.s[this.i + word.length];
    if ((quote === '"' || quote === "'") && /^(?:[rRbBuU]|[bB][rR]|[rR][bB])?$/.test(word)) return this.strings();
    this.i += word.length;
    if (word === 'True') return true;
    if (word === 'False') return false;
    if (word === 'None') return null;
    return this.fail();
  }

  private sequence(close: string): unknown {
    this.enter();
    const out: unknown[] = [];
    let commas = 0;
    for (;;) {
      this.skip();
      if (this.s[this.i] === close) break;
      out.push(this.value());
      this.skip();
      if (this.s[this.i] === ',') {
        this.i++;
        commas++;
      } else if (this.s[this.i] !== close) this.fail();
    }
    this.i++;
    this.depth--;
    // `(1)` is the number 1; `(1,)` a tuple
    return close === ')' && out.length === 1 && commas === 0 ? out[0] : out;
  }

  private mapping(): Record<string, unknown> {
    this.enter();
    const out: Record<string, unknown> = {};
    for (;;) {
      this.skip();
      if (this.s[this.i] === '}') break;
      const k = this.value();
      this.skip();
      if (this.s[this.i] !== ':') this.fail(); // a set, or not a literal
      this.i++;
      const v = this.value();
      if (k !== null && typeof k === 'object') this.fail();
      out[k === true ? 'True' : k === false ? 'False' : k === null ? 'None' : String(k)] = v;
      this.skip();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') this.fail();
    }
    this.i++;
    this.depth--;
    return out;
  }

  private number(): number {
    const rest = this.s.slice(this.i);
    const m =
      /^0[xX](?:_?[0-9a-fA-F])+|^0[oO](?:_?[0-7])+|^0[bB](?:_?[01])+/.exec(rest) ??
      /^(?:(?:[0-9](?:_?[0-9])*)?\.(?:[0-9](?:_?[0-9])*)?|[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?/.exec(rest);
    const text = m?.[0];
    if (!text || text === '.') this.fail();
    if (/^[jJ]|^[A-Za-z0-9_]/.test(rest.slice(text.length))) this.fail(); // complex, or a name
    this.i += text.length;
    const digits = text.replace(/_/g, '');
    if (/^0[xXoObB]/.test(digits)) return Number(digits);
    // Python refuses leading zeros on integers (010), but not 00 or floats (010.5)
    if (/^0[0-9]+$/.test(digits) && !/^0+$/.test(digits)) this.fail();
    return Number(digits);
  }

  /** One or more adjacent string literals ("a" "b" is "ab", as in Python). */
  private strings(): string {
    let out = '';
    let more = true;
    while (more) {
      out += this.string();
      this.skip();
      const word = /^(?:[rRbBuU]|[bB][rR]|[rR][bB])?/.exec(this.s.slice(this.i))?.[0] ?? '';
      const q = this.s[this.i + word.length];
      more = q === '"' || q === "'";
    }
    return out;
  }

  private string(): string {
    const prefix = /^[A-Za-z]*/.exec(this.s.slice(this.i))![0];
    this.i += prefix.length;
    const raw = /r/i.test(prefix);
    const q = this.s[this.i]!;
    const triple = this.s.startsWith(q.repeat(3), this.i);
    const close = triple ? q.repeat(3) : q;
    this.i += close.length;
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) this.fail();
      if (this.s.startsWith(close, this.i)) {
        this.i += close.length;
        return out;
      }
      const c = this.s[this.i]!;
      if (!triple && c === '\n') this.fail();
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const n = this.s[this.i + 1];
      if (n === undefined) this.fail();
      if (raw) {
        out += c + n;
        this.i += 2;
        continue;
      }
      out += this.escape(n);
    }
  }

  private escape(n: string): string {
    const hex = (len: number) => {
      const h = this.s.slice(this.i + 2, this.i + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(h)) this.fail();
      this.i += 2 + len;
      return String.fromCodePoint(parseInt(h, 16));
    };
    if (n in ESCAPES) {
      this.i += 2;
      return ESCAPES[n]!;
    }
    if (n === 'x') return hex(2);
    if (n === 'u') return hex(4);
    if (n === 'U') return hex(8);
    const oct = /^[0-7]{1,3}/.exec(this.s.slice(this.i + 1))?.[0];
    if (oct) {
      this.i += 1 + oct.length;
      return String.fromCharCode(parseInt(oct, 8));
    }
    this.i += 2;
    return `\\${n}`;
  }
}

import { z } from 'zod';

/**
 * Characters no name or label edge takes may hold. Names and labels end up in scripts and comments
 * on routers (restore.sh), in unit descriptions, log lines and terminal output: a newline there
 * starts a new shell command or a forged output line, an escape character drives the terminal,
 * a bidi control (U+202E) makes text read differently from what runs (Trojan Source), and a
 * zero-width character makes two different names look the same.
 */
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const SPACE = /\p{White_Space}/u;

const NAMED: Record<number, string> = {
  0x00: 'a NUL byte',
  0x09: 'a tab',
  0x0a: 'a newline',
  0x0d: 'a carriage return',
  0x1b: 'an escape character',
  0x20: 'a space',
  0x7f: 'a DEL character',
  0xa0: 'a no-break space',
  0x200b: 'a zero-width space',
  0xfeff: 'a byte-order mark',
};

function describeChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const u = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  if (NAMED[cp]) return `${NAMED[cp]} (${u})`;
  if (cp >= 0x202a && cp <= 0x202e) return `a bidirectional control (${u})`;
  if (cp >= 0x2066 && cp <= 0x2069) return `a bidirectional isolate (${u})`;
  if (SPACE.test(ch)) return `whitespace (${u})`;
  if (/\p{Cf}/u.test(ch)) return `an invisible formatting character (${u})`;
  return `a control character (${u})`;
}

/** Why `s` cannot be a name (whitespace too) or a label (`allowSpace`): the first bad character and where; undefined when fine. */
export function unsafeTextProblem(s: string, opts: { allowSpace?: boolean } = {}): string | undefined {
  let i = 0;
  for (const ch of s) {
    i++;
    const bad = CONTROL.test(ch) || (!opts.allowSpace && SPACE.test(ch)) || (opts.allowSpace && SPACE.test(ch) && ch !== ' ');
    if (bad) return `contains ${describeChar(ch)} at character ${i}`;
  }
  return undefined;
}

const WHY_NAME = 'names end up in scripts, comments and logs on the router and in terminal output';

/**
 * A name (host, group, variable): non-empty, no whitespace, control or invisible characters, not
 * starting with "-" (it would read as an option to ssh and every other tool), at most 255 characters.
 */
export function nameSchema(what: string) {
  return z
    .string()
    .min(1, `a ${what} cannot be empty`)
    .max(255, `a ${what} is at most 255 characters`)
    .superRefine((s, ctx) => {
      const problem = unsafeTextProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: `${what} ${problem}: refused (${WHY_NAME})` });
      else if (s.startsWith('-')) ctx.addIssue({ code: 'custom', message: `${what} starts with "-": refused (it would read as a command-line option)` });
    });
}

/** Text shown to people (play and task names): spaces allowed, nothing that controls a terminal or hides. */
export function labelSchema(what: string) {
  return z
    .string()
    .min(1)
    .max(200, `a ${what} is at most 200 characters`)
    .superRefine((s, ctx) => {
      const problem = unsafeTextProblem(s, { allowSpace: true });
      if (problem) ctx.addIssue({ code: 'custom', message: `${what} ${problem}: refused (it is printed in progress, recap and logs)` });
    });
}

/** A local file path (keys, known_hosts): spaces allowed, nothing invisible or controlling. */
export function pathSchema(what: string) {
  return z
    .string()
    .min(1)
    .max(4096)
    .superRefine((s, ctx) => {
      const problem = unsafeTextProblem(s, { allowSpace: true });
      if (problem) ctx.addIssue({ code: 'custom', message: `${what} ${problem}: refused` });
    });
}

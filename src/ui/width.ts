/**
 * Output for an 80-column terminal: prose wraps at word boundaries under a hanging indent; tables
 * and diffs keep their shape and are not passed through here.
 */
export const DEFAULT_WIDTH = 80;

/** The terminal's width when writing to one, else 80. */
export function outputWidth(stream: { isTTY?: boolean; columns?: number }): number {
  return stream.isTTY && stream.columns && stream.columns >= 40 ? stream.columns : DEFAULT_WIDTH;
}

/**
 * Wraps one paragraph to `width`: the first line starts with `first`, the rest with `indent`.
 * A word longer than a line (a path, a rule) stays whole on its own line rather than be cut.
 */
export function wrap(text: string, width: number, first = '', indent = first.replace(/./g, ' ')): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = empty ? `${line}${word}` : `${line} ${word}`;
    if (!empty && candidate.length > width) {
      lines.push(line);
      line = `${indent}${word}`;
    } else {
      line = candidate;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}

/** Every line of a multi-line text wrapped (each input line its own paragraph). */
export function wrapLines(text: string, width: number, first = '', indent = first.replace(/./g, ' ')): string[] {
  return text.split('\n').flatMap((l, i) => wrap(l, width, i === 0 ? first : indent, indent));
}

/** One line cut to `width` (the live view must never wrap, or it cannot redraw in place). */
export function clip(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

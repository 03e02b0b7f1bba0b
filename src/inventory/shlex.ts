/**
 * Python's `shlex.split(line, comments=True)` (POSIX mode), which Ansible's INI plugin uses to
 * split a host line into the host and its `key=value` words: quotes group, `\` escapes outside
 * single quotes (inside double quotes only `\"` and `\\`), `#` outside quotes ends the line.
 * Returns the words, or an error message as Python's shlex raises it. `comments: false` is
 * `shlex.split(line)`, which Ansible's ssh plugin splits ssh_args with (`#` is a character).
 */
export function shlexSplit(line: string, { comments = true } = {}): { words: string[] } | { error: string } {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word = `${word ?? ''}${c}`;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word = `${word ?? ''}${line[++i]}`;
      else word = `${word ?? ''}${c}`;
    } else if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#' && comments) {
      break;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (c === '\\') {
      if (i + 1 >= line.length) return { error: 'No escaped character' };
      word = (word ?? '') + line[++i];
    } else word = (word ?? '') + c;
  }
  if (quote) return { error: 'No closing quotation' };
  if (word !== undefined) words.push(word);
  return { words };
}

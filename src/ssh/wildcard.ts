/**
 * OpenSSH's match_pattern (match.c), the one wildcard of ssh_config's Host and Match lists, its
 * Include globs and known_hosts patterns: `*` any run of characters, `?` exactly one, everything
 * else literal and case-sensitive. Callers lower-case where ssh does and handle `!` themselves.
 *
 * A RegExp of `*?*?…X` backtracks exponentially (a hostile pattern hangs the controller); this walk
 * backs up only to the last `*`, so it costs at most text × pattern steps.
 */
export function matchWildcard(text: string, pattern: string): boolean {
  let t = 0;
  let p = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = pattern[p];
    if (c === '*') {
      star = p++;
      resume = t;
    } else if (c !== undefined && (c === '?' || c === text[t])) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else return false;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

import { createTwoFilesPatch } from 'diff';

/**
 * Unified diff of a file edge manages. `undefined` content means "does not exist", so creating and
 * deleting read as /dev/null on one side, the way git shows them. Mode changes get their own line.
 */
export function fileDiff(
  path: string,
  before: { content: string; mode?: string } | undefined,
  after: { content: string; mode?: string } | undefined,
): string {
  const oldName = before ? `a${path}` : '/dev/null';
  const newName = after ? `b${path}` : '/dev/null';
  let out = '';
  if (before && after && before.mode && after.mode && before.mode !== after.mode) {
    out += `mode ${path}: ${before.mode} → ${after.mode}\n`;
  }
  if ((before?.content ?? '') !== (after?.content ?? '') || !before || !after) {
    const patch = wholeFilePatch(oldName, newName, before?.content ?? '', after?.content ?? '') ??
      createTwoFilesPatch(oldName, newName, before?.content ?? '', after?.content ?? '', '', '', { context: 3 });
    // Drop the "Index:"/"===" header createTwoFilesPatch emits; keep ---/+++ and hunks.
    out += patch
      .split('\n')
      .filter((l, i) => !(i < 2 && (l.startsWith('Index:') || l.startsWith('='))))
      .map((l) => (l.startsWith('--- ') || l.startsWith('+++ ') ? l.trimEnd() : l))
      .join('\n');
    if (before && after && before.mode !== after.mode && after.mode && !before.mode) {
      out += `mode ${path}: ${after.mode}\n`;
    }
  }
  return out.endsWith('\n') || out === '' ? out : `${out}\n`;
}

/**
 * The patch of a file created from nothing or emptied, written directly: jsdiff's general algorithm
 * takes time quadratic in the length of a file that is all one insertion (most of a check run's
 * CPU on fresh routers). Byte for byte what createTwoFilesPatch prints (the unit tests compare).
 */
export function wholeFilePatch(oldName: string, newName: string, before: string, after: string): string | undefined {
  if ((before === '') === (after === '')) return undefined;
  const text = before || after;
  const sign = before ? '-' : '+';
  const lines = text.split('\n');
  const complete = text.endsWith('\n');
  if (complete) lines.pop();
  const body = lines.map((l) => `${sign}${l}`);
  if (!complete) body.push('\\ No newline at end of file');
  const hunk = before ? `@@ -1,${lines.length} +0,0 @@` : `@@ -0,0 +1,${lines.length} @@`;
  return ['='.repeat(67), `--- ${oldName}\t`, `+++ ${newName}\t`, hunk, ...body, ''].join('\n');
}

/** Before/after lines for runtime state (sysctl values, ip rules, routes, nft elements). */
export function runtimeDiff(title: string, before: string[], after: string[]): string {
  const removed = before.filter((l) => !after.includes(l));
  const added = after.filter((l) => !before.includes(l));
  const lines = [`--- ${title} (runtime)`, `+++ ${title} (runtime)`];
  for (const l of removed) lines.push(`-${l}`);
  for (const l of added) lines.push(`+${l}`);
  return `${lines.join('\n')}\n`;
}

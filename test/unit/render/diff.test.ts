import { describe, expect, it } from 'vitest';
import { createTwoFilesPatch } from 'diff';
import { fileDiff, runtimeDiff, wholeFilePatch } from '../../../src/render/diff.js';

describe('diff rendering', () => {
  it('shows a new file as created from /dev/null', () => {
    const d = fileDiff('/etc/x.conf', undefined, { content: 'a\nb\n', mode: '0644' });
    expect(d).toContain('--- /dev/null');
    expect(d).toContain('+++ b/etc/x.conf');
    expect(d).toContain('+a\n+b');
  });
  it('shows changed lines with context and a mode change', () => {
    const d = fileDiff('/etc/x', { content: '1\n2\n3\n', mode: '0644' }, { content: '1\nTWO\n3\n', mode: '0600' });
    expect(d).toMatch(/^mode \/etc\/x: 0644 → 0600$/m);
    expect(d).toContain('-2\n+TWO');
    expect(d).toContain(' 1\n');
  });
  it('shows a deletion to /dev/null', () => {
    expect(fileDiff('/etc/x', { content: 'gone\n' }, undefined)).toContain('+++ /dev/null');
  });
  it('shows only a mode line when content is equal', () => {
    expect(fileDiff('/etc/x', { content: 'a\n', mode: '0644' }, { content: 'a\n', mode: '0600' })).toBe('mode /etc/x: 0644 → 0600\n');
  });
  it('writes a created or emptied file exactly as jsdiff does, without its quadratic search', () => {
    const big = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n');
    for (const t of ['a', 'a\n', 'a\nb', '\n', 'x\n\n', 'a\nb\nc\n', big, `${big}\n`]) {
      expect(wholeFilePatch('/dev/null', 'b/x', '', t)).toBe(createTwoFilesPatch('/dev/null', 'b/x', '', t, '', '', { context: 3 }));
      expect(wholeFilePatch('a/x', '/dev/null', t, '')).toBe(createTwoFilesPatch('a/x', '/dev/null', t, '', '', '', { context: 3 }));
    }
    expect(wholeFilePatch('a/x', 'b/x', 'a\n', 'b\n')).toBeUndefined();
  });
  it('renders runtime before/after lines', () => {
    expect(runtimeDiff('sysctl', ['a = 0', 'b = 1'], ['a = 1', 'b = 1'])).toBe(
      '--- sysctl (runtime)\n+++ sysctl (runtime)\n-a = 0\n+a = 1\n',
    );
  });
});

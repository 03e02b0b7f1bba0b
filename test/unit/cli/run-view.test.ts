import { afterEach, describe, expect, it } from 'vitest';
import type { HostResult, TaskResult } from '../../../src/engine/types.js';
import { SUMMARY_ABOVE } from '../../../src/ui/live.js';
import { RunView } from '../../../src/ui/run-view.js';

/**
 * The listr2 view of a batch: engine events mapped onto a listr2 task per host, drawn by edge's
 * live renderer on a terminal or written as plain lines elsewhere.
 */

const result = (host: string, over: Partial<HostResult> = {}): HostResult => ({
  host, status: 'changed', state: 'unchanged', tasks: [], durationMs: 1500, execs: 1, bytesSent: 0, bytesReceived: 0, ...over,
});
const task: TaskResult = { task: 'sysctl', status: 'ok', changes: [], durationMs: 3, execs: 0 };

/** A terminal of 80×24 that keeps what is on it (lines, cursor moves of the view applied). */
function screen(columns = 80, rows = 24) {
  const lines: string[] = [];
  const writes: string[] = [];
  const term = {
    columns: () => columns,
    rows: () => rows,
    write(s: string) {
      writes.push(s);
      // the view's own cursor moves: up N lines to column 0, then erase below
      const up = /^\x1b\[(\d+)F\x1b\[J/.exec(s);
      if (up) return void lines.splice(lines.length - Number(up[1]));
      lines.push(...s.replace(/\n$/, '').split('\n'));
    },
  };
  return { term, lines, writes };
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `site${String(i + 1).padStart(2, '0')}`);
const tick = () => new Promise((r) => setTimeout(r, 0));

/** listr2 draws its primary renderer only when stdout is a terminal (it falls back otherwise): a test's stdout is not. */
const realTTY = process.stdout.isTTY;
function liveView(hosts: string[], term: ReturnType<typeof screen>['term']): RunView {
  process.stdout.isTTY = true;
  try {
    return new RunView(hosts, { live: true, term, writeLine: () => expect.fail('no plain lines on a terminal') });
  } finally {
    process.stdout.isTTY = realTTY;
  }
}
afterEach(() => void (process.stdout.isTTY = realTTY));

describe('the run view (listr2)', () => {
  it('off a terminal: one plain line per event, `host: what`, as CI logs and tests read them', async () => {
    const lines: string[] = [];
    const view = new RunView(['r1', 'r2'], { live: false, term: screen().term, writeLine: (l) => lines.push(l) });
    view.hostStarted('r1');
    view.hostStep('r1', 'connect');
    view.hostStep('r1', 'apply', 'nftables');
    view.taskStarted();
    view.taskFinished('r1', task);
    view.hostFinished(result('r1', { status: 'failed', error: 'nftables: boom', rollback: 'rolled back automatically' }));
    view.hostStarted('r2');
    view.hostFinished(result('r2', { status: 'unreachable', error: 'connect ETIMEDOUT' }));
    await view.done;
    expect(lines).toEqual([
      'r1: started',
      'r1: connect',
      'r1: apply — nftables',
      'r1: sysctl: ok [3 ms]',
      'r1: failed — nftables: boom — rolled back automatically',
      'r2: started',
      'r2: unreachable',
    ]);
  });

  it(`on a terminal, up to ${SUMMARY_ABOVE} hosts: a row per host, within 80 columns`, async () => {
    const s = screen(80, 40);
    const hosts = names(SUMMARY_ABOVE);
    const view = liveView(hosts, s.term);
    await tick();
    view.hostStarted('site01');
    view.hostStep('site01', 'facts');
    view.hostFinished(result('site02', { status: 'failed', error: `verify: ${'no answer '.repeat(12)}\nsecond line` }));
    await new Promise((r) => setTimeout(r, 250)); // one redraw
    expect(s.lines).toHaveLength(SUMMARY_ABOVE);
    expect(s.lines[0]).toMatch(/^… site01 {2}facts \(\d+\.\d s\)$/);
    expect(s.lines[1]).toMatch(/^✖ site02 {2}failed: verify: no answer/);
    expect(s.lines[2]).toBe('· site03  waiting');
    for (const l of s.lines) expect(l.length).toBeLessThanOrEqual(80);
    view.stop();
  });

  it(`above ${SUMMARY_ABOVE} hosts: the summary bar with its ETA above the active and failed hosts only`, async () => {
    const s = screen();
    const hosts = names(40);
    const view = liveView(hosts, s.term);
    await tick();
    for (const h of hosts.slice(0, 10)) view.hostFinished(result(h));
    view.hostFinished(result('site11', { status: 'unreachable', error: 'connect ETIMEDOUT' }));
    for (const h of hosts.slice(11, 17)) view.hostStep(h, 'facts');
    await new Promise((r) => setTimeout(r, 250));
    expect(s.lines[0]).toMatch(/^\[#+\.+\] 11\/40 done {2}10 changed {2}1 failed {2}29 left {2}ETA \d+:\d\d$/);
    expect(s.lines.filter((l) => l.startsWith('✖ site11  unreachable: connect ETIMEDOUT'))).toHaveLength(1);
    expect(s.lines.filter((l) => l.startsWith('… '))).toHaveLength(6);
    expect(s.lines.filter((l) => l.startsWith('✔ ') || l.startsWith('· '))).toHaveLength(0);
    for (const l of s.lines) expect(l.length).toBeLessThanOrEqual(80);
    view.stop();
  });

  it(`${SUMMARY_ABOVE} hosts on 24 rows: the summary, not rows cut off at the bottom`, async () => {
    const s = screen(80, 24);
    const view = liveView(names(SUMMARY_ABOVE), s.term);
    await tick();
    expect(s.lines[0]).toMatch(/^\[\.+\] 0\/30 done /);
    expect(s.lines.length).toBeLessThanOrEqual(20);
    view.stop();
  });

  it('erases itself when the last host finishes, before done resolves (the recap comes next)', async () => {
    const s = screen();
    const view = liveView(['r1', 'r2'], s.term);
    await tick();
    expect(s.lines).toEqual(['· r1  waiting', '· r2  waiting']);
    view.hostFinished(result('r1'));
    view.hostFinished(result('r2', { status: 'skipped' }));
    await view.done;
    expect(s.lines).toEqual([]);
    expect(s.writes.at(-1)).toBe('\x1b[2F\x1b[J');
  });

  it('stop() erases at once, even with hosts still running (an interrupted run)', async () => {
    const s = screen();
    const view = liveView(['r1'], s.term);
    await tick();
    view.hostStep('r1', 'connect');
    view.stop();
    expect(s.lines).toEqual([]);
    await view.done;
    expect(s.lines).toEqual([]);
  });
});

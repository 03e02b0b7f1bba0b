import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { screenText as statusScreen } from '../../../src/commands/status.js';
import type { HostStatus } from '../../../src/engine/status.js';
import { fleetSummary } from '../../../src/engine/status-fleet.js';
import type { HostResult, RunResult } from '../../../src/engine/types.js';
import { liveLines, type LiveState } from '../../../src/ui/live.js';
import { RunView } from '../../../src/ui/run-view.js';
import { diffText, recapText } from '../../../src/ui/recap.js';
import { termJson, termJsonChunks } from '../../../src/encode/index.js';
import { screenJson, screenSafe, screenWriter } from '../../../src/ui/screen.js';
import { edge } from '../../integration/edge-cli.js';

/**
 * A hostile router's bytes never reach the operator's terminal raw: escape sequences (a screen
 * clear, OSC 52 setting the clipboard, a C1 CSI), a carriage return that overwrites the line, a bidi
 * override and a line separator, in every place router text is shown.
 */
const HOSTILE = [
  '\x1b[2J\x1b[Hrecap rewritten',
  '\x1b]52;c;ZWNobyBwd25lZA==\x07',
  'ok\rfailed',
  '\u009b31mC1 CSI',
  'evil\u202etxt.exe',
  'line\u2028separator',
  'zero\u200bwidth',
].join(' ');

// What a terminal acts on: C0 (but newline and tab) and C1 controls, format characters, separators.
const ACTIVE = /(?![\n\t])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
// edge's own colours, the only escape sequences it writes (the live view adds its cursor moves).
const EDGE_SGR = /\x1b\[(?:0|1|31|32|33|36)m/g;

function assertInert(out: string): void {
  const stripped = out.replace(EDGE_SGR, '');
  expect(ACTIVE.exec(stripped)?.[0]).toBeUndefined();
  // The text is still there, visibly escaped: nothing is dropped.
  expect(out).toContain('\\x1b]52;c;ZWNobyBwd25lZA==\\x07');
  expect(out).toContain('evil\\u202etxt.exe');
}

const host = (over: Partial<HostResult>): HostResult => ({
  host: 'r1', status: 'failed', state: 'rolled-back', tasks: [], durationMs: 5, execs: 1, bytesSent: 0, bytesReceived: 0, ...over,
});

function hostileRun(): RunResult {
  return {
    runId: '20261206T030000Z-a0d4', playbook: 'pb.yaml', inventory: 'inv.yaml', check: false, startedAt: '', status: 'failed',
    hosts: [
      host({
        error: `nftables: ${HOSTILE}`,
        rollback: `rolled back: ${HOSTILE}`,
        notes: [`lock held by ${HOSTILE}`],
        tasks: [{ task: 'nftables', status: 'failed', durationMs: 1, execs: 1, error: `nft: ${HOSTILE}\nedge: ${HOSTILE}`, changes: [{ summary: HOSTILE, diff: `--- a\n+++ b\n-${HOSTILE}\n+\tnew` } as never], notes: [HOSTILE] }],
      }),
    ],
    rollout: [{ play: 0, batches: [], hosts: [], stop: { message: HOSTILE } } as never],
  };
}

describe('router text reaches the screen only through the terminal encoder', () => {
  it('the recap, the coloured and plain diff, the plain and the live view', async () => {
    const run = hostileRun();
    assertInert(recapText(run));
    for (const color of [true, false]) assertInert(diffText(run, color));
    expect(diffText(run, false)).toContain('+\tnew'); // a diff keeps its tabs

    const lines: string[] = [];
    const term = { write: () => expect.fail('no live view off a terminal'), columns: () => 80, rows: () => 24 };
    const rep = new RunView(['r1'], { live: false, term, writeLine: (l) => screenWriter((s) => lines.push(s))(l) });
    rep.hostStep('r1', 'rolling back', HOSTILE);
    rep.taskFinished('r1', run.hosts[0]!.tasks[0]!);
    rep.hostFinished(run.hosts[0]!);
    await rep.done;
    assertInert(lines.join('\n'));

    const st: LiveState = { hosts: new Map([['r1', { phase: 'done', result: { ...run.hosts[0]!, error: HOSTILE } }]]), startedAt: 0 };
    assertInert(liveLines(st, 10, 500, 10).join('\n'));
  });

  it('edge status: a hostile router block and the fleet view, coloured', () => {
    const hostile: HostStatus = {
      host: 'r1', ok: true, preferred: 'unknown', preferredNote: HOSTILE, units: { keepalived: HOSTILE },
      wans: [{ wan: 'wan1', interface: HOSTILE, link: 'up', state: 'down', keepalived: 'FAULT' } as never],
      switches: { last24h: 1, last: { at: '2026-12-06T03:00:00Z', from: 'wan1', to: 'wan2', why: HOSTILE } as never },
      execs: 1, ms: 1,
    };
    const down: HostStatus = { host: 'r2', ok: false, error: `connect: ${HOSTILE}`, wans: [], units: {}, execs: 0, ms: 1 };
    const all = [hostile, down];
    const at = new Date(0);
    assertInert(statusScreen(all, fleetSummary(all), { color: true, at, rows: 500 }));
    const fleet = statusScreen(all, fleetSummary(all), { color: true, at, rows: 3 });
    expect(fleet).toContain('ROUTER');
    expect(ACTIVE.test(fleet.replace(EDGE_SGR, ''))).toBe(false);
  });

  it('JSON output is the same document with nothing a terminal acts on', () => {
    const doc = { a: HOSTILE, [HOSTILE]: ['\u{e0041}tag'] };
    const text = screenJson(doc, 2);
    expect(ACTIVE.test(text)).toBe(false);
    expect(JSON.parse(text)).toEqual(doc);
    expect(ACTIVE.test(Object.keys(screenSafe(doc)).join(''))).toBe(false);
  });

  it('edge runs shows a tampered journal escaped (the real CLI)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-screen-'));
    writeFileSync(join(dir, 'inv.yaml'), 'all:\n  hosts:\n    r1:\n      ansible_host: 192.0.2.1\n');
    mkdirSync(join(dir, '.edge', 'runs'), { recursive: true, mode: 0o700 });
    const run = { ...hostileRun(), inventory: join(dir, 'inv.yaml') };
    run.hosts[0]!.state = HOSTILE as never;
    const lines = [
      { type: 'run', runId: run.runId, playbook: run.playbook, inventory: run.inventory, check: false, startedAt: '' },
      { type: 'play', rollout: { play: 0, batches: [['r2']], hosts: [{ name: 'r2', state: 'not-started' }], stop: { message: HOSTILE } }, rerun: [] },
      { type: 'host', result: run.hosts[0] },
      { type: 'end', status: 'failed' },
    ];
    writeFileSync(join(dir, '.edge', 'runs', `${run.runId}.jsonl`), lines.map((l) => `${JSON.stringify(l)}\n`).join(''), { mode: 0o600 });
    const r = await edge(['runs', '--local', '-i', 'inv.yaml'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(run.runId);
    assertInert(r.stdout);
  }, 120_000);
});

describe('termJsonChunks', () => {
  it('joined, is termJson(value, 2) byte for byte: nested members, arrays of objects, empty and odd values, characters a terminal acts on', () => {
    const doc = {
      schemaVersion: 3,
      runId: 'r\u202e1',
      hosts: [
        { host: 'a', tasks: [{ task: 't', changes: [], notes: ['x\u009b31m'] }], nested: { deep: [1, [2, { z: null }]] } },
        { host: 'b\u2028', tasks: [], skipped: undefined },
        undefined,
        'plain',
      ],
      empty: [],
      none: {},
      gone: undefined,
      fn: () => 1,
      last: [[]],
    };
    expect([...termJsonChunks(doc, 2)].join('')).toBe(termJson(doc, 2));
    expect([...termJsonChunks({}, 2)].join('')).toBe(termJson({}, 2));
    expect([...termJsonChunks({ only: undefined }, 2)].join('')).toBe(termJson({ only: undefined }, 2));
  });

  it('gives each element of a member array a piece of its own', () => {
    const hosts = Array.from({ length: 50 }, (_, i) => ({ host: `r${i}`, status: 'ok' }));
    const pieces = [...termJsonChunks({ runId: 'x', hosts }, 2)];
    expect(pieces.length).toBeGreaterThan(50);
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThan(100);
  });
});

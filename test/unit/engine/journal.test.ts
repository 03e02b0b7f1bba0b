import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { foldJournal, JournalWriter, listJournals, readJournal, writeJournal } from '../../../src/engine/journal.js';
import { initialRolloutState, recordBatch, stopRollout } from '../../../src/engine/rollout.js';
import type { HostResult, RunResult } from '../../../src/engine/types.js';

function run(runId = '20261201T100000Z-abcd'): RunResult {
  return { runId, playbook: 'pb.yaml', inventory: 'inv.yaml', check: true, startedAt: '2026-12-01T10:00:00.000Z', status: 'running', hosts: [], rollout: [] };
}

function host(i: number): HostResult {
  return {
    host: `r${String(i).padStart(5, '0')}`,
    status: 'ok',
    state: 'unchanged',
    tasks: [{ task: 'verify', status: 'ok', changes: [], durationMs: 3, execs: 0 }],
    durationMs: 120,
    execs: 1,
    bytesSent: 4000,
    bytesReceived: 9000,
  };
}

describe('run journal (JSON Lines)', () => {
  it('costs the same per host at any size: bytes written grow linearly over 10,000 hosts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-journal-'));
    const r = run();
    const w = JournalWriter.open(r, dir);
    const marks: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      w.host(host(i));
      if ((i + 1) % 1000 === 0) marks.push(w.bytesWritten);
    }
    r.status = 'ok';
    w.end(r);
    // Every block of 1,000 hosts costs the same bytes (host names are fixed-width), and the file
    // on disk is exactly what was written: nothing is rewritten.
    const steps = marks.map((m, i) => m - (marks[i - 1] ?? marks[0]! - (marks[1]! - marks[0]!)));
    expect(new Set(steps).size).toBe(1);
    expect(statSync(w.file).size).toBe(w.bytesWritten);
    const back = foldJournal(readFileSync(w.file, 'utf8'))!;
    expect(back.hosts).toHaveLength(10_000);
    expect(back.hosts[9_999]).toEqual(host(9_999));
    expect(back.status).toBe('ok');
  });

  it('folds plays, batches, a stop and a resume back into the run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-journal-'));
    const r = run();
    const w = JournalWriter.open(r, dir);
    let state = initialRolloutState(0, { batches: [[{ name: 'a' }], [{ name: 'b' }]] });
    r.rollout!.push(state);
    w.play(state, []);
    const a = { ...host(1), host: 'a' };
    r.hosts.push(a);
    w.host(a);
    state = recordBatch(state, 0, [a]);
    w.rollout(state, state.hosts.filter((h) => h.batch === 0));
    state = stopRollout(state, { reason: 'interrupted', message: 'interrupted' }, new Date('2026-12-01T10:01:00Z'));
    w.rollout(state, []);
    r.rollout![0] = state;
    r.status = 'interrupted';
    r.finishedAt = '2026-12-01T10:01:00.000Z';
    w.end(r);
    expect(await readJournal(r.runId, dir)).toEqual(r);

    // A resume rewrites what it carries over once, then appends; a host run again replaces its old result.
    const resumed: RunResult = { ...r, status: 'running', finishedAt: undefined };
    const w2 = JournalWriter.open(resumed, dir);
    const fresh = initialRolloutState(0, { batches: [[{ name: 'a' }], [{ name: 'b' }]] });
    w2.play(fresh, ['a']);
    const again = { ...a, durationMs: 7 };
    w2.host(again);
    const back = (await readJournal(r.runId, dir))!;
    expect(back.hosts).toEqual([again]);
    expect(back.rollout![0]!.stop).toBeUndefined();
    expect(back.rollout![0]!.hosts.map((h) => h.state)).toEqual(['not-started', 'not-started']);
  });

  it('ignores a last line cut short, and still reads journals of the single-document format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-journal-'));
    const r = run('20261201T100000Z-0001');
    const w = JournalWriter.open(r, dir);
    w.host(host(1));
    writeFileSync(w.file, readFileSync(w.file, 'utf8') + '{"type":"host","result":{"ho');
    expect((await readJournal(r.runId, dir))!.hosts).toHaveLength(1);

    const old = { ...run('20261130T100000Z-0002'), status: 'ok' as const, hosts: [host(2)] };
    writeFileSync(join(dir, `${old.runId}.json`), JSON.stringify(old));
    expect(await readJournal(old.runId, dir)).toEqual(old);
    expect((await listJournals(dir)).map((j) => j.runId)).toEqual([old.runId, r.runId]);
  });

  it('writeJournal rewrites a whole run (edge confirm, edge rollback) and reads back the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-journal-'));
    const r: RunResult = { ...run(), status: 'ok', finishedAt: '2026-12-01T10:02:00.000Z', hosts: [host(1), host(2)] };
    r.rollout = [recordBatch(initialRolloutState(0, { batches: [[{ name: 'r00001' }, { name: 'r00002' }]] }), 0, r.hosts)];
    await writeJournal(r, dir);
    r.hosts[0]!.state = 'confirmed';
    await writeJournal(r, dir);
    expect(await readJournal(r.runId, dir)).toEqual(r);
  });

  it('keeps journals private: the directory 0700, each journal 0600, written through a fresh O_EXCL name', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'edge-journal-'));
    const dir = join(parent, '.edge', 'runs');
    const r = run('20261201T100000Z-0003');
    // A planted symlink at the temp name an older edge used: writing must not follow it.
    const victim = join(parent, 'victim');
    writeFileSync(victim, 'untouched');
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    symlinkSync(victim, join(dir, `${r.runId}.jsonl.tmp`));
    const w = JournalWriter.open(r, dir);
    w.host(host(1));
    await writeJournal({ ...r, hosts: [host(1)] }, dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(parent, '.edge')).mode & 0o777).toBe(0o700);
    expect(statSync(w.file).mode & 0o777).toBe(0o600);
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
  });

  it('keeps router text inert in the file (C1 CSI, bidi override, separators as \\u escapes) and reads back the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-journal-'));
    const hostile = 'stderr \x1b[2J \u009b31m evil\u202etxt \u2028 zero\u200bwidth \u{e0041}tag \x7f';
    const r = run('20261201T100000Z-0005');
    const h: HostResult = { ...host(1), status: 'failed', error: hostile };
    const w = JournalWriter.open({ ...r, hosts: [{ ...host(2), error: hostile }] }, dir);
    w.host(h);
    const doc = { ...r, hosts: [{ ...host(2), error: hostile }, h] };
    // JSON.stringify already escapes C0 (ESC among them); C1, DEL and format characters it leaves raw.
    const inert = async () => {
      const text = readFileSync(w.file, 'utf8');
      expect(/[\x00-\x09\x0b-\x1f\x7f-\x9f\p{Cf}\p{Zl}\p{Zp}]/u.exec(text)?.[0]).toBeUndefined();
      expect(text).toContain('evil\\u202etxt');
      expect(await readJournal(r.runId, dir)).toEqual(doc);
    };
    await inert();
    await writeJournal(doc, dir);
    await inert();
  });

  it('refuses a tampered journal loudly, naming the file and line; a FIFO is refused, not waited on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-journal-'));
    const r = run('20261201T100000Z-0004');
    const w = JournalWriter.open(r, dir);
    w.host(host(1));
    writeFileSync(w.file, readFileSync(w.file, 'utf8').replace('\n', '\nnot json\n'));
    await expect(readJournal(r.runId, dir)).rejects.toThrow(`${w.file}:2: not a journal record`);
    writeFileSync(w.file, '{"type":"run","runId":"x"}\n{"type":"evil"}\n{"type":"end","status":"ok"}\n');
    await expect(readJournal(r.runId, dir)).rejects.toThrow(`${w.file}:2: not a journal record (no known "type")`);
    rmSync(w.file);
    expect(spawnSync('mkfifo', [w.file]).status).toBe(0);
    await expect(listJournals(dir)).rejects.toThrow(/FIFO/);
  });
});

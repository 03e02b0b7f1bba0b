import { appendFileSync, existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MiB } from '../config/read-file.js';
import { termJson } from '../encode/index.js';
import { EdgeError } from '../errors.js';
import { checkPrivateDir, privateDir, readPrivate, writePrivate } from './private-files.js';
import type { RolloutState } from './rollout.js';
import type { HostResult, RunResult } from './types.js';

/**
 * The local run journal: .edge/runs/RUN_ID.jsonl, JSON Lines appended as the run goes on — a header,
 * one line per finished host, the rollout state as it changes, and a summary at the end — so what a
 * host costs to record does not grow with the run (rewriting one JSON document per host did: at
 * 1,000 hosts that was 26 GB written). Reading folds the lines back into a RunResult; a last line
 * cut short by a crash is ignored. Journals of earlier versions (RUN_ID.json) are still read.
 * They are private (private-files.ts): with --diff they hold the old contents of replaced router
 * files (a keepalived.conf with its auth_pass).
 */
export const JOURNAL_DIR = join('.edge', 'runs');
const JOURNALS = 'run journals';

type RolloutFields = Omit<RolloutState, 'hosts'>;
type RolloutEntry = RolloutState['hosts'][number];

export type JournalRecord =
  | { type: 'run'; runId: string; playbook: string; inventory: string; check: boolean; startedAt: string }
  /** A play starts: its whole rollout state, and the hosts whose earlier results give way to this attempt. */
  | { type: 'play'; rollout: RolloutState; rerun: string[] }
  | { type: 'host'; result: HostResult }
  /** The rollout of a play moved on: its fields, and the host entries that changed (upserted by name). */
  | { type: 'rollout'; rollout: RolloutFields; hosts: RolloutEntry[] }
  | { type: 'end'; status: RunResult['status']; finishedAt?: string };

const fileOf = (runId: string, dir: string) => join(dir, `${runId}.jsonl`);

/**
 * One record as a journal line. termJson, not JSON.stringify: router text in it (stderr, a diff body)
 * must not act on the terminal of whoever reads the file with cat or less.
 */
const lineOf = (record: JournalRecord): string => `${termJson(record)}\n`;

/** A journal may hold --diff bodies of 1,000 hosts; a line is one host's result. Far above real ones. */
export const JOURNAL_CAPS = { file: 256 * MiB, line: 32 * MiB } as const;

/** Appends records to one run's journal, one append per record, in order. */
export class JournalWriter {
  /** Bytes written so far (the journal's cost; tests hold it to linear growth). */
  bytesWritten = 0;

  private constructor(readonly file: string) {}

  /**
   * Starts the journal of `run`. A fresh run writes its header; a resumed one first rewrites what
   * it carries over, compactly, once (so the file then grows by appends only).
   */
  static open(run: RunResult, dir = JOURNAL_DIR): JournalWriter {
    privateDir(dir, JOURNALS);
    const w = new JournalWriter(fileOf(run.runId, dir));
    const carried = recordsOf({ ...run, status: 'running', finishedAt: undefined });
    const text = carried.map(lineOf).join('');
    writePrivate(w.file, text);
    w.bytesWritten = Buffer.byteLength(text);
    return w;
  }

  append(record: JournalRecord): void {
    const line = lineOf(record);
    appendFileSync(this.file, line, { mode: 0o600 });
    this.bytesWritten += Buffer.byteLength(line);
  }

  host(result: HostResult): void {
    this.append({ type: 'host', result });
  }

  play(rollout: RolloutState, rerun: string[]): void {
    this.append({ type: 'play', rollout, rerun });
  }

  rollout(state: RolloutState, changed: readonly RolloutEntry[]): void {
    const { hosts: _all, ...fields } = state;
    this.append({ type: 'rollout', rollout: fields, hosts: [...changed] });
  }

  /** The summary line. */
  end(run: RunResult): void {
    this.append({ type: 'end', status: run.status, ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}) });
  }
}

/** The records that say `run` as it stands (header, plays, hosts, summary). */
export function recordsOf(run: RunResult): JournalRecord[] {
  const { runId, playbook, inventory, check, startedAt } = run;
  return [
    { type: 'run', runId, playbook, inventory, check, startedAt },
    ...(run.rollout ?? []).map((rollout): JournalRecord => ({ type: 'play', rollout, rerun: [] })),
    ...run.hosts.map((result): JournalRecord => ({ type: 'host', result })),
    ...(run.finishedAt || run.status !== 'running' ? [{ type: 'end', status: run.status, finishedAt: run.finishedAt } as JournalRecord] : []),
  ];
}

/** Rewrites a whole journal atomically (edge confirm / edge rollback record what they did to its hosts). */
export async function writeJournal(result: RunResult, dir = JOURNAL_DIR): Promise<string> {
  privateDir(dir, JOURNALS);
  const file = fileOf(result.runId, dir);
  writePrivate(file, recordsOf(result).map(lineOf).join(''));
  return file;
}

const RECORD_TYPES = new Set(['run', 'play', 'host', 'rollout', 'end']);

/**
 * One line as a record. Only the last line may be cut short (a crash mid-append): it is ignored.
 * Any other line that is not a record, or is oversized, is refused naming the file and line, as a
 * tampered journal would change what rollback and confirm act on.
 */
function journalRecord(line: string, at: string, last: boolean): JournalRecord | undefined {
  if (line.length > JOURNAL_CAPS.line) throw new EdgeError('CONFIG', `${at}: a journal line of ${line.length} characters, over the ${JOURNAL_CAPS.line} limit: refused`);
  let r: unknown;
  try {
    r = JSON.parse(line);
  } catch (e) {
    if (last) return undefined;
    throw new EdgeError('CONFIG', `${at}: not a journal record (${(e as Error).message}): refused; move the file away if it is not edge's`);
  }
  const type = (r as { type?: unknown } | null)?.type;
  if (typeof r !== 'object' || r === null || typeof type !== 'string' || !RECORD_TYPES.has(type)) {
    throw new EdgeError('CONFIG', `${at}: not a journal record (no known "type"): refused; move the file away if it is not edge's`);
  }
  return r as JournalRecord;
}

/** Folds journal lines into the run they record; undefined when there is no header. `file` names it in a refusal. */
export function foldJournal(text: string, file = 'journal'): RunResult | undefined {
  let run: RunResult | undefined;
  const rollouts = new Map<number, { state: RolloutState; index: Map<string, number> }>();
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue;
    const r = journalRecord(line, `${file}:${i + 1}`, i === lines.length - 1);
    if (!r) continue;
    if (r.type === 'run') {
      const { type: _t, ...head } = r;
      run = { ...head, status: 'running', hosts: [], rollout: [] };
      rollouts.clear();
      continue;
    }
    if (!run) continue;
    if (r.type === 'host') run.hosts.push(r.result);
    else if (r.type === 'end') {
      run.status = r.status;
      if (r.finishedAt) run.finishedAt = r.finishedAt;
    } else if (r.type === 'play') {
      const rerun = new Set(r.rerun);
      if (rerun.size) run.hosts = run.hosts.filter((h) => !rerun.has(h.host));
      rollouts.set(r.rollout.play, { state: r.rollout, index: new Map(r.rollout.hosts.map((h, i) => [h.name, i])) });
    } else if (r.type === 'rollout') {
      const at = rollouts.get(r.rollout.play);
      if (!at) continue;
      at.state = { ...at.state, ...r.rollout, hosts: at.state.hosts };
      if (!('stop' in r.rollout)) delete at.state.stop;
      for (const h of r.hosts) {
        const i = at.index.get(h.name);
        if (i === undefined) at.index.set(h.name, at.state.hosts.push(h) - 1);
        else at.state.hosts[i] = h;
      }
    }
  }
  if (run) run.rollout = [...rollouts.values()].map((x) => x.state);
  return run;
}

/** A journal: the bounded reader; undefined when absent. */
const readJournalText = (file: string) => readPrivate(file, 'run journal', JOURNAL_CAPS.file);

export async function readJournal(runId: string, dir = JOURNAL_DIR): Promise<RunResult | undefined> {
  // A journal says what rollback and confirm act on: read only from a directory no one else controls.
  if (existsSync(dir)) checkPrivateDir(dir, JOURNALS);
  const file = fileOf(runId, dir);
  const text = readJournalText(file);
  if (text !== undefined) return foldJournal(text, file);
  // A journal written before JSON Lines: one document.
  const old = join(dir, `${runId}.json`);
  const doc = readJournalText(old);
  if (doc === undefined) return undefined;
  try {
    return JSON.parse(doc) as RunResult;
  } catch (e) {
    throw new EdgeError('CONFIG', `${old}: not a journal (${(e as Error).message}): refused; move the file away if it is not edge's`);
  }
}

export async function listJournals(dir = JOURNAL_DIR): Promise<RunResult[]> {
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.jsonl') || n.endsWith('.json'));
  } catch {
    return [];
  }
  const ids = [...new Set(names.map((n) => n.replace(/\.jsonl?$/, '')))].sort();
  const out: RunResult[] = [];
  for (const id of ids) {
    const r = await readJournal(id, dir);
    if (r) out.push(r);
  }
  return out;
}

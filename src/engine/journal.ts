import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RolloutState } from './rollout.js';
import type { HostResult, RunResult } from './types.js';

/**
 * The local run journal: .edge/runs/RUN_ID.jsonl, JSON Lines appended as the run goes on — a header,
 * one line per finished host, the rollout state as it changes, and a summary at the end — so what a
 * host costs to record does not grow with the run (rewriting one JSON document per host did: at
 * 1,000 hosts that was 26 GB written). Reading folds the lines back into a RunResult; a last line
 * cut short by a crash is ignored. Journals of earlier versions (RUN_ID.json) are still read.
 */
export const JOURNAL_DIR = join('.edge', 'runs');

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
    mkdirSync(dir, { recursive: true });
    const w = new JournalWriter(fileOf(run.runId, dir));
    const carried = recordsOf({ ...run, status: 'running', finishedAt: undefined });
    const text = carried.map((r) => `${JSON.stringify(r)}\n`).join('');
    const tmp = `${w.file}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, w.file);
    w.bytesWritten = Buffer.byteLength(text);
    return w;
  }

  append(record: JournalRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    appendFileSync(this.file, line);
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
  mkdirSync(dir, { recursive: true });
  const file = fileOf(result.runId, dir);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, recordsOf(result).map((r) => `${JSON.stringify(r)}\n`).join(''));
  renameSync(tmp, file);
  return file;
}

/** Folds journal lines into the run they record; undefined when there is no header. */
export function foldJournal(text: string): RunResult | undefined {
  let run: RunResult | undefined;
  const rollouts = new Map<number, { state: RolloutState; index: Map<string, number> }>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let r: JournalRecord;
    try {
      r = JSON.parse(line) as JournalRecord;
    } catch {
      continue; // a line cut short by a crash
    }
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

export async function readJournal(runId: string, dir = JOURNAL_DIR): Promise<RunResult | undefined> {
  try {
    return foldJournal(await readFile(fileOf(runId, dir), 'utf8'));
  } catch {
    // A journal written before JSON Lines: one document.
    try {
      return JSON.parse(await readFile(join(dir, `${runId}.json`), 'utf8')) as RunResult;
    } catch {
      return undefined;
    }
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

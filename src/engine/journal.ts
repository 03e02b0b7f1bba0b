import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunResult } from './types.js';

/** The local run journal: .edge/runs/RUN_ID.json, rewritten atomically as the run goes on. */
export const JOURNAL_DIR = join('.edge', 'runs');

export async function writeJournal(result: RunResult, dir = JOURNAL_DIR): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${result.runId}.json`);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(result, null, 2) + '\n');
  await rename(tmp, file);
  return file;
}

export async function readJournal(runId: string, dir = JOURNAL_DIR): Promise<RunResult | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, `${runId}.json`), 'utf8')) as RunResult;
  } catch {
    return undefined;
  }
}

export async function listJournals(dir = JOURNAL_DIR): Promise<RunResult[]> {
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const out: RunResult[] = [];
  for (const n of names) {
    const r = await readJournal(n.slice(0, -5), dir);
    if (r) out.push(r);
  }
  return out;
}

/**
 * `npm test`: every test file, in LANES vitest processes that run side by side.
 *
 * Integration tests spend most of their time waiting on routers (boots, DHCP, failover holds,
 * reboots), not on the CPU, so two lanes, each with its own shared lab (EDGE_TEST_LAB_INSTANCE),
 * take about half the time of one. Files that bring up the same isolated lab instance
 * (`const INSTANCE = N`) stay in one lane, one after another. Work is dealt longest first to the
 * lane with the least so far, by the durations of an earlier run (test/durations.json; a file not
 * in it counts as DEFAULT_SEC). The unit tests are one piece of work in one lane.
 *
 *   npm test                      every file, in lanes
 *   npm test -- test/unit/x.ts    arguments: one plain vitest run of just those (no lanes)
 *   EDGE_TEST_LANES=1 npm test    one lane: the old way, one file after another
 *   EDGE_TEST_RECORD=1 npm test   also rewrite test/durations.json from this run
 *
 * Each lane's lines are prefixed with its number; each lane's own failures are printed again at
 * the end, after every lane has finished, so they are not lost in the other lane's output.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = new URL('..', import.meta.url).pathname;
const CONFIG = 'test/vitest.config.ts';
const DURATIONS = join(ROOT, 'test/durations.json');
/** The shared lab instance of each lane: lane 1 keeps 0 (inventories/lab.yaml); 1-4 are the isolated labs' and 7-9 are left for people. */
const LANE_INSTANCES = [0, 5, 6];
const DEFAULT_SEC = 60;
const UNIT = 'test/unit';

interface Work {
  /** test files (or test/unit for all unit tests) run together in one lane */
  files: string[];
  sec: number;
}

function testFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .sort();
}

/** The isolated lab instance a file brings up, if it has its own. */
function isolatedInstance(file: string): number | undefined {
  const m = /^const INSTANCE = (\d+);/m.exec(readFileSync(join(ROOT, file), 'utf8'));
  return m ? Number(m[1]) : undefined;
}

function work(durations: Record<string, number>): Work[] {
  const unitSec = testFiles(UNIT).reduce((s, f) => s + (durations[f] ?? 1), 0);
  const out: Work[] = [{ files: [UNIT], sec: unitSec }];
  const byInstance = new Map<number, Work>();
  for (const f of testFiles('test/integration')) {
    const sec = durations[f] ?? DEFAULT_SEC;
    const i = isolatedInstance(f);
    const w = i === undefined ? undefined : byInstance.get(i);
    if (w) {
      w.files.push(f);
      w.sec += sec;
      continue;
    }
    const fresh = { files: [f], sec };
    if (i !== undefined) byInstance.set(i, fresh);
    out.push(fresh);
  }
  return out;
}

/** Longest first, each to the lane with the least work so far. */
function deal(pieces: readonly Work[], lanes: number): Work[][] {
  const out: Work[][] = Array.from({ length: lanes }, () => []);
  const load = new Array<number>(lanes).fill(0);
  for (const w of [...pieces].sort((a, b) => b.sec - a.sec || a.files[0]!.localeCompare(b.files[0]!))) {
    const i = load.indexOf(Math.min(...load));
    out[i]!.push(w);
    load[i]! += w.sec;
  }
  return out;
}

interface LaneResult {
  lane: number;
  code: number;
  sec: number;
  /** the lane's output from vitest's failure summary on */
  failures: string[];
  /** seconds per file, as vitest's summary line of each says (hooks included) */
  seconds: Record<string, number>;
}

// vitest's line for a finished file: " ✓ test/unit/x.test.ts (3 tests) 1234ms"
const FILE_DONE = /^ *[✓❯×] (test\/\S+\.test\.ts) \(.*\) +([0-9.]+)(ms|s)$/;

function runLane(lane: number, files: string[], est: number): Promise<LaneResult> {
  const tag = `[${lane}] `;
  // colour off unless asked for (FORCE_COLOR): the lanes' lines are interleaved and prefixed
  const env = { ...process.env, EDGE_TEST_LAB_INSTANCE: String(LANE_INSTANCES[lane - 1]), ...(process.env.FORCE_COLOR ? {} : { NO_COLOR: '1' }) };
  process.stdout.write(`${tag}lane ${lane}: lab instance ${env.EDGE_TEST_LAB_INSTANCE}, ${files.length} files, about ${Math.round(est / 60)} min by the last run\n`);
  const args = ['vitest', 'run', '--config', CONFIG, ...files];
  const child = spawn('npx', args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const started = Date.now();
  const failures: string[] = [];
  const seconds: Record<string, number> = {};
  let inSummary = false;
  const pipe = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) =>
    createInterface({ input: stream }).on('line', (line) => {
      // eslint-disable-next-line no-control-regex
      const plain = line.replace(/\x1b\[[0-9;]*m/g, '');
      if (/Failed (Suites|Tests) \d+/.test(plain)) inSummary = true;
      if (inSummary) failures.push(line);
      const done = FILE_DONE.exec(plain);
      if (done) seconds[done[1]!] = Math.round(Number(done[2]) / (done[3] === 'ms' ? 100 : 0.1)) / 10;
      out.write(`${tag}${line}\n`);
    });
  pipe(child.stdout, process.stdout);
  pipe(child.stderr, process.stderr);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ lane, code: code ?? (signal ? 128 : 1), sec: (Date.now() - started) / 1000, failures, seconds }));
  });
}

function record(results: readonly LaneResult[], old: Record<string, number>): void {
  const next = { ...old, ...Object.assign({}, ...results.map((r) => r.seconds)) } as Record<string, number>;
  const sorted = Object.fromEntries(Object.entries(next).filter(([f]) => existsSync(join(ROOT, f))).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(DURATIONS, `${JSON.stringify(sorted, null, 2)}\n`);
  process.stdout.write(`durations of ${Object.keys(sorted).length} files written to test/durations.json\n`);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.length) {
    const child = spawn('npx', ['vitest', 'run', '--config', CONFIG, ...argv], { cwd: ROOT, stdio: 'inherit' });
    return new Promise((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  }
  const durations = existsSync(DURATIONS) ? (JSON.parse(readFileSync(DURATIONS, 'utf8')) as Record<string, number>) : {};
  const asked = Math.trunc(Number(process.env.EDGE_TEST_LANES ?? 2));
  const lanes = Math.min(Math.max(Number.isFinite(asked) ? asked : 2, 1), LANE_INSTANCES.length);
  // a lane dealt nothing is not started (vitest without files would run them all)
  const plan = deal(work(durations), lanes).filter((pieces) => pieces.length > 0);
  const started = Date.now();
  const results = await Promise.all(
    plan.map((pieces, i) => runLane(i + 1, pieces.flatMap((w) => w.files), pieces.reduce((s, w) => s + w.sec, 0))),
  );
  if (process.env.EDGE_TEST_RECORD === '1') record(results, durations);
  for (const r of results.filter((x) => x.code !== 0)) process.stdout.write(`\nlane ${r.lane} failed (exit ${r.code}):\n${r.failures.join('\n')}\n`);
  const each = results.map((r) => `lane ${r.lane} ${r.code === 0 ? 'passed' : 'FAILED'} in ${Math.round(r.sec)} s`).join(', ');
  process.stdout.write(`\nnpm test: ${each}; ${Math.round((Date.now() - started) / 1000)} s in all\n`);
  return results.some((r) => r.code !== 0) ? 1 : 0;
}

process.exitCode = await main();

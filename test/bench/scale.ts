/**
 * `npm run bench:scale` (a benchmark, not a test): what one controller costs per host as the fleet
 * grows. Builds the rig (scale-rig.ts: one router-like network namespace, one sshd, N addresses),
 * compiles edge once, and runs `edge run playbooks/failover.yaml --check --json` inside the
 * namespace for each N, measuring the controller process itself (GNU time: CPU, peak RSS).
 *
 *   BENCH_SIZES=10,100,1000  BENCH_FORKS=50  BENCH_PROFILE=1 (--cpu-prof and --heap-prof per run)
 *   BENCH_HEAP_AT=500 (a heap snapshot of the controller once that many hosts have finished)
 *   BENCH_VIEW=live (the live view instead of --json: edge on a pseudo-terminal of 80×24, made
 *   by script(1), outside CI; what the view itself costs is this run's CPU minus the --json one's)
 * Needs root. Results also go to .edge/bench-scale/results.json; profiles to .edge/bench-scale/prof.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { readJournal } from '../../src/engine/journal.js';
import type { RunResult } from '../../src/engine/types.js';
import { buildRig, teardownRig, writeInventory, type Rig } from './scale-rig.js';

const sizes = (process.env.BENCH_SIZES ?? '10,100,1000').split(',').map(Number);
const forks = Number(process.env.BENCH_FORKS ?? 50);
const profile = process.env.BENCH_PROFILE === '1';
const heapAt = Number(process.env.BENCH_HEAP_AT ?? 0);
const liveView = process.env.BENCH_VIEW === 'live';
const OUT = resolve(process.env.BENCH_OUT ?? '.edge/bench-scale');
const DIST = join(OUT, 'dist');

interface Row {
  hosts: number;
  wallS: number;
  cpuS: number;
  cpuMsPerHost: number;
  peakRssMb: number;
  execsPerHost: string;
  kbRecvPerHost: number;
  kbSentPerHost: number;
  journalKbPerHost: number;
  statuses: string;
}

function compile(): void {
  rmSync(DIST, { recursive: true, force: true });
  // Inside the repository, so dist/ resolves node_modules as the installed CLI does.
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json', '--outDir', DIST], { stdio: 'inherit' });
  // dist/render reads the router programs two levels up, in src/router (as the package ships them).
  rmSync(join(OUT, 'src'), { recursive: true, force: true });
  mkdirSync(join(OUT, 'src'), { recursive: true });
  symlinkSync(resolve('src', 'router'), join(OUT, 'src', 'router'));
}

/** The node flags of the CLI's own #! line, so the bench runs edge as its `edge` binary does. */
function binFlags(): string[] {
  const line = readFileSync(join(DIST, 'cli.js'), 'utf8').split('\n')[0]!;
  const m = /^#!\/usr\/bin\/env (?:-S )?node(.*)$/.exec(line);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

function run(rig: Rig, hosts: number): Promise<{ stdout: string; time: string; stderr: string }> {
  const inventory = writeInventory(rig, hosts);
  const timeFile = join(rig.dir, `time-${hosts}.txt`);
  const profDir = join(OUT, 'prof', String(hosts));
  const prof = [
    ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profDir, '--heap-prof', '--heap-prof-dir', profDir] : []),
    ...(heapAt ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${profDir}`] : []),
  ];
  mkdirSync(profDir, { recursive: true });
  const edge = ['/usr/bin/time', '-o', timeFile, '-f', '%e %U %S %M', process.execPath, ...binFlags(), ...prof, join(DIST, 'cli.js')];
  edge.push('run', 'playbooks/failover.yaml', '-i', inventory, '--check', '--forks', String(forks), ...(liveView ? [] : ['--json']));
  const env: NodeJS.ProcessEnv = { ...process.env, CI: '1' };
  if (liveView) delete env.CI; // the live view is never drawn in CI
  return new Promise((resolveRun, reject) => {
    const child = spawn('ip', ['netns', 'exec', rig.ns, ...(liveView ? onTerminal(edge) : edge)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    let finished = 0;
    child.stderr.on('data', (d: Buffer) => {
      err.push(d);
      if (!heapAt || finished >= heapAt) return;
      finished += (d.toString().match(/^s\d{4}: (ok|changed|failed|unreachable)\b/gm) ?? []).length;
      if (finished >= heapAt) snapshot(child.pid);
    });
    child.on('error', reject);
    child.on('close', () =>
      resolveRun({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), time: readFileSync(timeFile, 'utf8') }),
    );
  });
}

/** The command on a pseudo-terminal of 80×24 (script(1) copies the screen's bytes to its stdout). */
function onTerminal(argv: string[]): string[] {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return ['script', '-qec', `stty cols 80 rows 24; exec ${quoted}`, '/dev/null'];
}

/** The run's result: its --json on stdout, or (live view) its journal, named on the screen. */
async function result(stdout: string, stderr: string, hosts: number): Promise<RunResult> {
  if (!liveView) {
    if (!stdout.trim().startsWith('{')) throw new Error(`N=${hosts}: no JSON result\n${stderr.slice(-3000)}`);
    return JSON.parse(stdout) as RunResult;
  }
  const id = /edge run (\S+):/.exec(stdout)?.[1];
  const res = id && (await readJournal(id));
  if (!res) throw new Error(`N=${hosts}: no run journal\n${stdout.slice(-3000)}`);
  return res;
}

/** SIGUSR2 to the controller (time's child): node writes a heap snapshot and carries on. */
function snapshot(timePid: number | undefined): void {
  const kids = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const node = timePid ? kids(timePid)[0] : undefined;
  if (node) process.kill(node, 'SIGUSR2');
}

function journalBytes(runId: string): number {
  try {
    return statSync(join('.edge', 'runs', `${runId}.jsonl`)).size;
  } catch {
    return 0;
  }
}

async function measure(rig: Rig, hosts: number): Promise<Row> {
  const r = await run(rig, hosts);
  const [wall, user, sys, rssKb] = r.time.trim().split('\n').pop()!.split(' ').map(Number);
  const res = await result(r.stdout, r.stderr, hosts);
  const per = (f: (h: RunResult['hosts'][number]) => number) => res.hosts.reduce((a, h) => a + f(h), 0) / res.hosts.length;
  const count = new Map<string, number>();
  for (const h of res.hosts) count.set(h.status, (count.get(h.status) ?? 0) + 1);
  const firstError = res.hosts.find((h) => h.status === 'failed' || h.status === 'unreachable')?.error;
  if (firstError) console.error(`N=${hosts}: e.g. ${firstError.split('\n')[0]}`);
  return {
    hosts,
    wallS: wall!,
    cpuS: Math.round((user! + sys!) * 100) / 100,
    cpuMsPerHost: Math.round(((user! + sys!) * 1000) / hosts),
    peakRssMb: Math.round(rssKb! / 1024),
    execsPerHost: [...new Set(res.hosts.map((h) => h.execs))].sort().join('/'),
    kbRecvPerHost: Math.round(per((h) => h.bytesReceived) / 102.4) / 10,
    kbSentPerHost: Math.round(per((h) => h.bytesSent) / 102.4) / 10,
    journalKbPerHost: Math.round(journalBytes(res.runId) / hosts / 102.4) / 10,
    statuses: [...count].map(([s, n]) => `${s} ${n}`).join(', '),
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('npm run bench:scale needs root (network namespace, sshd)');
  compile();
  const rig = await buildRig(join(OUT, 'rig'), Math.max(...sizes));
  const stop = () => void teardownRig(rig).finally(() => process.exit(130));
  process.once('SIGINT', stop);
  const rows: Row[] = [];
  const loads: string[] = [];
  try {
    for (const n of sizes) {
      rows.push(await measure(rig, n));
      loads.push(loadavg().map((l) => l.toFixed(2)).join(' '));
    }
  } finally {
    process.off('SIGINT', stop);
    await teardownRig(rig);
  }
  report(rows, loads);
}

function report(rows: Row[], loads: string[]): void {
  console.log(`edge run --check ${liveView ? '(live view, 80×24)' : '--json'}, forks ${forks}, ${cpus().length} cores; load after each run: ${loads.join(' | ')}`);
  console.table(rows);
  const at = (n: number) => rows.find((r) => r.hosts === n);
  const [small, big] = [at(100), at(1000)];
  if (small && big) {
    // The fixed start-up cost flatters the larger run; the marginal cost per host does not hide anything.
    const marginal = ((big.cpuS - small.cpuS) * 1000) / (big.hosts - small.hosts);
    console.log(`CPU per host, N=1000 / N=100: ${(big.cpuMsPerHost / small.cpuMsPerHost).toFixed(2)} (target ≤ 1.3); peak RSS at N=1000: ${big.peakRssMb} MB (target ≤ 200)`);
    console.log(`marginal CPU per host from N=100 to N=1000: ${marginal.toFixed(1)} ms (${(marginal / small.cpuMsPerHost).toFixed(2)} of N=100's average)`);
  }
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, `results${liveView ? '-live' : ''}.json`), JSON.stringify({ view: liveView ? 'live' : 'json', forks, rows, loads, at: new Date().toISOString() }, null, 2));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});

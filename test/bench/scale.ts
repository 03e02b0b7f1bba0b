/**
 * `npm run bench:scale` (a benchmark, not a test): what one controller costs per host as the fleet
 * grows. Builds the rig (scale-rig.ts: one router-like network namespace, one sshd, N addresses),
 * compiles edge once, and runs `edge run playbooks/failover.yaml --check --json` inside the
 * namespace for each N, measuring the controller process itself (GNU time: CPU, peak RSS).
 * edge runs in a directory of the bench's own (.edge/bench-scale/work), so its .edge (journals,
 * the script cache record) is the bench's, never the one of the repository it is run from.
 *
 *   BENCH_SIZES=10,100,1000,10000  BENCH_FORKS=50  BENCH_PROFILE=1 (--cpu-prof and --heap-prof per run)
 *   BENCH_CACHE=run|cold (scale-cache.ts; default run: every host and the controller's record hold
 *   the probe `edge run` stored, which the --check sends by reference; cold: nothing cached, the
 *   probe travels whole)
 *   BENCH_ROUTERS=replay|real (scale-rig.ts, Routers; default replay: one host runs each distinct
 *   exec, the others answer the same bytes after as long, so the routers cost the controller's
 *   machine no CPU; real: every host runs the probe, ~1.3 CPU-s each on the controller's cores)
 *   BENCH_ROUTER_MS=1000 (how long a replayed router takes to answer; `measured`: as long as the
 *   real run took, which on a shared machine is anything from 2 to 8 s)
 *   BENCH_HEAP_AT=500 (a heap snapshot of the controller once that many hosts have finished)
 *   BENCH_VIEW=live (the live view instead of --json: edge on a pseudo-terminal of 80×24, made
 *   by script(1), outside CI; what the view itself costs is this run's CPU minus the --json one's)
 * Needs root. Results also go to .edge/bench-scale/results.json; profiles to .edge/bench-scale/prof.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { readJournal } from '../../src/engine/journal.js';
import type { RunResult } from '../../src/engine/types.js';
import { cacheMode, CACHE_MODES, fleetCache, type FleetCache } from './scale-cache.js';
import { buildRig, MAX_HOSTS, replayedExecs, rigCpuSeconds, rigKeys, teardownRig, writeInventory, type Rig, type Routers } from './scale-rig.js';

const sizes = (process.env.BENCH_SIZES ?? '10,100,1000,10000').split(',').map(Number);
const cache = cacheMode(process.env.BENCH_CACHE);
const routersEnv = process.env.BENCH_ROUTERS ?? 'replay';
if (routersEnv !== 'replay' && routersEnv !== 'real') throw new Error('BENCH_ROUTERS: replay or real');
const routers: Routers = routersEnv;
/** How long a replayed router takes to answer; `measured`: as long as the one real run took. */
const routerMsEnv = process.env.BENCH_ROUTER_MS ?? '1000';
const replayMs = routerMsEnv === 'measured' ? undefined : Number(routerMsEnv);
if (replayMs !== undefined && !(Number.isInteger(replayMs) && replayMs >= 0)) throw new Error('BENCH_ROUTER_MS: whole milliseconds, or measured');
const forks = Number(process.env.BENCH_FORKS ?? 50);
const profile = process.env.BENCH_PROFILE === '1';
const heapAt = Number(process.env.BENCH_HEAP_AT ?? 0);
const liveView = process.env.BENCH_VIEW === 'live';
const OUT = resolve(process.env.BENCH_OUT ?? '.edge/bench-scale');
const DIST = join(OUT, 'dist');
/** edge's working directory: its .edge/runs and .edge/cache are the bench's. */
const WORK = join(OUT, 'work');
const EDGE_DIR = join(WORK, '.edge');
const PLAYBOOK = resolve('playbooks/failover.yaml');

interface Row {
  hosts: number;
  wallS: number;
  /** Of wallS, before the run's first host could start (node, the inventory, each host's ssh config). */
  startS: number;
  cpuS: number;
  cpuMsPerHost: number;
  /** The rig's side (sshd, sessions, probes: the "routers"), which shares the cores with the controller. */
  rigCpuMsPerHost: number;
  peakRssMb: number;
  execsPerHost: string;
  kbRecvPerHost: number;
  kbSentPerHost: number;
  journalKbPerHost: number;
  /** Hosts whose facts exec carried the probe by reference (sent less than the probe whole). */
  probeByRef: number;
  statuses: string;
}

/** What the table does not show: the hosts a run lost, and cached scripts sent again. */
interface Extra {
  hosts: number;
  lost: number;
  sentAgain: number;
  firstError?: string;
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
  const shebang = m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
  // BENCH_NODE_FLAGS: V8/node flags tried beside the ones edge ships with (e.g. a heap limit).
  return [...shebang, ...(process.env.BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)];
}

function run(rig: Rig, hosts: number): Promise<{ stdout: string; time: string; stderr: string }> {
  const inventory = writeInventory(rig.dir, hosts);
  const timeFile = join(rig.dir, `time-${hosts}.txt`);
  const profDir = join(OUT, 'prof', String(hosts));
  const prof = [
    ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profDir, '--heap-prof', '--heap-prof-dir', profDir] : []),
    ...(heapAt ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${profDir}`] : []),
  ];
  mkdirSync(profDir, { recursive: true });
  const edge = ['/usr/bin/time', '-o', timeFile, '-f', '%e %U %S %M', process.execPath, ...binFlags(), ...prof, join(DIST, 'cli.js')];
  edge.push('run', PLAYBOOK, '-i', inventory, '--check', '--forks', String(forks), ...(liveView ? [] : ['--json']));
  const env: NodeJS.ProcessEnv = { ...process.env, CI: '1' };
  if (liveView) delete env.CI; // the live view is never drawn in CI
  return new Promise((resolveRun, reject) => {
    const child = spawn('ip', ['netns', 'exec', rig.ns, ...(liveView ? onTerminal(edge) : edge)], { cwd: WORK, env, stdio: ['ignore', 'pipe', 'pipe'] });
    running = child;
    child.on('exit', () => {
      if (running === child) running = undefined;
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    let finished = 0;
    child.stderr.on('data', (d: Buffer) => {
      err.push(d);
      if (!heapAt || finished >= heapAt) return;
      finished += (d.toString().match(/^s\d+: (ok|changed|failed|unreachable)\b/gm) ?? []).length;
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
  const res = id && (await readJournal(id, join(EDGE_DIR, 'runs')));
  if (!res) throw new Error(`N=${hosts}: no run journal\n${stdout.slice(-3000)}`);
  return res;
}

/** SIGUSR2 to the controller (time's child): node writes a heap snapshot and carries on. */
/** The edge under measurement (`ip netns exec` execs GNU time, whose child is node), for a stop. */
let running: ChildProcess | undefined;

/** The measured edge ended at once (a --check: nothing is left on the routers), before the rig goes. */
function stopEdge(): void {
  const time = running?.pid;
  if (!time) return;
  try {
    const node = Number(readFileSync(`/proc/${time}/task/${time}/children`, 'utf8').trim().split(/\s+/)[0]);
    if (node) process.kill(node, 'SIGKILL');
  } catch {
    /* gone meanwhile */
  }
}

function snapshot(timePid: number | undefined): void {
  const kids = (pid: number) => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const node = timePid ? kids(timePid)[0] : undefined;
  if (node) process.kill(node, 'SIGUSR2');
}

function journalBytes(runId: string): number {
  try {
    return statSync(join(EDGE_DIR, 'runs', `${runId}.jsonl`)).size;
  } catch {
    return 0;
  }
}

async function measure(rig: Rig, hosts: number, fc: FleetCache): Promise<{ row: Row; extra: Extra }> {
  const rigBefore = rigCpuSeconds(rig);
  const r = await run(rig, hosts);
  const rigCpu = rigCpuSeconds(rig) - rigBefore;
  const timeLines = r.time.trim().split('\n');
  const [wall, user, sys, rssKb] = timeLines.pop()!.split(' ').map(Number);
  // GNU time says first how the command ended when it was not by exit(0): a signal is worth saying.
  const ended = timeLines.find((l) => /terminated by signal/.test(l));
  if (ended) throw new Error(`N=${hosts}: edge ${ended.replace(/^Command /, '')} after ${wall} s (CPU ${((user ?? 0) + (sys ?? 0)).toFixed(0)} s, peak RSS ${Math.round((rssKb ?? 0) / 1024)} MB); its last words:\n${r.stderr.slice(-1500)}`);
  const res = await result(r.stdout, r.stderr, hosts);
  const ranS = res.finishedAt ? (Date.parse(res.finishedAt) - Date.parse(res.startedAt)) / 1000 : wall!;
  const per = (f: (h: RunResult['hosts'][number]) => number) => res.hosts.reduce((a, h) => a + f(h), 0) / res.hosts.length;
  const count = new Map<string, number>();
  for (const h of res.hosts) count.set(h.status, (count.get(h.status) ?? 0) + 1);
  const firstError = res.hosts.find((h) => h.status === 'failed' || h.status === 'unreachable')?.error?.split('\n')[0];
  if (firstError) console.error(`N=${hosts}: e.g. ${firstError}`);
  const extra: Extra = {
    hosts,
    // A host that is neither changed nor ok was lost to the run (unreachable, failed, interrupted), or missing from it.
    lost: hosts - res.hosts.filter((h) => h.status === 'changed' || h.status === 'ok').length,
    sentAgain: res.hosts.filter((h) => h.notes?.some((n) => /sent it again/.test(n))).length,
    ...(firstError ? { firstError } : {}),
  };
  const row: Row = {
    hosts,
    wallS: wall!,
    startS: Math.round((wall! - ranS) * 10) / 10,
    cpuS: Math.round((user! + sys!) * 100) / 100,
    cpuMsPerHost: Math.round(((user! + sys!) * 1000) / hosts),
    rigCpuMsPerHost: Math.round((rigCpu * 1000) / hosts),
    peakRssMb: Math.round(rssKb! / 1024),
    execsPerHost: [...new Set(res.hosts.map((h) => h.execs))].sort().join('/'),
    kbRecvPerHost: Math.round(per((h) => h.bytesReceived) / 102.4) / 10,
    kbSentPerHost: Math.round(per((h) => h.bytesSent) / 102.4) / 10,
    journalKbPerHost: Math.round(journalBytes(res.runId) / hosts / 102.4) / 10,
    probeByRef: res.hosts.filter((h) => h.bytesSent > 0 && h.bytesSent < fc.wholeBytes).length,
    statuses: [...count].map(([s, n]) => `${s} ${n}`).join(', '),
  };
  return { row, extra };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('npm run bench:scale needs root (network namespace, sshd)');
  const most = Math.max(...sizes);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1) || most > MAX_HOSTS) throw new Error(`BENCH_SIZES: whole numbers from 1 to ${MAX_HOSTS}`);
  compile();
  const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  const started = { at: new Date().toISOString(), load: load() };
  // The host key first: the controller's cache records name it (scale-cache.ts).
  const dir = join(OUT, 'rig');
  const { fp } = rigKeys(dir);
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const fc = fleetCache(cache, writeInventory(dir, most), PLAYBOOK, fp, join(EDGE_DIR, 'cache'));
  const rig = await buildRig(dir, most, { cache: fc.files, routers, ...(replayMs === undefined ? {} : { replayMs }) });
  if (rig.hostKeyFingerprint !== fp) throw new Error('the rig answers with another host key than the records name');
  // Interrupted or terminated: the edge it runs, then the rig (sshd by its PID, the namespace) go with it.
  const stop = (signal: NodeJS.Signals) => {
    stopEdge();
    void teardownRig(rig).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const rows: Row[] = [];
  const extras: Extra[] = [];
  const loads: string[] = [];
  const failures: string[] = [];
  let replayed: { key: string; ms: number }[] = [];
  try {
    for (const n of sizes) {
      try {
        const { row, extra } = await measure(rig, n, fc);
        rows.push(row);
        extras.push(extra);
      } catch (e) {
        // One size that fails costs its row, not the others' (N=10000 takes hours).
        failures.push(e instanceof Error ? e.message : String(e));
        console.error(failures.at(-1));
      }
      loads.push(load());
    }
  } finally {
    replayed = replayedExecs(rig);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await teardownRig(rig);
  }
  report(rows, extras, loads, started, fc, replayed);
  if (failures.length) {
    console.log(`FAILED: ${failures.map((f) => f.split('\n')[0]).join('; ')}`);
    process.exitCode = 1;
  }
}

function report(rows: Row[], extras: Extra[], loads: string[], started: { at: string; load: string }, fc: FleetCache, replayed: { ms: number }[]): void {
  const finished = new Date().toISOString();
  console.log(
    `edge run --check ${liveView ? '(live view, 80×24)' : '--json'}, forks ${forks}, ${cpus().length} cores, routers ${routers}, cache ${cache}: ${CACHE_MODES[cache]}`,
  );
  console.log(`${started.at} – ${finished}; load before: ${started.load}; after each run: ${loads.join(' | ')}`);
  if (routers === 'replay') {
    const ms = replayed.map((r) => r.ms).join(', ');
    const wait = replayMs === undefined ? 'as long' : `${replayMs} ms`;
    console.log(`routers replay: ${replayed.length} distinct exec(s) run for real (${ms || '—'} ms), every other one answered the same after ${wait}`);
  }
  console.table(rows);
  const at = (n: number) => rows.find((r) => r.hosts === n);
  const [small, big] = [at(100), at(1000)];
  if (small && big) {
    // The fixed start-up cost flatters the larger run; the marginal cost per host does not hide anything.
    const marginal = ((big.cpuS - small.cpuS) * 1000) / (big.hosts - small.hosts);
    console.log(`CPU per host, N=1000 / N=100: ${(big.cpuMsPerHost / small.cpuMsPerHost).toFixed(2)} (target ≤ 1.3); peak RSS at N=1000: ${big.peakRssMb} MB (target ≤ 200)`);
    console.log(`marginal CPU per host from N=100 to N=1000: ${marginal.toFixed(1)} ms (${(marginal / small.cpuMsPerHost).toFixed(2)} of N=100's average)`);
  }
  const huge = at(10000);
  if (big && huge) {
    const span = huge.hosts - big.hosts;
    const marginal = ((huge.cpuS - big.cpuS) * 1000) / span;
    console.log(`CPU per host, N=10000 / N=1000: ${(huge.cpuMsPerHost / big.cpuMsPerHost).toFixed(2)} (target ≤ 1.2); peak RSS at N=10000: ${huge.peakRssMb} MB (target ≤ 250)`);
    console.log(`marginal CPU per host from N=1000 to N=10000: ${marginal.toFixed(1)} ms (${(marginal / big.cpuMsPerHost).toFixed(2)} of N=1000's average)`);
    console.log(
      `from N=1000 to N=10000: wall ${(((huge.wallS - big.wallS) * 1000) / span).toFixed(1)} s per 1,000 hosts; peak RSS ${(((huge.peakRssMb - big.peakRssMb) * 1024) / span).toFixed(2)} KB per host`,
    );
  }
  if (huge) console.log(`per host at N=10000: ${huge.execsPerHost} exec(s), ${huge.kbSentPerHost} KB sent (target 1 exec, ≤ 3 KB)`);
  console.log(
    `facts exec per host: ${(fc.referenceBytes / 1024).toFixed(1)} KB with the probe by reference, ${(fc.wholeBytes / 1024).toFixed(1)} KB with it whole; ` +
      rows.map((r) => `N=${r.hosts} by reference on ${r.probeByRef}`).join(', '),
  );
  for (const e of extras) {
    const r = rows.find((x) => x.hosts === e.hosts)!;
    const said = [
      `wall ${((r.wallS * 1000) / r.hosts).toFixed(0)} s per 1,000 hosts (${r.startS} s of it before the first host)`,
      `controller CPU ${r.cpuMsPerHost} ms a host: one core keeps up with ${(1000 / r.cpuMsPerHost).toFixed(0)} hosts/s at most`,
      `hosts lost (neither changed nor ok): ${e.lost || 'none'}`,
      `cached probe missing or altered (sent again): ${e.sentAgain || 'none'}`,
    ];
    console.log(`N=${e.hosts}: ${said.join('; ')}${e.firstError ? `; e.g. ${e.firstError}` : ''}`);
  }
  if (cache === 'run' && rows.some((r) => r.probeByRef < r.hosts - (extras.find((e) => e.hosts === r.hosts)?.lost ?? 0))) {
    console.log('WARNING: BENCH_CACHE=run, yet some hosts sent the probe whole: the body scale-cache.ts builds is no longer the one gather.ts sends');
  }
  mkdirSync(OUT, { recursive: true });
  writeFileSync(
    join(OUT, `results${liveView ? '-live' : ''}.json`),
    JSON.stringify({ view: liveView ? 'live' : 'json', cache, routers, replayMs, replayed, forks, rows, extras, started, loads, at: finished }, null, 2),
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});

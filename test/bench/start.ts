/**
 * `npm run bench:start`: how fast `edge --help` (and `edge run --help`) answer from the built
 * binary, against bare `node -e 0`, run side by side so machine load hits both alike. Target:
 * `edge --help` under 150 ms (issue #13). Prints medians of wall time and — through
 * /usr/bin/time, when there — of CPU time (user + system), which a loaded machine inflates far
 * less than wall time; and the load average.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/** Wall ms, and CPU ms (user + system) when /usr/bin/time is there. */
function timeOnce(args: string[]): { wall: number; cpu?: number } {
  const argv = TIME ? [TIME, '-f', '@cpu %U %S', process.execPath, ...args] : [process.execPath, ...args];
  const t0 = performance.now();
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const m = /@cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return m ? { wall, cpu: (Number(m[1]) + Number(m[2])) * 1000 } : { wall };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const cases: Record<string, string[]> = {
  'node -e 0': ['-e', '0'],
  'edge --help': [CLI, '--help'],
  'edge run --help': [CLI, 'run', '--help'],
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
timeOnce(cases['edge --help']!); // warm the file cache
for (let i = 0; i < ROUNDS; i++)
  for (const [k, args] of Object.entries(cases)) {
    const t = timeOnce(args);
    times[k]!.push(t.wall);
    if (t.cpu !== undefined) cpu[k]!.push(t.cpu);
  }

const load = loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`load average: ${load} (${execFileSync('nproc').toString().trim()} cores), ${ROUNDS} rounds, medians:`);
for (const [k, xs] of Object.entries(times)) {
  const c = cpu[k]!.length ? `   cpu ${median(cpu[k]!).toFixed(0).padStart(4)} ms` : '';
  console.log(`  ${k.padEnd(18)} wall ${median(xs).toFixed(0).padStart(5)} ms (min ${Math.min(...xs).toFixed(0)})${c}`);
}
const help = median(times['edge --help']!);
console.log(`edge --help: wall ${help.toFixed(0)} ms ${help < 150 ? '<' : '>='} 150 ms target; ${(help - median(times['node -e 0']!)).toFixed(0)} ms over bare node`);
if (cpu['edge --help']!.length)
  console.log(`edge --help: cpu ${median(cpu['edge --help']!).toFixed(0)} ms, bare node ${median(cpu['node -e 0']!).toFixed(0)} ms`);

/**
 * `npm run bench:start`: how fast `edge --help` (and `edge run --help`) answer from the built
 * binary, against bare `node -e 0`, run side by side so machine load hits both alike. Target:
 * `edge --help` under 150 ms (issue #13). Prints medians and the load average.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);

function timeOnce(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const cases: Record<string, string[]> = {
  'node -e 0': ['-e', '0'],
  'edge --help': [CLI, '--help'],
  'edge run --help': [CLI, 'run', '--help'],
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
timeOnce(cases['edge --help']!); // warm the file cache
for (let i = 0; i < ROUNDS; i++) for (const [k, args] of Object.entries(cases)) times[k]!.push(timeOnce(args));

const load = loadavg().map((l) => l.toFixed(2)).join(' ');
console.log(`load average: ${load} (${execFileSync('nproc').toString().trim()} cores), ${ROUNDS} rounds, medians:`);
for (const [k, xs] of Object.entries(times)) console.log(`  ${k.padEnd(18)} ${median(xs).toFixed(0).padStart(5)} ms   (min ${Math.min(...xs).toFixed(0)} ms)`);
const help = median(times['edge --help']!);
console.log(`edge --help: ${help.toFixed(0)} ms ${help < 150 ? '<' : '>='} 150 ms target; ${(help - median(times['node -e 0']!)).toFixed(0)} ms over bare node`);

/**
 * What each lab router and each of its services costs, in % of one core, from the host: the
 * cgroup2 `cpu.stat` of every router's groups (src/lab/cgroup.ts puts each router in
 * edge-lab/<machine>), read twice SECONDS apart. A service's figure counts every process it started
 * and reaped meanwhile, which `ps` on the router does not.
 *
 *   node --import tsx test/tools/router-cpu.ts [SECONDS=30] [MACHINE-PREFIX, e.g. elab9-]
 *
 * The figures grow with the host's load (a contended CPU runs the same work slower): say the load.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { trackingHierarchies } from '../../src/lab/cgroup.js';

const seconds = Number(process.argv[2] ?? 30);
const prefix = process.argv[3] ?? '';
const root = trackingHierarchies(readFileSync('/proc/self/mountinfo', 'utf8'))
  .map((h) => join(h, 'edge-lab'))
  .find((d) => existsSync(d) && readdirSync(d).some((m) => existsSync(join(d, m, 'cpu.stat'))));
if (!root) throw new Error('no lab router with a cgroup2 cpu.stat on this host (is a lab up?)');

/** usage_usec of each router and of each unit group of its system.slice. */
function sample(): Map<string, number> {
  const out = new Map<string, number>();
  const usage = (dir: string) => Number(/^usage_usec (\d+)$/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? NaN);
  for (const machine of readdirSync(root!).filter((m) => m.startsWith(prefix) && existsSync(join(root!, m, 'cpu.stat')))) {
    out.set(machine, usage(join(root!, machine)));
    const slice = join(root!, machine, 'payload', 'system.slice');
    if (!existsSync(slice)) continue;
    for (const unit of readdirSync(slice).filter((u) => u.endsWith('.service'))) out.set(`${machine} ${unit}`, usage(join(slice, unit)));
  }
  return out;
}

const before = sample();
await new Promise((r) => setTimeout(r, seconds * 1000));
const after = sample();
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`% of one core over ${seconds} s (host load ${load}):`);
for (const [key, end] of after) {
  const pct = (end - (before.get(key) ?? end)) / (seconds * 1e4);
  if (pct >= 0.1) console.log(`${pct.toFixed(1).padStart(6)} %  ${key}`);
}

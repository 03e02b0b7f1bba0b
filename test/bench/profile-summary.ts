/**
 * Summarises V8 profiles written by `BENCH_PROFILE=1 npm run bench:scale`: the functions with the
 * most self time in a .cpuprofile, and the allocation sites holding the most in a .heapprofile.
 *   node --import tsx test/bench/profile-summary.ts FILE.cpuprofile|FILE.heapprofile [TOP]
 */
import { readFileSync } from 'node:fs';

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface CpuNode {
  id: number;
  callFrame: Frame;
}
interface HeapNode {
  callFrame: Frame;
  selfSize: number;
  children: HeapNode[];
}

const where = (f: Frame) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')}:${f.lineNumber + 1}`;

function cpu(file: string, top: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { nodes: CpuNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  p.samples.forEach((id, i) => {
    const k = where(byId.get(id)!.callFrame);
    self.set(k, (self.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
  for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${((us * 100) / total).toFixed(1).padStart(5)}%  ${k}`);
}

function heap(file: string, top: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode };
  const self = new Map<string, number>();
  const walk = (n: HeapNode) => {
    const k = where(n.callFrame);
    self.set(k, (self.get(k) ?? 0) + n.selfSize);
    n.children.forEach(walk);
  };
  walk(p.head);
  for (const [k, b] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(b / 1048576).toFixed(1).padStart(8)} MB  ${k}`);
}

const [file, top] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile|FILE.heapprofile [TOP]');
(file.endsWith('.heapprofile') ? heap : cpu)(file, Number(top ?? 30));

/**
 * `npm run bench`: what a run costs on real lab routers — wall time, remote execs, and bytes per
 * host — for the first apply, a no-op re-run, and a check run. The performance model (DESIGN.md)
 * says a no-op run is one connection and one exec per host (verify runs inside the fact-gathering
 * exec); a change costs one exec per changed task, plus the confirm over a fresh connection.
 *
 *   BENCH_ROUTERS=3 (lab size)  BENCH_RUNS=3 (no-op repetitions)  BENCH_PLAYBOOK=playbooks/failover.yaml
 * Needs root (the lab). Results also go to .edge/bench.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { RunResult } from '../../src/engine/types.js';
import { labUp } from '../../src/lab/lab.js';
import { edge } from '../integration/edge-cli.js';

const routers = Number(process.env.BENCH_ROUTERS ?? 3);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const playbook = process.env.BENCH_PLAYBOOK ?? 'playbooks/failover.yaml';

interface Row {
  scenario: string;
  wallMs: number;
  hosts: number;
  execsPerHost: number[];
  kbSentPerHost: number;
  kbRecvPerHost: number;
  changed: number;
}

async function measure(scenario: string, inventory: string, extra: string[] = []): Promise<Row> {
  const r = await edge(['run', playbook, '-i', inventory, '--json', ...extra]);
  if (!r.stdout.trim().startsWith('{')) throw new Error(`${scenario}: no JSON result\n${r.stderr}`);
  const res = JSON.parse(r.stdout) as RunResult;
  if (res.status !== 'ok') throw new Error(`${scenario}: run ${res.status}\n${r.stderr}`);
  const n = res.hosts.length;
  return {
    scenario,
    wallMs: r.ms,
    hosts: n,
    execsPerHost: [...new Set(res.hosts.map((h) => h.execs))].sort(),
    kbSentPerHost: Math.round(res.hosts.reduce((a, h) => a + h.bytesSent, 0) / n / 102.4) / 10,
    kbRecvPerHost: Math.round(res.hosts.reduce((a, h) => a + h.bytesReceived, 0) / n / 102.4) / 10,
    changed: res.hosts.filter((h) => h.status === 'changed').length,
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('npm run bench needs root (it runs on the lab)');
  const t0 = performance.now();
  const up = await labUp({ routers, log: () => {} });
  const labMs = Math.round(performance.now() - t0);
  const rows: Row[] = [];
  rows.push(await measure('first apply', up.inventory));
  for (let i = 1; i <= runs; i++) rows.push(await measure(`no-op run ${i}`, up.inventory));
  rows.push(await measure('check run', up.inventory, ['--check']));
  console.log(`lab up (${routers} routers): ${labMs} ms`);
  console.table(rows.map((r) => ({ ...r, execsPerHost: r.execsPerHost.join('/') })));
  mkdirSync('.edge', { recursive: true });
  writeFileSync('.edge/bench.json', JSON.stringify({ routers, labMs, rows, at: new Date().toISOString() }, null, 2));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});

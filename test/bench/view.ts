/**
 * `node --import tsx test/bench/view.ts [live|plain|none] [hosts]` (a benchmark, not a test): the
 * controller CPU the run view costs, without SSH. It replays a batch's events (hosts started
 * --forks at a time, each with connect, facts, eight tasks and its end over ~1.5 s) into the view
 * on an 80×24 terminal that discards its bytes, and prints the process's CPU per host. `none` is
 * the replay alone: a view's cost is its CPU minus none's. bench:scale measures the whole run.
 */
import type { HostResult, RunReporter, TaskResult } from '../../src/engine/types.js';
import { TASK_NAMES } from '../../src/tasks/contract.js';
import { RunView } from '../../src/ui/run-view.js';

const mode = process.argv[2] ?? 'live';
const hosts = Number(process.argv[3] ?? 1000);
const forks = 50;
const STEP_MS = 150;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const names = Array.from({ length: hosts }, (_, i) => `s${String(i + 1).padStart(4, '0')}`);

function view(): RunReporter & { done?: Promise<unknown> } {
  const silent: RunReporter = { hostStarted() {}, hostStep() {}, taskStarted() {}, taskFinished() {}, hostFinished() {} };
  if (mode === 'none') return silent;
  // listr2 draws its primary renderer only on a terminal; the bench's stdout need not be one.
  process.stdout.isTTY = true;
  const term = { write: (_s: string) => {}, columns: () => 80, rows: () => 24 };
  return new RunView(names, { live: mode === 'live', term, writeLine: (_l: string) => {} });
}

async function host(rep: RunReporter, name: string, i: number): Promise<void> {
  rep.hostStarted(name, [...TASK_NAMES]);
  rep.hostStep(name, 'connect');
  await sleep(STEP_MS);
  rep.hostStep(name, 'facts');
  await sleep(STEP_MS * 4);
  for (const task of TASK_NAMES) {
    rep.taskStarted(name, task);
    await sleep(STEP_MS / 2);
    const r: TaskResult = { task, status: 'ok', changes: [], durationMs: 75, execs: 0 };
    rep.taskFinished(name, r);
  }
  const status = i % 10 === 0 ? 'unreachable' : 'changed';
  const res: HostResult = { host: name, status, state: 'unchanged', tasks: [], durationMs: 1500, execs: 1, bytesSent: 0, bytesReceived: 0 };
  if (status === 'unreachable') res.error = 'connect ETIMEDOUT';
  rep.hostFinished(res);
}

async function main(): Promise<void> {
  const before = process.cpuUsage();
  const t0 = performance.now();
  const rep = view();
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      await host(rep, names[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: forks }, worker));
  await rep.done;
  const cpu = process.cpuUsage(before);
  const ms = (cpu.user + cpu.system) / 1000;
  console.log(`${mode} ${hosts} hosts: ${ms.toFixed(0)} ms CPU, ${(ms / hosts).toFixed(2)} ms per host, ${((performance.now() - t0) / 1000).toFixed(1)} s wall`);
}

void main();

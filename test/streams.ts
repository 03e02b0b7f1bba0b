/**
 * `npm test`: the test projects of test/vitest.config.ts, each in a vitest process of its own, all at
 * once. Within a process a project's files run one after another (they share its lab); vitest runs
 * every project that disallows file parallelism in one sequential queue, so parallel streams need
 * parallel processes. Most of an own-lab file's time is spent waiting (reboots, confirm timers),
 * which the other streams use.
 *
 * Each line a stream prints is prefixed with its name; at the end, each stream's time and result.
 * Arguments (file filters, vitest options) go to every stream; a stream with no file left passes.
 * The exit code is the first failing stream's, 0 when all pass.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { STREAMS } from './vitest.config.js';

interface Outcome {
  stream: string;
  code: number;
  seconds: number;
}

function runStream(stream: string, args: string[]): Promise<Outcome> {
  const started = Date.now();
  const child = spawn(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/vitest.config.ts', '--project', stream, '--passWithNoTests', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tag = `[${stream}] `;
  for (const out of [child.stdout, child.stderr]) createInterface({ input: out }).on('line', (l) => process.stdout.write(`${tag}${l}\n`));
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ stream, code: code ?? (signal ? 128 : 1), seconds: Math.round((Date.now() - started) / 1000) }));
  });
}

const started = Date.now();
const outcomes = await Promise.all(STREAMS.map((s) => runStream(s, process.argv.slice(2))));
console.log(`\nnpm test: ${Math.round((Date.now() - started) / 1000)} s in all, ${STREAMS.length} streams at once`);
for (const o of outcomes) console.log(`  ${o.code === 0 ? 'passed' : `FAILED (exit ${o.code})`}  ${o.seconds} s  ${o.stream}`);
process.exitCode = outcomes.find((o) => o.code !== 0)?.code ?? 0;

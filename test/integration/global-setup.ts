import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { labDown } from '../../src/lab/lab.js';
import { labPaths } from '../../src/lab/state.js';

/**
 * Test files share one lab (ensureLab) so routers boot once per test run; this teardown removes it
 * when the whole run ends, pass or fail, so nothing of the lab outlives `npm test`.
 * EDGE_KEEP_LAB=1 keeps it up for the next local run.
 *
 * Only a lab THIS run brought up is removed: ensureLab records the run's token in the lab's state
 * dir when it starts the lab from nothing. Any other vitest run on the host (a unit-test run, a run
 * that uses isolated instances only, a second integration run) leaves a lab it did not start alone.
 */
const token = `${process.pid}-${Date.now()}`;

declare module 'vitest' {
  export interface ProvidedContext {
    edgeTestRun: string;
  }
}

export function setup(project: TestProject): void {
  project.provide('edgeTestRun', token);
}

export async function teardown(): Promise<void> {
  if (process.getuid?.() !== 0 || process.env.EDGE_KEEP_LAB === '1') return;
  const instance = Number(process.env.EDGE_TEST_LAB_INSTANCE ?? 0);
  const paths = labPaths(instance);
  if (!existsSync(paths.stateFile)) return;
  const owner = join(paths.stateDir, 'test-run'); // written by ensureLab (lab-fixture.ts)
  if (!existsSync(owner) || readFileSync(owner, 'utf8').trim() !== token) return;
  await labDown({ instance, log: () => {} });
}

import { existsSync } from 'node:fs';
import { labPaths } from '../../src/lab/state.js';
import { isRoot, labDown } from './lab-fixture.js';

/**
 * Test files share one lab (ensureLab) so routers boot once per test run; this teardown removes it
 * when the whole run ends, pass or fail, so nothing of the lab outlives `npm test`.
 * EDGE_KEEP_LAB=1 keeps it up for the next local run.
 */
export async function teardown(): Promise<void> {
  if (!isRoot || process.env.EDGE_KEEP_LAB === '1') return;
  if (!existsSync(labPaths(0).stateFile)) return;
  await labDown();
}

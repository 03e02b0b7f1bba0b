import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

const ROOT = new URL('..', import.meta.url).pathname;

/**
 * Integration test files share one lab (ensureLab), so they run one after another. A file that
 * needs a lab of its own says so with `const INSTANCE = N;` and is torn down with it; most of such
 * a file's time is spent waiting (reboots, confirm timers), so it runs in a stream of its own beside
 * the shared lab's: odd instances in one, even ones in another with the unit tests. Instances never
 * share a router, a namespace or an address (src/lab/state.ts), so the streams cannot meet. Each
 * integration test sets its own generous timeout: they pass on a 2-core machine running all three
 * streams at once (performance targets live in `npm run bench`). One vitest process runs the
 * streams one after another; `npm test` runs a process per stream (test/streams.ts).
 */
function ownLabInstances(): Map<string, number> {
  const files = new Map<string, number>();
  for (const f of readdirSync(join(ROOT, 'test/integration'), { recursive: true, encoding: 'utf8' })) {
    if (!f.endsWith('.test.ts')) continue;
    const path = `test/integration/${f}`;
    const m = /^const INSTANCE = (\d+);$/m.exec(readFileSync(join(ROOT, path), 'utf8'));
    if (m) files.set(path, Number(m[1]));
  }
  return files;
}

/** The projects, each a stream of files run one after another; `npm test` runs them at once (test/streams.ts). */
export const STREAMS = ['shared-lab', 'own-labs-odd', 'unit+own-labs-even'] as const;

const own = ownLabInstances();
const ownWhere = (odd: boolean) => [...own].filter(([, i]) => i % 2 === (odd ? 1 : 0)).map(([f]) => f);
const stream = (name: string, include: string[], extra: TestProjectInlineConfiguration['test'] = {}): TestProjectInlineConfiguration => ({
  extends: true,
  test: { name, include, fileParallelism: false, ...extra },
});

export default defineConfig({
  test: {
    root: ROOT,
    testTimeout: 20_000,
    hookTimeout: 600_000,
    reporters: ['default'],
    projects: [
      // Only the shared lab's stream removes the shared lab at the end (global-setup.ts).
      stream(STREAMS[0], ['test/integration/**/*.test.ts'], { exclude: [...own.keys()], globalSetup: ['test/integration/global-setup.ts'] }),
      stream(STREAMS[1], ownWhere(true)),
      stream(STREAMS[2], [...ownWhere(false), 'test/unit/**/*.test.ts']),
    ],
  },
});

import { defineConfig } from 'vitest/config';

// Integration tests share one lab of real routers, so test files run one after another; each
// integration test sets its own generous timeout (performance targets live in `npm run bench`).
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
    fileParallelism: false,
    globalSetup: ['test/integration/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 600_000,
    reporters: ['default'],
  },
});

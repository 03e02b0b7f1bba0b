import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Ctrl-C in the first seconds of edge (on a busy machine, loading edge takes seconds) is an
 * interruption like any other: exit 99, never node's own 130. The entry point catches signals
 * before it loads anything else.
 */
const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const staticImports = (file: string) =>
  [...readFileSync(`${SRC}${file}`, 'utf8').matchAll(/^import\s+(type\s+)?[^'"]*from\s+'([^']+)'/gm)].filter((m) => !m[1]).map((m) => m[2]);

/**
 * A module hook that holds edge at the moment its entry point asks for main.js (the rest of edge):
 * it says so on stderr and never answers, so the test knows edge is exactly there, however slow
 * the machine is.
 */
const HOLD_HOOK = `import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  if (specifier === './main.js' && context.parentURL?.endsWith('/cli.ts')) {
    writeSync(2, 'edge-test: loading main.js\\n');
    await new Promise(() => {});
  }
  return next(specifier, context);
}`;

describe('signals before edge has loaded', () => {
  it('the entry point loads nothing before its signal handlers (one import, itself without code imports)', () => {
    expect(staticImports('cli.ts')).toEqual(['./commands/early-signals.js']);
    expect(staticImports('commands/early-signals.ts')).toEqual(['./exit-codes.js']);
    expect(staticImports('commands/exit-codes.ts')).toEqual([]);
  });

  it('SIGINT while the rest of edge is still loading is exit 99, not node\'s 130', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-early-'));
    writeFileSync(join(dir, 'hold.mjs'), HOLD_HOOK);
    writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hold.mjs')).href)});\n`);
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', '--import', join(dir, 'register.mjs'), `${SRC}cli.ts`, 'inventory', '-i', 'inventories/prod.yaml'], {
        cwd: REPO,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      let err = '';
      await new Promise<void>((resolve) =>
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes('edge-test: loading main.js')) resolve();
        }),
      );
      child.kill('SIGINT');
      expect(await exited).toBe(99);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

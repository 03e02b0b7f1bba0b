import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Runs the real `edge` CLI (TypeScript sources through tsx) as a child process, as a user would. */
export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
/** tsx's loader by path, so the CLI also runs from a directory outside the checkout (cwd). */
export const TSX = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function edge(args: string[], opts: { env?: NodeJS.ProcessEnv; wrap?: string[]; cwd?: string } = {}): Promise<CliResult> {
  const argv = [...(opts.wrap ?? []), process.execPath, '--import', TSX, CLI, ...args];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, CI: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Math.round(performance.now() - t0) }));
  });
}

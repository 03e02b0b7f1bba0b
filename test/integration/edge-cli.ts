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

/** `input`: written to edge's stdin, then closed (what a person types at a prompt, e.g. -K's). */
export function edge(args: string[], opts: { env?: NodeJS.ProcessEnv; wrap?: string[]; cwd?: string; input?: string } = {}): Promise<CliResult> {
  const argv = [...(opts.wrap ?? []), process.execPath, '--import', TSX, CLI, ...args];
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, CI: '1', ...opts.env },
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Math.round(performance.now() - t0) }));
  });
}

/** The real CLI as a child process whose output can be watched, and killed at the right moment. */
export function edgeLive(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: REPO,
    env: { ...process.env, CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const feed = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = out.match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    feed(d);
  });
  child.stderr.on('data', feed);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; all: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, all: out })),
  );
  return {
    child,
    done,
    /** Resolves when stdout+stderr (so far) match `re`; rejects if edge exits first. */
    waitFor(re: RegExp): Promise<RegExpMatchArray> {
      const m = out.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        waiters.push({ re, resolve });
        void done.then((r) => reject(new Error(`edge exited (${r.code ?? r.signal}) before ${re}:\n${r.all}`)));
      });
    },
  };
}

/**
 * Host-side plumbing for the lab: run a command (with a clean PATH and a timeout), start a daemon
 * that records its own PID before it becomes the daemon, and end a process only by a recorded PID
 * whose command line still matches.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { EdgeError } from '../errors.js';

export const LAB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The environment every lab command gets: no host PATH tricks (pyenv shims etc.), no locale surprises. */
export const LAB_ENV: NodeJS.ProcessEnv = { PATH: LAB_PATH, LANG: 'C.UTF-8', HOME: '/root', TERM: process.env.TERM ?? 'dumb' };

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  /** Return the result instead of throwing when the exit code is not 0. */
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? LAB_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new EdgeError('LAB', `cannot run ${cmd}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const res = { code: code ?? 128, stdout, stderr };
      const line = [cmd, ...args].join(' ');
      if (timedOut) reject(new EdgeError('LAB', `timed out after ${timeoutMs} ms: ${short(line)}`));
      else if (res.code !== 0 && !opts.allowFail)
        reject(
          new EdgeError('LAB', `command failed (${signal ?? `exit ${res.code}`}): ${short(line)}\n${(stderr || stdout).trim()}`),
        );
      else resolve(res);
    });
  });
}

function short(s: string): string {
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** `ip [-n NS] [-6] -batch -` with the given lines (nothing when there are none). */
export async function ipBatch(ns: string | null, lines: string[], opts: { force?: boolean; family?: 6 } = {}): Promise<RunResult> {
  if (lines.length === 0) return { code: 0, stdout: '', stderr: '' };
  const args = [...(ns ? ['-n', ns] : []), ...(opts.family ? ['-6'] : []), ...(opts.force ? ['-force'] : []), '-batch', '-'];
  return run('ip', args, { input: lines.join('\n') + '\n', allowFail: opts.force });
}

/** A command inside a network namespace (host binaries, the namespace's network). */
export function inNetns(ns: string, cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

export async function netnsList(): Promise<string[]> {
  const r = await run('ip', ['-j', 'netns', 'list'], { allowFail: true });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  try {
    return (JSON.parse(r.stdout) as { name: string }[]).map((x) => x.name);
  } catch {
    return [];
  }
}

/** Link names in a namespace (root namespace when ns is null). */
export async function linkNames(ns: string | null): Promise<string[]> {
  const r = await run('ip', [...(ns ? ['-n', ns] : []), '-j', 'link', 'show'], { allowFail: true });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as { ifname: string }[]).map((x) => x.ifname);
}

// ---------------------------------------------------------------- processes

export interface DaemonSpec {
  argv: string[];
  /** Written by the process itself (`echo $$`) before it execs the daemon: no window where it runs unrecorded. */
  pidFile: string;
  log: string;
  env?: NodeJS.ProcessEnv;
  /** `cgroup.procs` files the process moves itself into, also before it execs. */
  cgroups?: string[];
}

/** Start a detached daemon; it outlives this process. Returns its PID (the same PID the pid file holds). */
export function startDaemon(spec: DaemonSpec): number {
  const fd = openSync(spec.log, 'a');
  try {
    // A group that refuses the process is said in the log, and the daemon starts where it is.
    const script = 'echo $$ > "$0"; while [ "$1" != -- ]; do echo $$ 2>/dev/null > "$1" || echo "cannot join $1" >&2; shift; done; shift; exec "$@"';
    const child = spawn('/bin/sh', ['-c', script, spec.pidFile, ...(spec.cgroups ?? []), '--', ...spec.argv], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: spec.env ?? LAB_ENV,
    });
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) throw new EdgeError('LAB', `cannot start ${spec.argv[0]}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function readPidFile(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The command line of a live (non-zombie) process, NUL-separated args joined by spaces; undefined if gone. */
export function cmdline(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/** Alive and still the process we started (its command line contains `match`). */
export function isOurs(pid: number | undefined, match: string): pid is number {
  if (pid === undefined) return false;
  const c = cmdline(pid);
  return c !== undefined && c.includes(match);
}

export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return undefined;
  }
}

export function childrenOf(pid: number): number[] {
  try {
    const s = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (s) return s.split(/\s+/).map(Number);
  } catch {
    /* fall back to a scan */
  }
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    if (parentOf(Number(d)) === pid) out.push(Number(d));
  }
  return out;
}

/**
 * Live processes whose root filesystem is an overlay with its upper dir under `dir`: a lab
 * router's container, found by what it runs on rather than by its command line (a container's
 * init whose nspawn was killed is left as a bare `/usr/lib/systemd/systemd`, reparented to PID 1).
 */
export function processesRootedUnder(dir: string): number[] {
  const out: number[] = [];
  const prefix = `upperdir=${dir.replace(/\/+$/, '')}/`;
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d) || Number(d) === process.pid || cmdline(Number(d)) === undefined) continue;
    let root: string | undefined;
    try {
      root = readFileSync(`/proc/${d}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/');
    } catch {
      continue; // gone meanwhile
    }
    if (root?.includes(prefix)) out.push(Number(d));
  }
  return out;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * End a process we started: only if its command line still contains `match` (a PID can be reused).
 * SIGTERM, wait up to graceMs, then SIGKILL. Returns false when there was nothing (of ours) to end.
 */
export async function endProcess(pid: number | undefined, match: string, graceMs = 5_000): Promise<boolean> {
  if (!isOurs(pid, match)) return false;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  if (await waitGone(pid, graceMs)) return true;
  if (isOurs(pid, match)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    await waitGone(pid, 5_000);
  }
  return true;
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (cmdline(pid) === undefined) return true;
    await sleep(100);
  }
  return cmdline(pid) === undefined;
}

/** Poll `check` until it returns a value (not undefined) or the time is up. */
export async function waitFor<T>(what: string, ms: number, check: () => Promise<T | undefined>, everyMs = 250): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= until) break;
    await sleep(everyMs);
  }
  const why = last instanceof Error ? `: ${last.message}` : '';
  throw new EdgeError('LAB', `timed out after ${Math.round(ms / 1000)} s waiting for ${what}${why}`);
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw new EdgeError('LAB', 'the lab needs root (it creates network namespaces and containers); nothing was done', {
      hint: 'run it as root, e.g. `sudo edge lab up`',
    });
}

import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { EdgeError } from '../errors.js';
import { JOURNAL_DIR } from './journal.js';

/**
 * The controller's run lock: .edge/runs/RUN_ID.lock says which process is running that run. A
 * `--resume` of a run still going is refused (two processes must never apply one run id), and
 * `edge runs` tells a run whose controller died from one that is going. A lock whose process is
 * gone (same machine) is stale and taken over; one from another machine cannot be checked and is
 * honoured, naming the machine.
 */
interface RunLockInfo {
  pid: number;
  host: string;
  startedAt: string;
}

const lockPath = (runId: string, dir: string) => join(dir, `${runId}.lock`);

function readLock(file: string): RunLockInfo | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RunLockInfo;
  } catch {
    return undefined;
  }
}

function alive(info: RunLockInfo): boolean {
  if (info.host !== hostname()) return true;
  try {
    process.kill(info.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** 'live': a process is running the run now; 'dead': its process is gone; 'none': no lock. */
export function runLockState(runId: string, dir = JOURNAL_DIR): 'live' | 'dead' | 'none' {
  const info = readLock(lockPath(runId, dir));
  if (!info) return 'none';
  return alive(info) ? 'live' : 'dead';
}

/** Takes the run lock or throws LOCKED naming its holder; the returned function releases it. */
export function acquireRunLock(runId: string, dir = JOURNAL_DIR): () => void {
  const file = lockPath(runId, dir);
  mkdirSync(dir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, `${JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() } satisfies RunLockInfo)}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
      const info = readLock(file);
      if (info && alive(info))
        throw new EdgeError('LOCKED', `run ${runId} is still going (pid ${info.pid} on ${info.host}, since ${info.startedAt}): not starting it twice`, { field: '--resume' });
      rmSync(file, { force: true });
    }
  }
  const release = () => {
    if (readLock(file)?.pid === process.pid) rmSync(file, { force: true });
    process.off('exit', release);
  };
  process.on('exit', release);
  return release;
}

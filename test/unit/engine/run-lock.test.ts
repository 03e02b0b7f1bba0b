import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireRunLock, runLockState } from '../../../src/engine/run-lock.js';

describe('the controller-side run lock', () => {
  const id = '20261201T000000Z-abcd';

  it('refuses a second process for a run that is still going, naming it; free again once released', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-runlock-'));
    const release = acquireRunLock(id, dir);
    expect(runLockState(id, dir)).toBe('live');
    expect(() => acquireRunLock(id, dir)).toThrow(new RegExp(`run ${id} is still going \\(pid ${process.pid} on ${hostname()}, since `));
    release();
    expect(runLockState(id, dir)).toBe('none');
    acquireRunLock(id, dir)();
  });

  it('a lock whose process is gone is stale: edge runs calls it dead and a new attempt takes it over', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-runlock-'));
    // pid 2^22+1 is above Linux's pid_max: no such process.
    writeFileSync(join(dir, `${id}.lock`), JSON.stringify({ pid: 4194305, host: hostname(), startedAt: '2026-12-01T00:00:00Z' }));
    expect(runLockState(id, dir)).toBe('dead');
    const release = acquireRunLock(id, dir);
    expect(runLockState(id, dir)).toBe('live');
    release();
  });
});

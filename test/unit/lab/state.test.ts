import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LabPaths } from '../../../src/lab/state.js';
import { acquireLock, emptyState, labPaths, readState, recordObjects, writeState } from '../../../src/lab/state.js';

function tmpPaths(): LabPaths {
  const dir = mkdtempSync(join(tmpdir(), 'edge-lab-state-'));
  return { ...labPaths(0), stateDir: dir, stateFile: join(dir, 'state.json'), lockFile: join(dir, 'lock') };
}

describe('lab state', () => {
  it('uses its own directory and prefix per instance', () => {
    expect(labPaths(0)).toMatchObject({ stateDir: '/var/lib/edge-lab', prefix: 'elab', cacheDir: '/var/cache/edge-lab' });
    expect(labPaths(2)).toMatchObject({ stateDir: '/var/lib/edge-lab-2', prefix: 'elab2' });
  });

  it('records objects before they exist and reads them back', () => {
    const p = tmpPaths();
    expect(readState(p)).toBeUndefined();
    const s = emptyState(p, 2);
    recordObjects(p, s, 'netns', ['elab-r1', 'elab-r1-isp1']);
    recordObjects(p, s, 'netns', ['elab-r1']);
    expect(readState(p)!.netns).toEqual(['elab-r1', 'elab-r1-isp1']);
    s.procs.r1 = { role: 'nspawn', pidFile: '/x/r1.pid', match: '/x/upper:/', log: '/x/log' };
    writeState(p, s);
    expect(readState(p)!.procs.r1!.match).toBe('/x/upper:/');
  });

  it('rejects a state file that is not lab state', () => {
    const p = tmpPaths();
    writeFileSync(p.stateFile, '{"version": 7}');
    expect(() => readState(p)).toThrow(/lab state/);
    writeFileSync(p.stateFile, 'nope');
    expect(() => readState(p)).toThrow(/not valid JSON/);
  });

  it('locks: one holder at a time; a lock left by a dead process is taken over', async () => {
    const p = tmpPaths();
    const release = await acquireLock(p.lockFile);
    expect(readFileSync(p.lockFile, 'utf8').trim()).toBe(String(process.pid));
    await expect(acquireLock(p.lockFile, { waitMs: 300 })).rejects.toThrow(/holds/);
    release();
    expect(existsSync(p.lockFile)).toBe(false);
    const dead = spawnSync('true').pid!; // a PID that has exited
    writeFileSync(p.lockFile, `${dead}\n`);
    const again = await acquireLock(p.lockFile, { waitMs: 1_000 });
    again();
  });
});

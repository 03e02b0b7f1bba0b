import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { renderBootGenerator } from '../../../src/engine/boot-hook.js';
import { lockScript, newHolder, settlePendingScript } from '../../../src/engine/host-lock.js';
import { describeRemoteRuns } from '../../../src/engine/rollback.js';
import { baselineKey, baselineManifest, restoreScript } from '../../../src/engine/snapshot.js';

const run = (runId: string, state: string, restoredBy = '-', activity = '-', lastEvent = '') => ({ runId, state, restoredBy, activity, lastEvent });

describe('the host as the source of truth (edge runs)', () => {
  it('names each run by what the host says: current, superseded, armed, restored at boot, pruned, unsettled', () => {
    const rows = describeRemoteRuns(
      [
        run('20261101T000000Z-0001', 'pruned'),
        run('20261102T000000Z-0002', 'confirmed'),
        run('20261103T000000Z-0003', 'rolled-back', 'boot', '-', '2026-11-03T00:00:09Z rolled-back (by boot, at boot)'),
        run('20261104T000000Z-0004', 'confirmed'),
        run('20261105T000000Z-0005', 'rolled-back', 'timer'),
        run('20261106T000000Z-0006', 'applied', '-', 'timer'),
      ],
      '20261106T000000Z-0006',
      '',
    );
    expect(rows.map((r) => [r.runId.slice(-4), r.state])).toEqual([
      ['0006', 'armed'],
      ['0005', 'restored-by-timer'],
      ['0004', 'superseded'],
      ['0003', 'restored-at-boot'],
      ['0002', 'superseded'],
      ['0001', 'pruned'],
    ]);
    expect(rows[2]!.detail).toBe('superseded by 20261106T000000Z-0006');
    expect(rows[3]!.detail).toBe('restored by boot at 2026-11-03T00:00:09Z');
  });

  it('a run left part-way with no timer and no live holder is unsettled, not running; one that never changed anything is not-started', () => {
    const rows = describeRemoteRuns([run('20261106T000000Z-0006', 'applying'), run('20261105T000000Z-0005', 'none')], '20261106T000000Z-0006', '');
    expect(rows.map((r) => r.state)).toEqual(['unsettled', 'not-started']);
    expect(describeRemoteRuns([run('20261106T000000Z-0006', 'applying')], '20261106T000000Z-0006', '20261106T000000Z-0006')[0]!.state).toBe('applying');
  });
});

describe('host-side scripts are valid bash and sh', () => {
  it('the boot hook (sh), the lock, the settle step, the baseline restore', () => {
    expect(spawnSync('sh', ['-n'], { input: renderBootGenerator() }).status).toBe(0);
    expect(spawnSync('bash', ['-n'], { input: lockScript(newHolder('20261106T000000Z-0006', 'run', 300)) + settlePendingScript() }).status).toBe(0);
    const m = baselineManifest(
      [
        { kind: 'file', path: '/etc/edge/edge.nft' },
        { kind: 'sysctl', key: 'net.ipv4.ip_forward', value: '0' },
        { kind: 'unit', name: 'keepalived.service', known: true, enabled: true, active: false },
      ],
      'r1',
    );
    expect(m.files).toEqual([{ path: '/etc/edge/edge.nft', existed: true, copy: `saved/${baselineKey({ kind: 'file', path: '/etc/edge/edge.nft' })}` }]);
    const s = restoreScript(m);
    expect(s).toContain('D=/var/lib/edge/baseline');
    expect(s).not.toContain('already rolled back'); // the baseline can always be restored again
    expect(s).toContain('rolled-back (baseline restore)'); // and marks every run rolled back
    expect(spawnSync('bash', ['-n'], { input: s }).status).toBe(0);
  });

  it('a restore removes the boot hook last, after the state is recorded, before the pending mark goes', () => {
    const m = baselineManifest([{ kind: 'file', path: '/etc/systemd/system-generators/edge-boot-restore' }, { kind: 'file', path: '/etc/edge/a' }], 'r1');
    const s = restoreScript(m);
    const at = (x: string) => s.lastIndexOf(x);
    const hook = s.indexOf('  edge_restore_file /etc/systemd/system-generators/edge-boot-restore');
    expect(hook).toBeGreaterThan(0);
    expect(hook).toBeLessThan(s.indexOf('rm -f /var/lib/edge/pending'));
    expect(at('edge_restore_file /etc/edge/a')).toBeLessThan(at('edge_put "$D/state" rolled-back'));
  });
});

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderBootGenerator } from '../../../src/engine/boot-hook.js';
import { lockScript, newHolder, settlePendingScript } from '../../../src/engine/host-lock.js';
import { describeRemoteRuns } from '../../../src/engine/rollback.js';
import { newestFirst, ORDER_LIB } from '../../../src/engine/run-order.js';
import { baselineKey, baselineManifest, restoreScript } from '../../../src/engine/snapshot.js';

// Numbered as the host would have: in the order of their ids, unless a test says otherwise.
const run = (runId: string, state: string, restoredBy = '-', activity = '-', lastEvent = '', seq = Number(runId.slice(-4))) => ({ runId, state, restoredBy, activity, lastEvent, seq });

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

describe("the host's own order of runs, not the controllers' clocks", () => {
  it('a run applied later by a controller whose clock is a day behind is the newer one', () => {
    // B was applied after A (sequence 8 > 7), from a controller one day behind: its id sorts first.
    const A = '20261106T120000Z-aaaa';
    const B = '20261105T120100Z-bbbb';
    const rows = describeRemoteRuns([run(A, 'confirmed', '-', '-', '', 7), run(B, 'confirmed', '-', '-', '', 8)], '', '');
    expect(rows.map((r) => [r.runId, r.state])).toEqual([
      [B, 'confirmed'],
      [A, 'superseded'],
    ]);
  });

  it("edge runs merges the hosts' orders; ids decide only where no host does", () => {
    // r1 saw X then Y; r2 saw Y then Z; W is on no host with the others.
    expect(newestFirst(['X', 'Y', 'Z', 'W'], [['Y', 'X'], ['Z', 'Y']])).toEqual(['Z', 'Y', 'X', 'W']);
    expect(newestFirst(['20261101T000000Z-0001', '20261102T000000Z-0002'], [])).toEqual(['20261102T000000Z-0002', '20261101T000000Z-0001']);
    // Two hosts that disagree (rollouts that crossed): still every run once.
    expect(newestFirst(['A', 'B'], [['A', 'B'], ['B', 'A']]).sort()).toEqual(['A', 'B']);
  });

  it("pruning and the rollback refusal compare the host's sequence numbers (real bash)", () => {
    const root = mkdtempSync(join(tmpdir(), 'edge-order-'));
    const mk = (name: string, order?: string) => {
      mkdirSync(join(root, name));
      if (order !== undefined) writeFileSync(join(root, name, 'order'), `${order}\n`);
      return join(root, name);
    };
    const dirs = [mk('20261106T000000Z-aaaa', '7 boot1'), mk('20261105T000000Z-bbbb', '12 boot1'), mk('20261107T000000Z-cccc'), mk('20261101T000000Z-dddd', 'x')];
    const r = spawnSync('bash', ['-c', `${ORDER_LIB}for d in "$@"; do edge_order "$d"; done | sort -r | cut -d' ' -f2-`, '-', ...dirs], { encoding: 'utf8' });
    // Numbered runs by number; unnumbered (older edge) after them, by id.
    expect(r.stdout.trim().split('\n')).toEqual(['20261105T000000Z-bbbb', '20261106T000000Z-aaaa', '20261107T000000Z-cccc', '20261101T000000Z-dddd']);
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

import { describe, expect, it } from 'vitest';
import type { HostResult, RunResult } from '../../../src/engine/types.js';
import { inventoryProblems } from '../../../src/tasks/inventory-check.js';
import { liveLines, summaryBar, SUMMARY_ABOVE, type LiveState } from '../../../src/ui/live.js';
import { recapText } from '../../../src/ui/recap.js';
import { listHostsText } from '../../../src/ui/listing.js';
import { wrap, wrapLines } from '../../../src/ui/width.js';
import { interruptionText } from '../../../src/commands/interrupt.js';
import { freshRouter, labVars } from '../../fixtures/facts.js';

const hostResult = (over: Partial<HostResult>): HostResult => ({
  host: 'r1',
  status: 'ok',
  state: 'unchanged',
  tasks: [],
  durationMs: 1234,
  execs: 2,
  bytesSent: 0,
  bytesReceived: 0,
  ...over,
});

/** A run with the longest messages edge produces: a refused host, a rolled-back one, notes. */
function realisticRun(): RunResult {
  const problems = inventoryProblems(
    labVars({ edge_wan1_interface: undefined, edge_wan2_interface: 'ens19', edge_lan_interface: undefined }),
    freshRouter(),
  );
  return {
    runId: '20261201T101211Z-a0d4',
    playbook: 'playbooks/failover.yaml',
    inventory: '/var/lib/edge-lab-7/lab.yaml',
    check: false,
    startedAt: '',
    status: 'failed',
    hosts: [
      hostResult({
        host: 'rtr-amsterdam-centraal-1.example.net',
        status: 'failed',
        tasks: [{ task: 'inventory-check', status: 'failed', changes: [], durationMs: 0, execs: 0, error: problems.join('; ') }],
        error: problems.join('; '),
      }),
      hostResult({
        host: 'r2',
        status: 'failed',
        state: 'rolled-back',
        error: 'verify: WAN2 (wan2): no health-check target answered through wan2 (192.0.2.250) within 8 s',
        rollback: 'rolled back automatically to the pre-run snapshot (restore.sh: 14 files, 3 tables, 6 rules)',
        tasks: [
          {
            task: 'failover',
            status: 'changed',
            changes: [],
            durationMs: 10,
            execs: 1,
            notes: ['detection ≤ 8s (fall 3 × 2s + 2s), return after 10s of passing checks; advert_int 3s (master down 9.609s)'],
          },
        ],
      }),
    ],
    rollout: [
      {
        version: 1,
        play: 0,
        hosts: [],
        batchCount: 3,
        batchIndex: 1,
        finished: false,
        stop: { reason: 'max-fail-percentage', message: '2 of 2 hosts of the batch failed (100%, more than max_fail_percentage 0): rtr-amsterdam-centraal-1.example.net, r2', at: '' },
      },
    ],
  };
}

describe('output at 80 columns', () => {
  it('the recap: one line per host, every note and error wrapped, each fact said once', () => {
    const text = recapText(realisticRun(), 80);
    const lines = text.split('\n');
    const command = lines.findIndex((l) => l.startsWith('    edge run '));
    for (const [i, l] of lines.entries()) if (i !== command) expect(l.length, l).toBeLessThanOrEqual(80);
    expect(lines.filter((l) => /^\s*(\S+ +)?ok=\d+ changed=\d+ failed=\d+ skipped=\d+ /.test(l))).toHaveLength(2);
    expect(lines).toContain('rtr-amsterdam-centraal-1.example.net');
    // the host's interfaces appear once, though three variables need one of them
    expect(text.replace(/\n\s+/g, ' ').split('wan1 (198.51.100.10/29 DHCP)').length).toBe(2);
    expect(text).toContain('failed, rolled-back');
  });

  it('a stopped check run says to check again, never to --resume it (which edge refuses for a check run)', () => {
    const stop = { reason: 'batch-failed' as const, message: 'batch 1 of 2 failed', at: '2026-01-15T02:00:00.000Z' };
    const rollout = [{ version: 1 as const, play: 0, hosts: [], batchCount: 2, batchIndex: 0, stop, finished: false }];
    const run = (check: boolean): RunResult => ({ runId: 'R1', playbook: 'p.yaml', inventory: 'i.yaml', check, startedAt: '', status: 'failed', hosts: [], rollout });
    expect(recapText(run(true), 80)).toContain('  check again with:\n    edge run p.yaml -i i.yaml --check');
    expect(recapText(run(true), 80)).not.toContain('--resume');
    expect(recapText(run(false), 80)).toContain('  resume with:\n    edge run p.yaml -i i.yaml --resume R1');
  });

  it('prose wraps at word boundaries under a hanging indent; a word longer than a line stays whole', () => {
    expect(wrap('aaa bbb ccc', 7, '', '  ')).toEqual(['aaa bbb', '  ccc']);
    expect(wrap(`x ${'y'.repeat(90)} z`, 80)).toEqual(['x', 'y'.repeat(90), 'z']);
    for (const l of wrapLines(interruptionText('EPIPE'), 80, '', 'edge:   ')) expect(l.length).toBeLessThanOrEqual(80);
  });

  const state = (n: number, done: number, failed: number): LiveState => {
    const hosts = new Map<string, LiveState['hosts'] extends Map<string, infer V> ? V : never>();
    for (let i = 0; i < n; i++) {
      const name = `site-with-a-long-name-${String(i).padStart(3, '0')}.example.net`;
      if (i < failed) hosts.set(name, { phase: 'done', result: hostResult({ host: name, status: 'unreachable', error: 'connection to x timed out after 10000 ms' }) });
      else if (i < done) hosts.set(name, { phase: 'done', result: hostResult({ host: name, status: 'changed' }) });
      else if (i < done + 5) hosts.set(name, { phase: 'active', doing: 'nftables', since: 0 });
      else hosts.set(name, { phase: 'waiting' });
    }
    return { hosts, startedAt: 0 };
  };

  it(`above ${SUMMARY_ABOVE} hosts the live view is a summary bar with the active and failed hosts`, () => {
    const lines = liveLines(state(1000, 400, 3), 60_000, 80, 20);
    expect(lines[0]).toMatch(/^\[#+\.+\] 400\/1000 done {2}397 changed {2}3 failed {2}600 left {2}ETA 1:30$/);
    expect(lines.length).toBeLessThanOrEqual(20);
    expect(lines.filter((l) => l.startsWith('✖ '))).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith('… '))).toHaveLength(5);
    expect(lines.filter((l) => l.startsWith('✔ ') || l.startsWith('· '))).toHaveLength(0);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
  });

  it(`up to ${SUMMARY_ABOVE} hosts it is a row per host, clipped to the width`, () => {
    const lines = liveLines(state(SUMMARY_ABOVE, 10, 1), 5000, 80, 40);
    expect(lines).toHaveLength(SUMMARY_ABOVE);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    expect(summaryBar(state(40, 0, 0), 1000, 80)).toMatch(/ETA \?$/);
  });

  it('--list-hosts is laid out as ansible-playbook lays it out', () => {
    const text = listHostsText('pb.yaml', [{ index: 0, name: 'p', pattern: 'all', hosts: ['a', 'b'], batches: [['a', 'b']], tasks: [], notes: [] }]);
    expect(text).toBe("playbook: pb.yaml\n\n  play #1 (all): p\tTAGS: []\n    pattern: ['all']\n    hosts (2):\n      a\n      b\n\n");
  });
});

describe('the recap says a note every host has once', () => {
  it('after the host lines, not under each host', () => {
    const note = 'detection ≤ 8s (fall 3 × 2s + 2s), return after 10s of passing checks';
    const hosts = ['a', 'b', 'c'].map((host) =>
      hostResult({ host, status: 'changed', tasks: [{ task: 'failover', status: 'changed', changes: [], durationMs: 1, execs: 1, notes: [note, ...(host === 'b' ? ['only b'] : [])] }] }),
    );
    const text = recapText({ runId: 'R', playbook: 'p', inventory: 'i', check: true, startedAt: '', status: 'ok', hosts }, 80);
    expect(text.split(note.slice(0, 20)).length).toBe(2);
    expect(text).toMatch(/every host \(3\):\n {4}failover: detection/);
    expect(text).toMatch(/^b .*\n {4}failover: only b$/m);
  });
});

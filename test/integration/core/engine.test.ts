import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../../src/engine/types.js';
import { edge } from '../edge-cli.js';
import { hostState } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * The engine end to end on a real router (lab r3): facts, apply of `sysctl`, idempotence, check
 * mode, rollback to the exact previous state, and the run journal and `edge runs`.
 */
describe.skipIf(!isRoot)('engine on a lab router', () => {
  let lab: Lab;
  let playbook: string;
  const host = 'r3';

  beforeAll(async () => {
    lab = await ensureLab();
    const dir = mkdtempSync(join(tmpdir(), 'edge-engine-'));
    playbook = join(dir, 'sysctl.yaml');
    writeFileSync(playbook, '- name: kernel settings\n  hosts: all\n  tasks:\n    - sysctl\n');
    // Start from the router's own settings, whatever an earlier test left.
    await lab.run(host, ['bash', '-c', 'rm -f /etc/sysctl.d/90-edge.conf; sysctl -q -w net.ipv4.ip_forward=0 net.ipv4.conf.all.rp_filter=0']);
  });

  const run = async (...extra: string[]) => {
    const r = await edge(['run', playbook, '-i', lab.inventory, '--limit', host, '--json', ...extra]);
    const result = JSON.parse(r.stdout) as RunResult;
    return { ...r, result, h: result.hosts[0]! };
  };

  it('check mode shows the diff and changes nothing', async () => {
    const before = await hostState(lab, host);
    const r = await run('--check', '--diff', '--detailed-exitcode');
    expect(r.code).toBe(2);
    expect(r.h.status).toBe('changed');
    expect(r.h.execs).toBe(1); // facts only
    expect(r.stderr).toContain('+++ b/etc/sysctl.d/90-edge.conf');
    expect(r.stderr).toContain('-net.ipv4.ip_forward = 0');
    expect(await hostState(lab, host)).toBe(before);
  }, 120_000);

  it('applies, is idempotent, and rolls back to the byte-for-byte previous state', async () => {
    const before = await hostState(lab, host);
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    // facts + one exec for the task + the confirm over a fresh connection
    expect(first.h).toMatchObject({ status: 'changed', state: 'confirmed', execs: 3 });
    expect(first.h.bytesSent).toBeGreaterThan(0);
    const runId = first.result.runId;
    expect((await lab.run(host, ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe('1');
    const manifest = JSON.parse((await lab.run(host, ['cat', `/var/lib/edge/snapshots/${runId}/manifest.json`])).stdout);
    expect(manifest.files).toEqual([{ path: '/etc/sysctl.d/90-edge.conf', existed: false }]);
    expect(manifest.sysctl['net.ipv4.ip_forward']).toBe('0');

    const second = await run('--detailed-exitcode');
    expect(second.code).toBe(0);
    expect(second.h).toMatchObject({ status: 'ok', execs: 1 });
    expect(second.h.tasks.map((t) => t.status)).toEqual(['ok']);

    const rb = await edge(['rollback', runId, '-i', lab.inventory, '--limit', host]);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.stdout).toContain(`${host}: rolled-back`);
    expect(await hostState(lab, host)).toBe(before);
    // Rolling back again is harmless and gives the same host.
    expect((await edge(['rollback', runId, '-i', lab.inventory, '--limit', host])).code).toBe(0);
    expect(await hostState(lab, host)).toBe(before);

    const runs = await edge(['runs', '-i', lab.inventory, '--limit', host, '--json']);
    const rows = (JSON.parse(runs.stdout) as { runs: { runId: string; hosts: Record<string, string> }[] }).runs;
    expect(rows.find((r) => r.runId === runId)?.hosts[host]).toBe('rolled-back');
  }, 180_000);

  it('rolls a host back by itself when a task fails mid-apply', async () => {
    const before = await hostState(lab, host);
    // A sysctl key the kernel refuses: the file is written, then `sysctl -w` fails.
    const bad = join(mkdtempSync(join(tmpdir(), 'edge-bad-')), 'bad.yaml');
    writeFileSync(bad, '- hosts: all\n  vars:\n    edge_sysctl: { net.ipv4.conf.all.forwarding: "not-a-number" }\n  tasks:\n    - sysctl\n');
    const r = await edge(['run', bad, '-i', lab.inventory, '--limit', host, '--json']);
    expect(r.code).toBe(2); // a host failed
    const h = (JSON.parse(r.stdout) as RunResult).hosts[0]!;
    expect(h).toMatchObject({ status: 'failed', state: 'rolled-back' });
    expect(h.rollback).toContain('rolled back automatically');
    expect(await hostState(lab, host)).toBe(before);
  }, 180_000);
});

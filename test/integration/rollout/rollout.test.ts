import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJournal } from '../../../src/engine/journal.js';
import type { RunResult } from '../../../src/engine/types.js';
import { edge, REPO } from '../edge-cli.js';
import { hostState } from '../host-state.js';
import { ensureLab, isRoot, labDown, type Lab } from '../lab-fixture.js';

/**
 * Batch rollout on an isolated lab (instance 4, three routers), through the real CLI:
 *  1. serial 1, the second router fails verify: the rollout stops before the third (untouched), the
 *     journal says r1 done, r2 rolled back, r3 not started; after a fix, --resume finishes r2 and r3.
 *  2. a play whose window is closed now changes nothing on any router and says when it opens.
 */

const INSTANCE = 4;
const ROUTERS = ['r1', 'r2', 'r3'];
const JOURNALS = join(REPO, '.edge', 'runs');

/** The RunResult `edge run --json` printed. */
function resultOf(r: { code: number | null; stdout: string; stderr: string }): RunResult {
  try {
    return JSON.parse(r.stdout) as RunResult;
  } catch {
    throw new Error(`edge run printed no JSON result (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
  }
}

const hostOf = (run: RunResult, name: string) => run.hosts.find((h) => h.host === name);
const rolloutStates = (run: RunResult | undefined) => Object.fromEntries((run?.rollout?.[0]?.hosts ?? []).map((h) => [h.name, h.state]));

describe.skipIf(!isRoot)('rollout on an isolated lab', () => {
  let lab: Lab;
  let dir: string;
  let inventoryText: string;

  beforeAll(async () => {
    // Fresh routers: a lab of this instance left running (a killed earlier run) is replaced.
    await labDown({ instance: INSTANCE });
    lab = await ensureLab(3, { instance: INSTANCE });
    dir = mkdtempSync(join(tmpdir(), 'edge-rollout-'));
    inventoryText = readFileSync(lab.inventory, 'utf8');
  });

  afterAll(async () => {
    await labDown({ instance: INSTANCE });
  });

  it('serial 1: r2 fails verify, r3 is not touched; --resume after the fix finishes r2 and r3', async () => {
    // The failover playbook, one router at a time.
    const playbook = join(dir, 'serial1.yaml');
    const failover = readFileSync(join(REPO, 'playbooks', 'failover.yaml'), 'utf8');
    expect(failover).toContain('\n  hosts: all\n');
    writeFileSync(playbook, failover.replace('\n  hosts: all\n', '\n  hosts: all\n  serial: 1\n'));
    // r2's WAN2 health target answers nothing in the lab: everything applies, then verify's
    // health check of WAN2 fails.
    const inventory = join(dir, 'serial1-inventory.yaml');
    const r2Line = `          ansible_host: ${lab.router('r2').mgmt.address}\n`;
    expect(inventoryText).toContain(r2Line);
    writeFileSync(inventory, inventoryText.replace(r2Line, `${r2Line}          edge_wan2_targets: [192.0.2.250]  # nothing answers there\n`));

    const r3Before = await hostState(lab, 'r3');
    const t0 = performance.now();
    const first = await edge(['run', playbook, '-i', inventory, '--json']);
    const firstMs = performance.now() - t0;
    const run = resultOf(first);
    expect(first.code, first.stderr.slice(-2000)).toBe(2); // a host failed
    expect(run.status).toBe('failed');

    // r1 applied and confirmed; r2 got as far as verify, failed there, and was rolled back.
    expect(hostOf(run, 'r1')).toMatchObject({ status: 'changed', state: 'confirmed' });
    const r2 = hostOf(run, 'r2')!;
    expect(r2).toMatchObject({ status: 'failed', state: 'rolled-back' });
    expect(r2.tasks.map((t) => [t.task, t.status])).toEqual([
      ['inventory-check', 'ok'],
      ['packages', 'ok'],
      ['sysctl', 'changed'],
      ['tables', 'changed'],
      ['nftables', 'changed'],
      ['persistence', 'changed'],
      ['failover', 'changed'],
      ['verify', 'failed'],
    ]);
    expect(r2.tasks.at(-1)!.error).toMatch(/WAN2 \(wan2\) fails its health check/);
    expect((await lab.run('r2', ['nft', 'list', 'table', 'inet', 'edge'], { allowFail: true })).code).not.toBe(0);

    // r3: never started, not touched.
    expect(hostOf(run, 'r3')).toBeUndefined();
    expect(await hostState(lab, 'r3')).toBe(r3Before);
    expect(first.stderr).toContain('rollout stopped after batch 2/3');
    expect(first.stderr).not.toContain('batch 3/3');

    // The journal holds the rollout state --resume works from.
    const journal = await readJournal(run.runId, JOURNALS);
    expect(journal?.status).toBe('failed');
    expect(rolloutStates(journal)).toEqual({ r1: 'done', r2: 'rolled-back', r3: 'not-started' });
    expect(journal!.rollout![0]).toMatchObject({ batchCount: 3, batchIndex: 1, finished: false, stop: { reason: 'batch-failed' } });

    // The fix: r2 gets the lab's real targets again. Resume: only r2 and r3 run, one at a time.
    writeFileSync(inventory, inventoryText);
    const t1 = performance.now();
    const resumed = await edge(['run', playbook, '-i', inventory, '--resume', run.runId, '--json']);
    const resumeMs = performance.now() - t1;
    const after = resultOf(resumed);
    expect(resumed.code, resumed.stderr.slice(-2000)).toBe(0);
    expect(after.runId).toBe(run.runId);
    expect(resumed.stderr).toContain('(resumed)');
    expect(resumed.stderr).toContain('batch 1/2: r2');
    expect(resumed.stderr).toContain('batch 2/2: r3');
    expect(resumed.stderr).not.toMatch(/^r1: /m);
    expect(after.status).toBe('ok');
    expect(after.hosts.map((h) => [h.host, h.status, h.state])).toEqual([
      ['r1', 'changed', 'confirmed'], // kept from the first attempt
      ['r2', 'changed', 'confirmed'],
      ['r3', 'changed', 'confirmed'],
    ]);
    const resumedJournal = await readJournal(run.runId, JOURNALS);
    expect(rolloutStates(resumedJournal)).toEqual({ r1: 'done', r2: 'done', r3: 'done' });
    expect(resumedJournal!.rollout![0]).toMatchObject({ finished: true });
    expect(resumedJournal!.rollout![0]!.stop).toBeUndefined();
    for (const r of ROUTERS) expect((await lab.run(r, ['nft', 'list', 'map', 'inet', 'edge', 'preferred_wan'])).stdout).toContain('lan0');
    console.log(`rollout: first attempt ${(firstMs / 1000).toFixed(1)} s, resume ${(resumeMs / 1000).toFixed(1)} s`);
  }, 600_000); // three routers configured from nothing, one at a time, twice: over 300 s at host load 20

  it('outside its window, a rollout changes nothing and says when the window opens', async () => {
    // A one-hour window six hours from now, in Tokyo (UTC+9 all year: no DST to reckon with).
    const now = new Date();
    const startHour = (now.getUTCHours() + 9 + 6) % 24;
    const hh = (h: number) => String(h).padStart(2, '0');
    const playbook = join(dir, 'window.yaml');
    writeFileSync(
      playbook,
      [
        '- name: failover in the Tokyo window',
        '  hosts: all',
        '  serial: 1',
        '  window:',
        `    start: "${hh(startHour)}:00"`,
        `    end: "${hh((startHour + 1) % 24)}:00"`,
        '    timezone: Asia/Tokyo',
        '  tasks: [inventory-check, packages, sysctl, tables, nftables, persistence, failover, verify]',
        '',
      ].join('\n'),
    );
    // When it opens: the first instant after now at startHour:00 Tokyo time = (startHour - 9):00 UTC.
    let opens = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 1, startHour - 9);
    while (opens <= now.getTime()) opens += 86_400_000;
    const opensUtc = new Date(opens).toISOString().replace('.000Z', 'Z');
    const opensTokyo = new Date(opens + 9 * 3_600_000).toISOString();
    const expected = `the next window opens ${opensTokyo.slice(0, 10)} ${hh(startHour)}:00 Asia/Tokyo (${opensUtc})`;

    const before = await Promise.all(ROUTERS.map((r) => hostState(lab, r)));
    const r = await edge(['run', playbook, '-i', lab.inventory, '--json']);
    const run = resultOf(r);
    expect(r.code).toBe(3); // stopped by its window
    expect(run.status).toBe('stopped');
    expect(run.hosts).toEqual([]);
    // Messages wrap at 80 columns: read them as prose.
    const said = r.stderr.replace(/\n +/g, ' ');
    expect(said).toContain(`rollout stopped before batch 1/3: outside the maintenance window (r1: daily ${hh(startHour)}:00–${hh((startHour + 1) % 24)}:00 Asia/Tokyo)`);
    expect(said).toContain('3 not started');
    expect(said).toContain(expected);
    expect(r.stderr).toContain(`\n    edge run ${playbook} -i ${lab.inventory} --resume ${run.runId}\n`);
    const journal = await readJournal(run.runId, JOURNALS);
    expect(rolloutStates(journal)).toEqual({ r1: 'not-started', r2: 'not-started', r3: 'not-started' });
    expect(journal!.rollout![0]!.stop).toMatchObject({ reason: 'window-not-open', opensAt: new Date(opens).toISOString() });
    expect(await Promise.all(ROUTERS.map((x) => hostState(lab, x)))).toEqual(before);
  }, 120_000);
});

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deadlineUnderLease, execLeaseSeconds, LEASE_LIB, LEASE_MARGIN_SEC, leaseScript } from '../../../src/engine/deadman.js';
import { HOST_LIB } from '../../../src/engine/host-layout.js';
import { emptyManifest } from '../../../src/engine/snapshot.js';
import { applyScript } from '../../../src/engine/task-script.js';
import { PREAMBLE } from '../../../src/render/shell.js';
import { remoteLifetimeMs } from '../../../src/ssh/exec.js';
import type { Facts } from '../../../src/facts/types.js';

/**
 * The lease of a changing exec (deadman.ts), run for real in bash: an exec takes it under the
 * run's restore lock, and a restore waits for its holder to end.
 */
const lib = `${PREAMBLE}${HOST_LIB}${LEASE_LIB}`;
const runDir = () => mkdtempSync(join(tmpdir(), 'edge-lease-'));

describe('the lease of a changing exec', () => {
  it('covers everything the exec may live on the host: timeout(1)`s limit and its KILL grace', () => {
    expect(execLeaseSeconds(600_000)).toBe(Math.ceil(remoteLifetimeMs(600_000) / 1000));
    expect(execLeaseSeconds(600_000)).toBeGreaterThan(600);
    expect(deadlineUnderLease(120, execLeaseSeconds(600_000))).toBe(execLeaseSeconds(600_000) + LEASE_MARGIN_SEC + 120);
  });

  it('is refused when the run is not in the state the exec expects, naming the state', () => {
    const D = runDir();
    writeFileSync(join(D, 'state'), 'restoring\n');
    const r = spawnSync('bash', ['-s'], { input: `${lib}D=${D}\n${leaseScript('R1', 30, false)}\necho TAKEN\n`, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).not.toContain('TAKEN');
    expect(r.stderr).toContain('the host restored itself during run R1 (dead-man timer, reboot or takeover); not applying more (state restoring)');
    const first = spawnSync('bash', ['-s'], { input: `${lib}D=${D}\n${leaseScript('R1', 30, true)}\n`, encoding: 'utf8' });
    expect(first.stderr).toContain('run R1 is already applied on this host (or being restored); not applying it again (state restoring)');
  });

  it('makes a restore wait until the exec holding it has ended', async () => {
    const D = runDir();
    writeFileSync(join(D, 'state'), 'applying\n');
    // The "exec": takes the lease, then works for a while and leaves a mark as its last act.
    const exec = spawn('bash', ['-s'], { stdio: ['pipe', 'ignore', 'inherit'] });
    exec.stdin.end(`${lib}D=${D}\n${leaseScript('R1', 30, false)}\necho leased > "$D/leased"\nsleep 1.5\necho done > "$D/exec-done"\n`);
    for (let i = 0; i < 100 && spawnSync('test', ['-f', join(D, 'leased')]).status !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    // The "restore": waits under its lock, then looks at what the exec left.
    const restore = spawnSync('bash', ['-s'], {
      input: `${lib}D=${D}\nexec 8>"$D/.restore.lock"; flock 8\nedge_lease_wait\ncat "$D/exec-done" 2>/dev/null || echo EXEC-STILL-LIVE\n`,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(restore.stdout.trim()).toBe('done');
    const log = readFileSync(join(D, 'restore.log'), 'utf8');
    expect(log).toMatch(/waiting for exec \d+ of this run to end/);
    expect(log).toMatch(/exec \d+ ended after \d+ s of waiting/);
  });

  it('kills a holder that outlived its lease, with the process group timeout(1) made for it', async () => {
    const D = runDir();
    // A holder under timeout(1), as every exec runs, whose lease ran out long ago (written by hand:
    // a real exec is ended by timeout(1) first). Its child stands for the work it started.
    const holder = spawn('timeout', ['120', 'bash', '-c', `echo $$ > ${D}/pid; sleep 60 & echo $! > ${D}/child; wait`], { stdio: 'ignore' });
    for (let i = 0; i < 100 && spawnSync('test', ['-s', join(D, 'child')]).status !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    const pid = readFileSync(join(D, 'pid'), 'utf8').trim();
    const child = readFileSync(join(D, 'child'), 'utf8').trim();
    const start = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/.*\) /, '').split(' ')[19];
    writeFileSync(join(D, 'lease'), `${pid}:${start} ${Math.floor(Date.now() / 1000) - 3600}\n`);
    const r = spawnSync('bash', ['-s'], { input: `${lib}D=${D}\nedge_lease_wait\n`, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    expect(readFileSync(join(D, 'restore.log'), 'utf8')).toContain(`exec ${pid} outlived its lease: killed`);
    await new Promise((r) => holder.on('exit', r));
    // Gone, or a zombie no one has reaped yet: either way it ended.
    const state = spawnSync('bash', ['-c', `sed 's/.*) //' /proc/${child}/stat 2>/dev/null | cut -c1`], { encoding: 'utf8' }).stdout.trim();
    expect(['', 'Z']).toContain(state);
  });

  it('the apply exec takes the lease before it saves anything and arms the timer beyond it before it changes anything', () => {
    const facts = { files: {}, sysctl: {}, nftTables: [], rules: [], routes: [], rtTables: {}, units: {}, interfaces: [] } as unknown as Facts;
    const s = applyScript({
      manifest: emptyManifest('20261206T000000Z-0002', 'r1'),
      facts,
      tasks: [{ name: 'tables', changes: [{ summary: 's', diff: '', ops: [{ kind: 'file', path: '/etc/a.conf', content: 'a = 1\n', mode: '0644', owner: 'root', group: 'root' }] }] }],
      keepSnapshots: 5,
      confirmSeconds: 20,
      leaseSeconds: 50,
    });
    const order = ["edge_lease_take 50 'none rolled-back pruned'", 'edge_save_file /etc/a.conf', `--on-active=${50 + LEASE_MARGIN_SEC + 20}s`, 'edge_write_file /etc/a.conf', '--on-active=20s', 'state applied'];
    const idx = order.map((o) => s.indexOf(o));
    expect(idx.every((i) => i >= 0), JSON.stringify(idx)).toBe(true);
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
  });
});

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { failoverFiles } from '../../../src/tasks/failover.js';
import { PATHS } from '../../../src/tasks/paths.js';
import { labVars } from '../../fixtures/facts.js';
import { labRoutingConf } from '../../fixtures/routing-conf.js';

/**
 * edge-probe.service is stopped by SIGTERM to every process of the service at once
 * (KillMode=control-group): whatever it is doing, it must end, with every child it started, or
 * systemd waits TimeoutStopSec for them. The hard moment is a stop while the children are being
 * started (seen on the lab: a stop 10.4 s long). Here the switcher is a stub that sends SIGTERM to
 * its whole process group (as systemd does to the control group) the moment it starts, so the
 * signal lands in that window on every run. The WAN interfaces do not exist here, so no ping is sent.
 *
 * It was KillMode=mixed (SIGTERM to edge-probe alone, which then ended its children): under load
 * (three `yes` beside this file) 3 runs of 16 hung until the backstop, bash waiting in wait4 while
 * starting a `producer | machine` pipeline with the signal not yet acted on; with the whole group
 * signalled, 16 of 16 ended at once (2026-12-07, host load about 10).
 */
const dir = mkdtempSync(join(tmpdir(), 'edge-probe-stop-'));
/** Process groups started here: a run that hangs past its timeout is ended with the file. */
const started: number[] = [];
afterAll(() => {
  for (const pgid of started) spawnSync('kill', ['-KILL', '--', `-${pgid}`]);
  rmSync(dir, { recursive: true, force: true });
});
const AWK = fileURLToPath(new URL('../../../src/router/edge-probe.awk', import.meta.url));

function sandbox(name: string) {
  const d = join(dir, name);
  mkdirSync(join(d, 'run'), { recursive: true });
  writeFileSync(join(d, 'routing.conf'), labRoutingConf());
  writeFileSync(join(d, 'failover.conf'), failoverFiles(labVars()).find((f) => f.path === PATHS.failoverConf)!.content);
  writeFileSync(join(d, 'edge-probe'), failoverFiles(labVars()).find((f) => f.path === PATHS.edgeProbe)!.content, { mode: 0o755 });
  // The stub switcher: systemd's stop, sent from inside the group (itself included).
  writeFileSync(join(d, 'switcher'), '#!/bin/bash\nkill -TERM 0\nexec cat >/dev/null\n', { mode: 0o755 });
  return d;
}

/** The live processes of process group `pgid` (zombies have ended: this sandbox's init reaps them late). */
const group = (pgid: number) =>
  spawnSync('ps', ['-o', 'pid=,stat=,args=', '-g', String(pgid)], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^\d+\s+Z/.test(l));

describe('edge-probe run: a stop ends everything it started', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('SIGTERM while the children start (run %i): exits 0, and nothing of its group is left', async (n) => {
    const d = sandbox(`run${n}`);
    const env = {
      ...process.env,
      EDGE_ROUTING_CONF: join(d, 'routing.conf'),
      EDGE_FAILOVER_CONF: join(d, 'failover.conf'),
      EDGE_RUN_DIR: join(d, 'run'),
      EDGE_PROBE_AWK: AWK,
      EDGE_FAILOVER: join(d, 'switcher'),
    };
    // its own process group, as under systemd, so that `kill 0` and the check below see only it
    const child = spawn('bash', [join(d, 'edge-probe'), 'run'], { env, detached: true, stdio: 'ignore' });
    const pgid = child.pid!;
    started.push(pgid);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? -1 : null))));
    let left = group(pgid);
    for (let i = 0; i < 20 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = group(pgid);
    }
    if (left.length > 0) spawnSync('kill', ['-KILL', '--', `-${pgid}`]);
    expect(left, 'processes of edge-probe left 2 s after it exited').toEqual([]);
    expect(code, 'a stop is a clean exit').toBe(0);
  });
});

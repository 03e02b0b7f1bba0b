import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResult, RunResult } from '../../../src/engine/types.js';
import { edge, REPO } from '../edge-cli.js';
import { managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * Issue 20, item 4 on a real router: /etc/edge is a symbolic link edge did not make. The run is
 * refused before anything changes, naming the link and where it points; nothing is written there
 * or anywhere else, and the link stays exactly as it was.
 */
const ROUTER = 'r3';
const PLAYBOOK = join(REPO, 'playbooks', 'failover.yaml');

describe.skipIf(!isRoot)('no write through a symlinked directory (issue 20)', () => {
  let lab: Lab;
  const sh = async (script: string) => (await lab.run(ROUTER, ['bash', '-c', script], { allowFail: true })).stdout.trim();

  beforeAll(async () => {
    lab = await ensureLab();
    const base = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', ROUTER]);
    expect([0, 2], base.stdout + base.stderr).toContain(base.code);
  }, 300_000);

  afterAll(async () => {
    await sh('[ -L /etc/edge ] && rm -f /etc/edge; rm -rf /root/evil');
  });

  it('a symlinked /etc/edge is refused at plan time, nothing written, the link kept', async () => {
    expect(await sh('[ -e /etc/edge ] && echo exists || echo absent')).toBe('absent');
    await sh('mkdir -p /root/evil && ln -s /root/evil /etc/edge');
    const before = await managedFingerprint(lab, ROUTER);
    const runsBefore = await sh('ls -1 /var/lib/edge/snapshots 2>/dev/null | sort');
    const r = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', ROUTER, '--json']);
    expect(r.code, r.stderr).toBe(2);
    const h = (JSON.parse(r.stdout) as RunResult).hosts.find((x) => x.host === ROUTER) as HostResult;
    expect(h.state).toBe('unchanged');
    expect(h.error).toContain('/etc/edge is a symbolic link to /root/evil, which edge did not create: it does not write /etc/edge/');
    expect(await sh('ls -A /root/evil')).toBe('');
    expect(await sh('readlink /etc/edge')).toBe('/root/evil');
    expect(await sh('ls -1 /var/lib/edge/snapshots 2>/dev/null | sort')).toBe(runsBefore);
    expect(await managedFingerprint(lab, ROUTER)).toBe(before);
    // Check mode says the same before anything is tried.
    const check = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', ROUTER, '--check']);
    expect(check.code).toBe(2);
    expect(check.stdout + check.stderr).toContain('/etc/edge is a symbolic link to /root/evil');
  }, 300_000);
});

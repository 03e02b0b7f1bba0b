import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostResult, RunResult } from '../../../src/engine/types.js';
import { UNITS } from '../../../src/tasks/paths.js';
import { edge, edgeLive } from '../edge-cli.js';
import { managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';
import { healthyIsps, makeFresh, PLAYBOOK, runPlaybook, sleep } from '../failover/helpers.js';

/**
 * Issue 25's last point on lab r2: a rollback removes the packages edge installed, byte-exact. r2
 * is made a router without node_exporter and conntrack (purged, with the two libraries only
 * conntrack needs, and the prometheus user gone), so the packages task installs them from the lab
 * image's own apt repository (src/lab/repo.ts) and apt pulls the libraries in. After a rollback, of
 * the run, of two runs to the baseline, or at boot after a power cut, dpkg's package list, every
 * file under /etc and /usr/local, the kernel's state and the units are as before; the rollback names
 * each package it removed. At the end r2 gets its packages back as the lab image has them.
 */

const router = 'r2';
/** What the test takes away; the two libraries are what apt must pull in (only conntrack needs them). */
const PLANNED = ['conntrack', 'prometheus-node-exporter'];
const PULLED_IN = ['libnetfilter-conntrack3:amd64', 'libnfnetlink0:amd64'];
const ADDED = ['conntrack', ...PULLED_IN, 'prometheus-node-exporter'];

describe.skipIf(!isRoot)('packages edge installs are removed by a rollback, byte-exact (issue 25)', () => {
  let lab: Lab;
  let before: string;
  const sh = async (script: string) => (await lab.run(router, ['bash', '-c', script], { allowFail: true })).stdout;
  const hostOf = (r: RunResult) => r.hosts.find((h) => h.host === router) as HostResult;
  /** Everything a rollback must give back: the managed fingerprint, dpkg's list, node_exporter's unit and its files. */
  const state = async () =>
    `${await managedFingerprint(lab, router)}\n---\n${await sh(
      `dpkg-query -W -f '\${binary:Package} \${Version} \${db:Status-Abbrev}\\n' | sort; ` +
        `echo "${UNITS.nodeExporter} $(systemctl is-enabled ${UNITS.nodeExporter} 2>&1) $(systemctl is-active ${UNITS.nodeExporter} 2>&1)"; ` +
        'ls -A /var/lib/prometheus 2>&1; getent passwd prometheus; true',
    )}`;
  /** The packages the run's snapshot on the router says apt added. */
  const added = async (runId: string) => (await sh(`cut -d' ' -f1 /var/lib/edge/snapshots/${runId}/pkgs/added`)).split('\n').filter(Boolean);
  const rollback = async (...what: string[]) => {
    const r = await edge(['rollback', ...what, '-i', lab.inventory, '--limit', router]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    lab = await ensureLab();
    await healthyIsps(lab, router);
    await makeFresh(lab, router);
    await lab.run(router, ['bash', '-c', `dpkg --purge ${[...PLANNED, ...PULLED_IN].join(' ')} && userdel prometheus`]);
    before = await state();
    expect(before).not.toMatch(/^conntrack /m);
  }, 600_000);

  afterAll(async () => {
    // r2 as the lab image has it, for the files that come after this one.
    await lab.run(router, [
      'bash',
      '-c',
      `rm -f /run/edge-test/hold; DEBIAN_FRONTEND=noninteractive apt-get -q -y --no-install-recommends install ${PLANNED.join(' ')} >/dev/null && systemctl enable --now --quiet ${UNITS.nodeExporter}`,
    ]);
    await makeFresh(lab, router);
  }, 600_000);

  it('check mode says what a rollback would remove', async () => {
    const r = await runPlaybook(lab, [router], '--check');
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    const t = hostOf(r.result).tasks.find((x) => x.task === 'packages')!;
    expect(t.changes.map((c) => c.summary)).toContain('install conntrack, prometheus-node-exporter');
    expect(t.notes).toEqual([
      'rollback removes conntrack, prometheus-node-exporter (and whatever apt pulls in with them: what dpkg did not have before), and puts back what their install changed under /etc',
    ]);
  }, 180_000);

  it('apply installs them (and what apt pulls in), node_exporter serves edge\'s metrics; rollback of the run purges exactly those, byte-exact', async () => {
    const r = await runPlaybook(lab, [router]);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const runId = r.result.runId;
    expect(hostOf(r.result).tasks.find((x) => x.task === 'packages')).toMatchObject({ status: 'changed' });
    // What dpkg says apt added: the two libraries the plan never named included.
    expect(await added(runId)).toEqual(ADDED);
    expect(await sh('getent passwd prometheus | cut -d: -f1')).toBe('prometheus\n');
    let text = '';
    for (let i = 0; i < 60 && !/^edge_applied_info\{/m.test(text); i++) {
      text = await fetch(`http://${lab.router(router).mgmt.address}:9100/metrics`, { signal: AbortSignal.timeout(5_000) })
        .then((x) => x.text())
        .catch(() => '');
      if (!/^edge_applied_info\{/m.test(text)) await sleep(1_000);
    }
    expect(text).toMatch(new RegExp(`^edge_applied_info\\{.*run_id="${runId}"`, 'm'));

    const out = await rollback(runId);
    expect(out).toContain(`removed the packages edge had installed: ${ADDED.join(', ')}`);
    expect(await state()).toBe(before);
  }, 600_000);

  it('two runs (conntrack alone, then node_exporter), then a rollback to the baseline: both purged, byte-exact', async () => {
    const a = await runPlaybook(lab, [router], '-e', '{"edge_metrics": false}');
    expect(a.code, a.stderr.slice(-3000)).toBe(0);
    expect(await added(a.result.runId)).toEqual(['conntrack', ...PULLED_IN]);
    const b = await runPlaybook(lab, [router]);
    expect(b.code, b.stderr.slice(-3000)).toBe(0);
    expect(await added(b.result.runId)).toEqual(['prometheus-node-exporter']);
    const out = await rollback('--baseline');
    expect(out).toContain('removed the packages edge had installed: ');
    for (const p of ADDED) expect(out).toContain(p);
    expect(await state()).toBe(before);
  }, 900_000);

  it('a power cut after apt, before the confirm: the boot-time restore purges them too, byte-exact', async () => {
    await sh('mkdir -p /run/edge-test && rm -f /run/edge-test/held && echo packages:done > /run/edge-test/hold');
    const live = edgeLive(['run', PLAYBOOK, '-i', lab.inventory, '--limit', router, '--json']);
    for (let i = 0; (await sh('cat /run/edge-test/held 2>/dev/null')).trim() !== 'packages:done'; i++) {
      if (i > 600) throw new Error(`${router} never reached packages:done`);
      await sleep(500);
    }
    await lab.reboot(router, { hard: true });
    const res = await live.done;
    expect(res.code, res.all.slice(-3000)).toBe(2);
    const h = hostOf(JSON.parse(res.stdout) as RunResult);
    expect(h.state, res.all.slice(-3000)).toBe('rolled-back');
    expect(h.rollback).toContain('restored the pre-run snapshot at boot');
    expect(await sh('cat /var/lib/edge/snapshots/*/restore.log | grep -c packages')).not.toBe('0\n');
    expect(await state()).toBe(before);
  }, 900_000);
});

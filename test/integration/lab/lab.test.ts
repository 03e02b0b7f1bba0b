import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Lab } from '../lab-fixture.js';
import { ensureLab, isRoot, labDown, labLeftovers } from '../lab-fixture.js';
import { mainDefaults } from '../../../src/lab/lab.js';
import type { ProbeResult } from '../../../src/lab/probe.js';
import { leaderPid } from '../../../src/lab/router.js';
import { readState } from '../../../src/lab/state.js';
import { sleep } from '../../../src/lab/sys.js';

/**
 * The lab, end to end, on real routers — in its own isolated instance (elab1-, 198.18.1.0/24),
 * so the shared lab other integration tests use is never disturbed; removed at the end.
 *
 * Before edge's failover playbook runs, a router neither forwards nor NATs (the lab installs
 * nothing of the design). To see faults from the LAN client, these tests make r1 forward and
 * masquerade themselves (a sysctl and one nft table) and undo it.
 */
const INSTANCE = 1;
const T = { timeout: 300_000 };

let lab: Lab;

/** Probe until `ok` holds (the router's own stack reacts to carrier/DHCP in its own time). */
async function probeUntil(router: string, ok: (p: ProbeResult) => boolean, ms = 60_000): Promise<ProbeResult> {
  const until = Date.now() + ms;
  let p = await lab.probe(router, { count: 2, timeoutMs: 1_500 });
  while (!ok(p) && Date.now() < until) {
    await sleep(500);
    p = await lab.probe(router, { count: 2, timeoutMs: 1_500 });
  }
  return p;
}

const NAT = `table ip labtest {
  chain post {
    type nat hook postrouting priority 100; policy accept;
    oifname { "wan1", "wan2" } masquerade
  }
}
`;

async function enableForwarding(router: string): Promise<void> {
  await lab.run(router, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  await lab.run(router, ['nft', '-f', '-'], { input: NAT });
}

async function disableForwarding(router: string): Promise<void> {
  await lab.run(router, ['nft', 'delete', 'table', 'ip', 'labtest'], { allowFail: true });
  await lab.run(router, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=0']);
}

describe.skipIf(!isRoot)('edge lab (real routers)', () => {
  beforeAll(async () => {
    lab = await ensureLab(3, { instance: INSTANCE });
  }, 600_000);

  afterAll(async () => {
    await labDown({ instance: INSTANCE });
  }, 300_000);

  it('every router takes SSH with strict host-key checking, and only with the lab known_hosts', T, () => {
    for (const r of lab.plan.routers) {
      const ok = spawnSync('ssh', [...lab.sshArgs(r.name), 'hostname'], { encoding: 'utf8', timeout: 30_000 });
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout.trim()).toBe(r.name);
    }
    const empty = join(mkdtempSync(join(tmpdir(), 'edge-lab-kh-')), 'known_hosts');
    writeFileSync(empty, '');
    const args = lab.sshArgs('r1').map((a) => (a.startsWith('UserKnownHostsFile=') ? `UserKnownHostsFile=${empty}` : a));
    const refused = spawnSync('ssh', [...args, 'true'], { encoding: 'utf8', timeout: 30_000 });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/Host key verification failed/);
  });

  it('routers configured themselves (networkd: DHCP on wan1, static wan2) and carry nothing of the failover design', T, async () => {
    for (const r of lab.plan.routers) {
      const defaults = await mainDefaults(r);
      expect(defaults).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ dev: 'wan1', gateway: r.isp1.gateway, metric: 100 }),
          expect.objectContaining({ dev: 'wan2', gateway: r.isp2.gateway, metric: 200 }),
        ]),
      );
      const routes = (await lab.run(r.name, ['ip', '-4', 'route', 'show', 'default'])).stdout;
      expect(routes).toMatch(/dev wan1 proto dhcp/);
      expect((await lab.run(r.name, ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe('0');
      expect((await lab.run(r.name, ['nft', 'list', 'ruleset'])).stdout.trim()).toBe('');
      expect((await lab.run(r.name, ['ip', 'rule'])).stdout.trim().split('\n')).toHaveLength(3);
      expect((await lab.run(r.name, ['systemctl', 'is-system-running'], { allowFail: true })).stdout.trim()).toBe('running');
    }
  });

  it('each router has control groups of its own: a unit stopped and started on one leaves the same unit on the others alone', T, async () => {
    // Sharing one group tree, r1's systemd failed to kill "its" group (it held r2's and r3's
    // processes too) and the next start failed with status=219/CGROUP.
    const unit = 'lab-cgroup-test.service';
    const names = lab.plan.routers.map((r) => r.name);
    const cgroupOf = (r: string) => readFileSync(`/proc/${leaderPid(readState(lab.paths)!.procs[r]!.pid!)}/cgroup`, 'utf8');
    expect(new Set(names.map(cgroupOf)).size).toBe(names.length);
    for (const r of names) await lab.run(r, ['systemd-run', `--unit=${unit}`, 'sleep', '600']);
    try {
      for (let i = 0; i < 3; i++) {
        await lab.run('r1', ['systemctl', 'stop', unit]);
        await lab.run('r1', ['systemd-run', `--unit=${unit}`, 'sleep', '600']);
      }
      for (const r of names) expect((await lab.run(r, ['systemctl', 'is-active', unit], { allowFail: true })).stdout.trim(), r).toBe('active');
    } finally {
      for (const r of names) await lab.run(r, ['systemctl', 'stop', unit], { allowFail: true });
    }
  });

  it('the inventory names every router, the lab key and known_hosts', T, async () => {
    const text = readFileSync(lab.inventory, 'utf8');
    for (const r of lab.plan.routers) expect(text).toContain(`ansible_host: ${r.mgmt.address}`);
    expect(text).toContain(`edge_known_hosts_file: ${lab.paths.knownHosts}`);
  });

  describe('faults, seen from the LAN client', () => {
    beforeAll(async () => {
      await enableForwarding('r1');
    }, 60_000);
    afterAll(async () => {
      await lab.fault('r1', 'wan1', { kind: 'clear' });
      await lab.fault('r1', 'wan2', { kind: 'clear' });
      await disableForwarding('r1');
    }, 120_000);

    it('baseline: new flows leave via wan1 (the preferred default route)', T, async () => {
      const p = await probeUntil('r1', (x) => x.via === 'wan1');
      expect(p.via).toBe('wan1');
      expect(p.flows.every((f) => f.seenAddress && f.seenAddress.startsWith('198.51.100.'))).toBe(true);
      expect(p.pings.every((g) => g.ok)).toBe(true);
    });

    it('wan1 link-down: the router loses carrier and its wan1 route; flows leave via wan2; clear brings wan1 back', T, async () => {
      await lab.fault('r1', 'wan1', { kind: 'link-down' });
      const down = await probeUntil('r1', (x) => x.via === 'wan2');
      expect(down.via).toBe('wan2');
      expect((await lab.run('r1', ['ip', 'link', 'show', 'wan1'])).stdout).toMatch(/NO-CARRIER|state DOWN|LOWERLAYERDOWN/);
      await lab.fault('r1', 'wan1', { kind: 'clear' });
      expect((await probeUntil('r1', (x) => x.via === 'wan1')).via).toBe('wan1');
    });

    it('wan1 upstream-cut: the link stays up, the route stays, and flows die (no failover without edge)', T, async () => {
      await lab.fault('r1', 'wan1', { kind: 'upstream-cut' });
      const cut = await lab.probe('r1', { count: 2, timeoutMs: 1_500 });
      expect(cut.via).toBe('none');
      expect(cut.pings.some((g) => g.ok)).toBe(false);
      expect((await mainDefaults(lab.router('r1'))).some((d) => d.dev === 'wan1')).toBe(true);
      await lab.fault('r1', 'wan1', { kind: 'clear' });
      expect((await probeUntil('r1', (x) => x.via === 'wan1')).via).toBe('wan1');
    });

    it('wan1 loss: 100 % drops every flow; a partial loss installs its share in ISP1', T, async () => {
      await lab.fault('r1', 'wan1', { kind: 'loss', pct: 100 });
      const lost = await lab.probe('r1', { count: 2, timeoutMs: 1_500 });
      expect(lost.via).toBe('none');
      expect(lost.pings.every((g) => !g.ok)).toBe(true);
      await lab.fault('r1', 'wan1', { kind: 'loss', pct: 30 });
      expect((await lab.run('r1-isp1', ['nft', 'list', 'table', 'inet', 'elab_fault'])).stdout).toMatch(/mod 100 < 30/);
      await lab.fault('r1', 'wan1', { kind: 'clear' });
      expect((await lab.run('r1-isp1', ['nft', 'list', 'ruleset'])).stdout.trim()).toBe('');
      expect((await probeUntil('r1', (x) => x.via === 'wan1')).via).toBe('wan1');
    });

    it('wan1 latency: the round trip grows by the delay, and shrinks back on clear', T, async () => {
      await lab.fault('r1', 'wan1', { kind: 'latency', ms: 300 });
      const slow = await lab.probe('r1', { count: 2, timeoutMs: 3_000 });
      expect(slow.via).toBe('wan1');
      for (const g of slow.pings) {
        expect(g.ok).toBe(true);
        expect(g.ms!).toBeGreaterThanOrEqual(300);
      }
      for (const f of slow.flows) expect(f.ms).toBeGreaterThanOrEqual(300);
      await lab.fault('r1', 'wan1', { kind: 'clear' });
      const fast = await lab.probe('r1', { count: 2 });
      for (const g of fast.pings) expect(g.ms!).toBeLessThan(100);
    });

    it('wan2 faults, with wan1 down so flows use wan2: upstream-cut kills them, latency slows them, link-down removes the route', T, async () => {
      await lab.fault('r1', 'wan1', { kind: 'link-down' });
      expect((await probeUntil('r1', (x) => x.via === 'wan2')).via).toBe('wan2');
      await lab.fault('r1', 'wan2', { kind: 'upstream-cut' });
      expect((await lab.probe('r1', { count: 2, timeoutMs: 1_500 })).via).toBe('none');
      await lab.fault('r1', 'wan2', { kind: 'clear' });
      await lab.fault('r1', 'wan2', { kind: 'latency', ms: 250 });
      const slow = await probeUntil('r1', (x) => x.via === 'wan2', 30_000);
      expect(slow.via).toBe('wan2');
      expect(Math.min(...slow.pings.map((g) => g.ms ?? 0))).toBeGreaterThanOrEqual(250);
      await lab.fault('r1', 'wan2', { kind: 'link-down' });
      await probeUntil('r1', (x) => x.via === 'none', 30_000);
      expect((await mainDefaults(lab.router('r1'))).some((d) => d.dev === 'wan2')).toBe(false);
      await lab.fault('r1', 'wan2', { kind: 'clear' });
      await lab.fault('r1', 'wan1', { kind: 'clear' });
      expect((await probeUntil('r1', (x) => x.via === 'wan1')).via).toBe('wan1');
      expect((await mainDefaults(lab.router('r1'))).map((d) => d.dev).sort()).toEqual(['wan1', 'wan2']);
    });

    it('a DHCP gateway change: ISP1 hands out its other address, the main table follows, traffic still flows', T, async () => {
      const r = lab.router('r1');
      await lab.gateway('r1', 'alternate');
      const d = (await mainDefaults(r)).find((x) => x.dev === 'wan1');
      expect(d?.gateway).toBe(r.isp1.altGateway);
      expect((await mainDefaults(r)).filter((x) => x.dev === 'wan1')).toHaveLength(1);
      expect((await probeUntil('r1', (x) => x.via === 'wan1')).via).toBe('wan1');
      await lab.gateway('r1', 'primary');
      expect((await mainDefaults(r)).find((x) => x.dev === 'wan1')?.gateway).toBe(r.isp1.gateway);
    });
  });

  it('a reboot keeps the router\'s files and starts its kernel state afresh', T, async () => {
    await lab.run('r2', ['sh', '-c', 'echo kept > /root/lab-reboot-test && sysctl -q -w net.ipv4.ip_forward=1']);
    const before = readState(lab.paths)!.procs.r2!.pid;
    await lab.reboot('r2');
    expect(readState(lab.paths)!.procs.r2!.pid).not.toBe(before); // a new container, a new systemd
    expect((await lab.run('r2', ['cat', '/root/lab-reboot-test'])).stdout.trim()).toBe('kept');
    expect((await lab.run('r2', ['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim()).toBe('0');
    const ssh = spawnSync('ssh', [...lab.sshArgs('r2'), 'cat /root/lab-reboot-test'], { encoding: 'utf8', timeout: 30_000 });
    expect(ssh.stdout.trim()).toBe('kept');
    expect((await mainDefaults(lab.router('r2'))).some((x) => x.dev === 'wan1')).toBe(true);
  });

  it('up on a running lab reconciles without restarting anything', T, async () => {
    const pids = Object.fromEntries(Object.entries(lab.state.procs).map(([k, v]) => [k, v.pid]));
    const again = await ensureLab(3, { instance: INSTANCE });
    for (const r of ['r1', 'r3']) expect(again.state.procs[r]!.pid).toBe(pids[r]);
    expect(again.state.procs.whoami!.pid).toBe(pids.whoami);
  });

  it('down leaves nothing of the lab', T, async () => {
    await labDown({ instance: INSTANCE });
    expect(await labLeftovers(INSTANCE)).toEqual({ netns: [], links: [], mounts: [], processes: [], cgroups: [], stateDir: false });
  });
});

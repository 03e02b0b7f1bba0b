import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';
import { addressOf, applyFailover, conntrack, healthyIsps, report, waitSettled } from './helpers.js';

/**
 * Issue 4, scenarios 1 and 10 on lab r1: after the failover playbook, normal LAN traffic leaves by
 * WAN1 with WAN1's address and its replies come back; SSH over the management interface still works.
 */
describe.skipIf(!isRoot)('failover playbook: normal traffic and management access (r1)', () => {
  let lab: Lab;
  const router = 'r1';
  let applied: Awaited<ReturnType<typeof applyFailover>>;

  beforeAll(async () => {
    lab = await ensureLab();
    await healthyIsps(lab, router);
    applied = await applyFailover(lab, [router]);
    await waitSettled(lab, router);
  });

  it('1. new TCP and ICMP flows from the LAN leave by WAN1 with its address, and replies arrive', async () => {
    const wan1 = await addressOf(lab, router, 'wan1');
    expect(wan1).toBeDefined();
    const r = lab.router(router);

    const natCounters = async () => {
      const rules = (await lab.run(router, ['nft', 'list', 'chain', 'inet', 'edge', 'postrouting'])).stdout;
      const pk = (c: string) => Number(new RegExp(`counter packets ([0-9]+) bytes [0-9]+ masquerade comment "${c}"`).exec(rules)?.[1] ?? NaN);
      return { wan1: pk('NAT WAN1'), wan2: pk('NAT WAN2') };
    };
    const nat1 = await natCounters();

    // TCP: every new flow is answered, and the internet saw WAN1's address.
    const t0 = Date.now();
    const p = await lab.probe(router, { count: 5, timeoutMs: 2_000 });
    expect(p.via).toBe('wan1');
    expect(p.flows.every((f) => !f.error && f.seenAddress === wan1), JSON.stringify(p.flows)).toBe(true);
    expect(p.pings.every((g) => g.ok), JSON.stringify(p.pings)).toBe(true);
    report('1 normal traffic', `5/5 TCP flows via wan1 as ${wan1} (${Date.now() - t0} ms, slowest ${Math.max(...p.flows.map((f) => f.ms))} ms); pings ${p.pings.map((g) => `${g.target} ${g.ms} ms`).join(', ')}`);

    // ICMP: replies arrive at the client, and the router NATed the echo to WAN1's address with WAN1's mark.
    // (Entries of earlier pings, from a test that ended on WAN2, live 30 s: start from none.)
    await lab.run(router, ['conntrack', '-D', '-p', 'icmp', '-s', r.lan.client], { allowFail: true });
    const ping = await lab.run(`${router}-lan`, ['ping', '-n', '-c', '3', '-i', '0.2', '-W', '1', '192.0.2.1']);
    expect(ping.stdout).toMatch(/3 packets transmitted, 3 received/);
    const icmp = await conntrack(lab, router, ['-p', 'icmp', '-s', r.lan.client, '-d', '192.0.2.1']);
    expect(icmp.length, 'no conntrack entry for the LAN ping').toBeGreaterThan(0);
    for (const e of icmp) {
      expect(e).toContain(`dst=${wan1} `); // reply tuple: the internet answered WAN1's address
      expect(e).toMatch(/mark=1\b/);
    }
    report('1 normal traffic', `ICMP 3/3 replies; conntrack: ${icmp[0]!.replace(/\s+/g, ' ')}`);

    // The NAT counters an operator watches: WAN1's counted these new LAN flows, WAN2's did not move
    // (the router's own health checks of WAN2 go on meanwhile and are not counted).
    const nat2 = await natCounters();
    report('1 normal traffic', `NAT counters: WAN1 +${nat2.wan1 - nat1.wan1} flows, WAN2 +${nat2.wan2 - nat1.wan2}`);
    expect(nat2.wan1 - nat1.wan1).toBeGreaterThanOrEqual(6); // 5 TCP flows + the ping
    expect(nat2.wan2 - nat1.wan2).toBe(0);

    // Replies to LAN clients route to the LAN by main (never back out of a WAN: the guide's defect 6),
    // marked or not; the router's own WAN1-sourced traffic uses table wan1.
    for (const mark of ['0', '0x1', '0x2']) {
      const g = await lab.run(router, ['ip', 'route', 'get', r.lan.client, 'from', '192.0.2.1', 'iif', 'wan1', 'mark', mark]);
      expect(g.stdout, `reply to the LAN with mark ${mark}`).toMatch(new RegExp(`^${r.lan.client.replace(/\./g, '\\.')} from 192\\.0\\.2\\.1 dev lan0`));
    }
    const own = await lab.run(router, ['ip', 'route', 'get', '192.0.2.1', 'from', wan1!]);
    expect(own.stdout).toMatch(/ dev wan1 /);
    expect(own.stdout).toMatch(/table wan1/);
  }, 60_000);

  it('10. SSH over the management interface still works after apply, with a fresh connection', async () => {
    // The run itself confirmed every host over a NEW connection after its last change.
    expect(applied.hosts.find((h) => h.host === router)?.state).toMatch(/^(confirmed|unchanged)$/);

    const ssh = (args: string[], ns?: string) =>
      new Promise<{ code: number | null; out: string; ms: number }>((resolve) => {
        const t0 = Date.now();
        const argv = ns ? ['ip', 'netns', 'exec', ns, 'ssh', ...args] : ['ssh', ...args];
        const c = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.stderr.on('data', (d: Buffer) => (out += d.toString()));
        c.on('close', (code) => resolve({ code, out, ms: Date.now() - t0 }));
      });

    // A fresh ssh from the lab host over mgmt0, strict host-key checking.
    const mgmt = await ssh([...lab.sshArgs(router), 'nft list chain inet edge input | grep -c accept; hostname']);
    expect(mgmt.code, mgmt.out).toBe(0);
    expect(mgmt.out).toContain(router);
    report('10 ssh', `fresh ssh over mgmt0 (${lab.router(router).mgmt.address}) in ${mgmt.ms} ms`);

    // From the LAN (an allowed source) it works too; from the internet side of WAN1 it does not.
    const hostKeyAlias = ['-o', `HostKeyAlias=${lab.router(router).mgmt.address}`];
    const base = lab.sshArgs(router).slice(0, -1); // options and key, without the destination
    const r = lab.router(router);
    const fromLan = await ssh([...base, ...hostKeyAlias, `root@${r.lan.router}`, 'true'], r.lanNs);
    expect(fromLan.code, fromLan.out).toBe(0);
    const wan1 = await addressOf(lab, router, 'wan1');
    const fromIsp = await ssh([...base.map((a) => (a === 'ConnectTimeout=10' ? 'ConnectTimeout=3' : a)), ...hostKeyAlias, `root@${wan1}`, 'true'], r.isp1.ns);
    expect(fromIsp.code, fromIsp.out).not.toBe(0);
    expect(fromIsp.out).toMatch(/timed out/i);
    report('10 ssh', `from the LAN client: ok (${fromLan.ms} ms); from ISP1 to ${wan1}: refused by timeout (${fromIsp.ms} ms)`);
  }, 60_000);
});

import { beforeAll, describe, expect, it } from 'vitest';
import { containsAddress6, ip6ToBig } from '../../../src/ipv6.js';
import { edge } from '../edge-cli.js';
import { isRoot, type Lab } from '../lab-fixture.js';
import { flowBatch } from './flow-batch.js';
import { healthyIsps, pollFor, report, runPlaybook, timingOf, waitSettled } from './helpers.js';
import { type Ipv6Lab, type Isp, useIpv6Router } from './ipv6-helpers.js';

/**
 * Issue 23, translated IPv6 on lab r1 (edge_ipv6_mode translated): the LAN client takes an address
 * of the router's ULA by SLAAC (edge's radvd), its new IPv6 flows leave WAN1 as WAN1's delegated
 * prefix (NPTv6, the interface identifier kept: a 1:1 mapping), move to WAN2 on a WAN1 upstream cut
 * and come back after the rise; an IPv6-only cut of WAN1 moves IPv6 alone (IPv4 stays), the router's
 * own traffic following each family. An nft counter in each ISP namespace sees every IPv6 packet that
 * arrives from the router with a ULA source or the other ISP's prefix: it must stay 0. The run is
 * rolled back with edge's rollback and the router is as before, byte for byte. Then issue 24's
 * balance and steering for IPv6: an IPv6-only cut of one WAN takes every new IPv6 flow off it while
 * IPv4 keeps both, and an IPv6 `only` rule drops while its WAN's IPv6 is down. Last, a reboot with
 * WAN1 cut comes up with IPv6 on WAN2 and returns to WAN1 after the repair.
 */
const router = 'r1';

describe.skipIf(!isRoot)('translated IPv6: NPTv6 per WAN, failover with IPv4, no leak (r1)', () => {
  const ctx = useIpv6Router(router);
  let lab: Lab;
  let six: Ipv6Lab;
  beforeAll(() => {
    ({ lab, six } = ctx);
  });
  const { rollback } = ctx;
  let runId = '';
  const delegated = (isp: Isp) => six.delegated(isp);
  const waitVia = (...a: Parameters<Ipv6Lab['waitVia']>) => six.waitVia(...a);
  const ownTrafficVia = (addr: string, wan: 'wan1' | 'wan2') => six.ownTrafficVia(addr, wan);
  const lanIpv6 = () => six.lanIpv6();
  /** The LAN client's global address in the router's LAN ULA (SLAAC from edge's radvd). */
  const clientUla = () => six.clientAddressIn(lab.router(router).lan.ula);

  /** RFC 6296's 1:1 mapping: the address seen outside is the client's, its prefix replaced by `mapped`'s. */
  function expectMapped(seen: string | undefined, client: string, within: string[]): void {
    expect(seen, 'whoami saw no IPv6 source').toBeDefined();
    expect(within.some((p) => containsAddress6(p, seen!)), `${seen} not in ${within.join(', ')}`).toBe(true);
    const low = (a: string) => ip6ToBig(a)! & ((1n << 64n) - 1n);
    expect(low(seen!), `${seen} does not keep ${client}'s interface identifier`).toBe(low(client));
  }

  it('the LAN gets IPv6, leaves WAN1 translated, moves to WAN2 on an upstream cut and back; 0 leaks; rollback exact', async () => {
    const run = await ctx.apply({ edge_ipv6_mode: 'translated' });
    runId = run.result.runId;
    const notes = run.result.hosts[0]!.tasks.flatMap((t) => t.notes ?? []);
    expect(notes.join('\n')).toMatch(/IPv6 translated: LAN /);
    await waitSettled(lab, router);

    // Second run: nothing to change.
    const second = await runPlaybook(lab, [router], '-e', JSON.stringify({ edge_ipv6_mode: 'translated' }), '--detailed-exitcode');
    expect(second.code, second.result.hosts[0]!.tasks.flatMap((t) => t.changes.map((c) => `${t.task}: ${c.summary}`)).join('\n')).toBe(0);

    // SLAAC from edge's radvd (its first advertisements follow its start within seconds).
    const { value: client, ms: slaacMs } = await pollFor('a SLAAC address from the router', 60_000, clientUla, 1_000);
    const t = timingOf(lab, router);
    // The router hears its own radvd (multicast loops back) and networkd takes advertisements on
    // lan0 by default: without the input chain's guard it has an address of its own LAN prefix,
    // one a goodbye advertisement brings back after the run that turns IPv6 off removed it.
    const own = await lab.run(router, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'lan0', 'dynamic']);
    expect(own.stdout.trim(), 'the router configured its LAN from its own advertisements').toBe('');

    const up = await waitVia('new IPv6 flows via wan1', 30_000, 'wan1');
    for (const f of up.value.v6.flows) expectMapped(f.seenAddress, client, delegated('isp1'));

    await lab.fault(router, 'wan1', { kind: 'upstream-cut' });
    const cut = await waitVia('new IPv6 flows via wan2 after the cut', t.fallWindow * 1000 + 30_000, 'wan2');
    for (const f of cut.value.v6.flows) expectMapped(f.seenAddress, client, delegated('isp2'));

    await lab.fault(router, 'wan1', { kind: 'clear' });
    const back = await waitVia('new IPv6 flows via wan1 after the repair', t.riseWindow * 1000 + 30_000, 'wan1');
    for (const f of back.value.v6.flows) expectMapped(f.seenAddress, client, delegated('isp1'));

    // IPv6 alone fails on WAN1 (its IPv4 works): IPv6 moves, IPv4 stays, and the router's own
    // traffic follows each family's choice.
    await lab.fault(router, 'wan1', { kind: 'upstream-cut6' });
    const only6 = await pollFor('new IPv6 flows via wan2 while IPv4 stays on wan1', t.fallWindow * 1000 + 30_000, async () => {
      const p = await lab.probe(router, { count: 3, timeoutMs: 1_500 });
      return p.v6.via === 'wan2' && p.via === 'wan1' && p.v6.flows.every((f) => f.seenAddress) ? p : undefined;
    }, 500);
    for (const f of only6.value.v6.flows) expectMapped(f.seenAddress, client, delegated('isp2'));
    const st = (await lab.run(router, ['edge-failover', 'status'])).stdout;
    expect(st).toMatch(/^preferred=wan1$/m);
    expect(st).toMatch(/^preferred6=wan2$/m);
    expect(st).toMatch(/^wan1\.v6\.state=down$/m);
    await ownTrafficVia('2001:db8:ffff::80', 'wan2');
    await ownTrafficVia('192.0.2.80', 'wan1');
    await lab.fault(router, 'wan1', { kind: 'clear' });
    const back6 = await waitVia('new IPv6 flows via wan1 after the IPv6 repair', t.riseWindow * 1000 + 30_000, 'wan1');
    await ownTrafficVia('2001:db8:ffff::80', 'wan1');
    const history = (await lab.run(router, ['edge-failover', 'history'])).stdout;
    expect(history, 'the IPv6 switches are in the history, as IPv6').toMatch(/wan1 -> wan2 .* IPv6 wan1 down: /);

    const seen = await six.leaks();
    report(
      '23 translated',
      `client ${client} (SLAAC after ${slaacMs} ms); wan1 as ${up.value.v6.flows[0]?.seenAddress}; cut → wan2 (${cut.value.v6.flows[0]?.seenAddress}) after ${cut.ms} ms; repair → wan1 after ${back.ms} ms; IPv6-only cut → IPv6 on wan2 after ${only6.ms} ms, back after ${back6.ms} ms; ISP leak counters ${JSON.stringify(seen)}`,
    );
    expect(Object.keys(seen).sort()).toEqual(['isp1.other', 'isp1.ula', 'isp2.other', 'isp2.ula']);
    expect(seen).toEqual({ 'isp1.other': 0, 'isp1.ula': 0, 'isp2.other': 0, 'isp2.ula': 0 });

    // IPv6 turned off by a later run: the LAN address, the addresses and routes edge's radvd made
    // on the LAN go with it (routing.conf no longer names them); its rollback brings them back.
    const off = await ctx.apply();
    expect(await lanIpv6(), 'IPv6 on the LAN outlived edge_ipv6_mode off').toBe('');
    const rbOff = await rollback(off.result.runId);
    expect(rbOff.code, rbOff.stderr.slice(-2000)).toBe(0);
    await pollFor('the LAN address back after the rollback of the run that turned IPv6 off', 30_000, async () => ((await lanIpv6()).includes(' fd00:') || undefined));

    const rb = await rollback(runId);
    expect(rb.code, rb.stderr.slice(-2000)).toBe(0);
    const strip = (s: string) => s.replace(/counter packets \d+ bytes \d+/g, 'counter');
    expect(strip(await ctx.settledState())).toBe(strip(ctx.before));
    const lan6 = await lab.run(router, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'lan0', 'scope', 'global']);
    expect(lan6.stdout.trim(), 'the LAN address edge added outlived the rollback').toBe('');
  }, 600_000);

  it('balance and an IPv6 steering rule: each family leaves a WAN by its own probes; the only-rule drops while its WAN\'s IPv6 is down', async () => {
    const guest6 = lab.router(router).lan.ula.replace(/::\/64$/, '::66');
    const vars = {
      edge_ipv6_mode: 'translated',
      edge_wan_mode: 'balance',
      edge_steering: [{ name: 'guest6', source: `${guest6}/128`, action: 'wan2', on_down: 'only' }],
    };
    await ctx.apply(vars);
    await waitSettled(lab, router);
    const { value: client } = await pollFor('a SLAAC address from the router', 60_000, clientUla, 1_000);
    const dev = (await lab.run(`${router}-lan`, ['ip', '-o', '-6', 'addr', 'show', 'scope', 'global'])).stdout.split(/\s+/)[1]!;
    await lab.run(`${router}-lan`, ['ip', '-6', 'addr', 'replace', `${guest6}/64`, 'dev', dev, 'nodad']);
    const t = timingOf(lab, router);
    try {
      const both = await flowBatch(lab, router, { count: 100, from: client });
      expect(both.failed, JSON.stringify(both)).toBe(0);
      expect(Math.min(both.wan1, both.wan2), `1:1 over IPv6: ${JSON.stringify(both)}`).toBeGreaterThanOrEqual(25);
      expect(await flowBatch(lab, router, { count: 10, from: guest6 })).toMatchObject({ wan2: 10, failed: 0 });

      // WAN1's IPv6 dies, its IPv4 works: every new IPv6 flow leaves it; IPv4 keeps balancing over both.
      await lab.fault(router, 'wan1', { kind: 'upstream-cut6' });
      const moved = await pollFor('every new IPv6 flow via wan2', t.fallWindow * 1000 + 30_000, async () => {
        const b = await flowBatch(lab, router, { count: 10, from: client, timeoutMs: 2_000 });
        return b.wan2 === 10 ? b : undefined;
      }, 500);
      const v4 = await flowBatch(lab, router, { count: 60 });
      expect(v4.failed, JSON.stringify(v4)).toBe(0);
      expect(v4.wan1, `IPv4 still balanced while only WAN1's IPv6 is down: ${JSON.stringify(v4)}`).toBeGreaterThan(0);
      const st = await edge(['status', '-i', lab.inventory, '--limit', router, '--json']);
      const policy = (JSON.parse(st.stdout) as { hosts: { policy?: { avoided: string[]; avoided6?: string[] } }[] }).hosts[0]!.policy;
      expect(policy).toMatchObject({ avoided: [], avoided6: ['wan1'] });
      await lab.fault(router, 'wan1', { kind: 'clear' });
      await pollFor('new IPv6 flows on wan1 again', t.riseWindow * 1000 + 30_000, async () => ((await flowBatch(lab, router, { count: 20, from: client })).wan1 > 0 || undefined), 500);

      // WAN2's IPv6 dies: the guest's IPv6 flows are dropped (never WAN1), the others go by WAN1.
      await lab.fault(router, 'wan2', { kind: 'upstream-cut6' });
      const dropped = await pollFor('the guest\'s IPv6 flows dropped', t.fallWindow * 1000 + 30_000, async () => {
        const b = await flowBatch(lab, router, { count: 5, from: guest6, timeoutMs: 2_000 });
        return b.failed === 5 ? b : undefined;
      }, 500);
      expect(await flowBatch(lab, router, { count: 20, from: client })).toMatchObject({ wan1: 20, failed: 0 });
      await lab.fault(router, 'wan2', { kind: 'clear' });
      await pollFor('the guest\'s IPv6 flows via wan2 again', t.riseWindow * 1000 + 30_000, async () => {
        const b = await flowBatch(lab, router, { count: 5, from: guest6, timeoutMs: 2_000 });
        return b.wan2 === 5 ? b : undefined;
      }, 500);
      report('24 IPv6', `balance 1:1 over IPv6 ${JSON.stringify(both)}; WAN1 IPv6 cut → all IPv6 on wan2 after ${moved.ms} ms, IPv4 ${JSON.stringify(v4)}; WAN2 IPv6 cut → guest6 dropped after ${dropped.ms} ms`);
    } finally {
      await healthyIsps(lab, router);
      await lab.run(`${router}-lan`, ['ip', '-6', 'addr', 'del', `${guest6}/64`, 'dev', dev], { allowFail: true });
    }
  }, 600_000);

  it('the ISP renumbers: the router follows the new delegated prefix at once (NPTv6, leak guard), nothing leaks; the next run renders it, the one after changes nothing', async () => {
    const vars = { edge_ipv6_mode: 'translated' };
    await ctx.apply(vars);
    await waitSettled(lab, router);
    const { value: client } = await pollFor('a SLAAC address from the router', 60_000, clientUla, 1_000);
    const [primary, alternate] = delegated('isp1') as [string, string];
    const up = await waitVia('new IPv6 flows via wan1', 30_000, 'wan1');
    for (const f of up.value.v6.flows) expectMapped(f.seenAddress, client, [primary]);
    const onPrefix = (prefix: string) => async () => {
      const p = await lab.probe(router, { count: 3, timeoutMs: 1_500 });
      const ok = p.v6.via === 'wan1' && p.v6.flows.length > 0 && p.v6.flows.every((f) => f.seenAddress && containsAddress6(prefix, f.seenAddress));
      return ok ? p : undefined;
    };
    let renumbered = 0;
    let followMs = 0;
    const renumberedOf = async () => {
      const st = await edge(['status', '-i', lab.inventory, '--limit', router, '--json']);
      return (JSON.parse(st.stdout) as { hosts: { ipv6?: { renumbered?: { wan: string; rendered: string; now: string }[] } }[] }).hosts[0]!.ipv6?.renumbered;
    };
    try {
      const t0 = Date.now();
      await lab.prefix(router, 'wan1', 'alternate');
      const moved = await pollFor(`new IPv6 flows from WAN1's new prefix ${alternate}`, 30_000, onPrefix(alternate), 500);
      renumbered = Date.now() - t0;
      for (const f of moved.value.v6.flows) expectMapped(f.seenAddress, client, [alternate]);
      followMs = await six.prefixFollowMs(alternate);
      expect((await renumberedOf()) ?? [], 'edge status does not say the router follows a prefix the last run did not render').toEqual([
        expect.objectContaining({ wan: 'wan1', rendered: primary, now: alternate }),
      ]);
      const ruleset = (await lab.run(router, ['nft', 'list', 'table', 'inet', 'edge'])).stdout;
      expect(ruleset, 'the ruleset still names the old prefix').not.toContain(primary.replace(/::\/56$/, '::/'));
      expect(ruleset).toMatch(new RegExp(`snat ip6 prefix to ${alternate.replace(/::\/56$/, '::/64')} comment "NPTv6 WAN1"`));

      // The next run renders what the router follows; the one after changes nothing.
      await ctx.apply(vars);
      const again = await runPlaybook(lab, [router], '-e', JSON.stringify(vars), '--detailed-exitcode');
      expect(again.code, again.result.hosts[0]!.tasks.flatMap((t) => t.changes.map((c) => `${t.task}: ${c.summary}`)).join('\n')).toBe(0);
      for (const f of (await waitVia('new IPv6 flows via wan1 after the run', 30_000, 'wan1')).value.v6.flows) expectMapped(f.seenAddress, client, [alternate]);
      expect(await renumberedOf(), 'edge status still says the router follows a prefix the run rendered').toBeUndefined();
    } finally {
      await lab.prefix(router, 'wan1', 'primary');
    }
    // Renumbered back, under a routing.conf that names the alternate prefix now: followed the same way.
    const back = await pollFor(`new IPv6 flows from WAN1's prefix ${primary} again`, 30_000, onPrefix(primary), 500);
    for (const f of back.value.v6.flows) expectMapped(f.seenAddress, client, [primary]);
    const seen = await six.leaks();
    report('23 translated, prefix change', `WAN1 renumbered ${primary} → ${alternate}: the router's ruleset followed ${followMs} ms after its DHCPv6 client had the prefix; new IPv6 flows leave as the new prefix ${renumbered} ms after the ISP began (the link's reconnect and the failover it causes included); back after ${back.ms} ms; ISP leak counters ${JSON.stringify(seen)}`);
    expect(seen).toEqual({ 'isp1.other': 0, 'isp1.ula': 0, 'isp2.other': 0, 'isp2.ula': 0 });
  }, 600_000);

  it('a reboot with WAN1 cut: after the boot new IPv6 flows leave by WAN2, translated, and by WAN1 once it is repaired', async () => {
    await ctx.rebootWithWan1Cut({
      vars: { edge_ipv6_mode: 'translated' },
      label: '23 reboot, WAN1 cut',
      flows: 'new IPv6 and IPv4 flows',
      clientWhat: 'a SLAAC address from the router',
      client: clientUla,
      seen: (address, client, isp) => expectMapped(address, client, delegated(isp)),
    });
  }, 600_000);
});

import { beforeAll, describe, expect, it } from 'vitest';
import { containsAddress6, formatPrefix6, parsePrefix6, subnet6 } from '../../../src/ipv6.js';
import { isRoot, type Lab } from '../lab-fixture.js';
import { pollFor, report, runPlaybook, timingOf, waitSettled } from './helpers.js';
import { type Ipv6Lab, type Isp, useIpv6Router } from './ipv6-helpers.js';

/**
 * Issue 23, native IPv6 on lab r1 (edge_ipv6_mode native, RFC 8475): edge's radvd announces a /64
 * of each ISP's delegated prefix on the LAN and the client takes an address in each by SLAAC. In
 * failover mode WAN2's prefix is deprecated (preferred lifetime 0) while WAN1 carries new flows, so
 * the client's new IPv6 flows leave WAN1 from its address in WAN1's prefix, untranslated (the
 * whoami sees exactly that address); a WAN1 upstream cut deprecates WAN1's prefix instead and new
 * flows leave WAN2 from the other address; they come back after the rise. An IPv6-only cut moves
 * IPv6 alone. The ISPs' leak counters (a ULA source, the other ISP's prefix) stay 0. A second run
 * changes nothing, and the rollback leaves the router as before, byte for byte.
 */
const router = 'r1';
const vars = JSON.stringify({ edge_ipv6_mode: 'native' });

describe.skipIf(!isRoot)('native IPv6: each ISP\'s prefix on the LAN, the failed one deprecated, no leak (r1)', () => {
  const ctx = useIpv6Router(router);
  let lab: Lab;
  let six: Ipv6Lab;
  beforeAll(() => {
    ({ lab, six } = ctx);
  });
  const { rollback } = ctx;
  /** The /64 of ISPn's delegated prefix that edge announces on the LAN (edge_ipv6_subnet 0). */
  const lan64 = (isp: Isp) => formatPrefix6(subnet6(parsePrefix6(six.delegated(isp)[0]!)!, 64, 0)!);
  /** The client's SLAAC address in each ISP's /64, once it has both. */
  const clientPair = async () => {
    const [a1, a2] = [await six.clientAddressIn(lan64('isp1')), await six.clientAddressIn(lan64('isp2'))];
    return a1 && a2 ? { isp1: a1, isp2: a2 } : undefined;
  };
  const deprecated = async (address: string) => (await six.clientAddresses()).find((a) => a.address === address)?.deprecated;

  it('both prefixes by SLAAC; new flows from WAN1\'s, to WAN2\'s on an upstream cut and back; IPv6 alone on an IPv6 cut; 0 leaks; rollback exact', async () => {
    const run = await ctx.apply({ edge_ipv6_mode: 'native' });
    const notes = run.result.hosts[0]!.tasks.flatMap((t) => t.notes ?? []).join('\n');
    expect(notes).toContain(`IPv6 native: ${lan64('isp1')} on the LAN leaves by WAN1, ${lan64('isp2')} on the LAN leaves by WAN2`);
    await waitSettled(lab, router);
    const second = await runPlaybook(lab, [router], '-e', vars, '--detailed-exitcode');
    expect(second.code, second.result.hosts[0]!.tasks.flatMap((t) => t.changes.map((c) => `${t.task}: ${c.summary}`)).join('\n')).toBe(0);

    const { value: client, ms: slaacMs } = await pollFor('a SLAAC address in each ISP\'s prefix', 60_000, clientPair, 1_000);
    const t = timingOf(lab, router);
    // Failover mode: WAN2 is standby, its prefix deprecated on the LAN.
    await pollFor('the client\'s WAN2 address deprecated', 30_000, async () => (await deprecated(client.isp2)) || undefined);
    expect(await deprecated(client.isp1)).toBe(false);
    const up = await six.waitVia('new IPv6 flows via wan1', 30_000, 'wan1');
    for (const f of up.value.v6.flows) expect(f.seenAddress, 'native: whoami sees the client\'s own address').toBe(client.isp1);

    await lab.fault(router, 'wan1', { kind: 'upstream-cut' });
    const cut = await six.waitVia('new IPv6 flows via wan2 after the cut', t.fallWindow * 1000 + 30_000, 'wan2');
    for (const f of cut.value.v6.flows) expect(f.seenAddress).toBe(client.isp2);
    expect(await deprecated(client.isp1), 'WAN1\'s prefix deprecated after the cut').toBe(true);
    expect(await deprecated(client.isp2)).toBe(false);
    // the switcher's line, or keepalived's notify handler's (the other path; it logs by logger) when it switched first
    const journal = (await lab.run(router, ['journalctl', '-b', '--no-pager', '-o', 'cat'])).stdout;
    expect(journal).toContain("router advertisements: new IPv6 LAN flows on wan2's prefix (radvd reloaded)");

    await lab.fault(router, 'wan1', { kind: 'clear' });
    const back = await six.waitVia('new IPv6 flows via wan1 after the repair', t.riseWindow * 1000 + 30_000, 'wan1');
    for (const f of back.value.v6.flows) expect(f.seenAddress).toBe(client.isp1);

    // IPv6 alone fails on WAN1: IPv6 moves, IPv4 stays; the router's own traffic follows each family.
    await lab.fault(router, 'wan1', { kind: 'upstream-cut6' });
    const only6 = await pollFor('new IPv6 flows via wan2 while IPv4 stays on wan1', t.fallWindow * 1000 + 30_000, async () => {
      const p = await lab.probe(router, { count: 3, timeoutMs: 1_500 });
      return p.v6.via === 'wan2' && p.via === 'wan1' && p.v6.flows.every((f) => f.seenAddress) ? p : undefined;
    }, 500);
    await six.ownTrafficVia('2001:db8:ffff::80', 'wan2');
    await six.ownTrafficVia('192.0.2.80', 'wan1');
    await lab.fault(router, 'wan1', { kind: 'clear' });
    const back6 = await six.waitVia('new IPv6 flows via wan1 after the IPv6 repair', t.riseWindow * 1000 + 30_000, 'wan1');

    const seen = await six.leaks();
    report(
      '23 native',
      `client ${client.isp1} and ${client.isp2} (SLAAC after ${slaacMs} ms); cut → wan2 after ${cut.ms} ms; repair → wan1 after ${back.ms} ms; IPv6-only cut → IPv6 on wan2 after ${only6.ms} ms, back after ${back6.ms} ms; ISP leak counters ${JSON.stringify(seen)}`,
    );
    expect(seen).toEqual({ 'isp1.other': 0, 'isp1.ula': 0, 'isp2.other': 0, 'isp2.ula': 0 });

    // Steering IPv6 cannot work natively (the source decides the WAN): refused, nothing changed.
    const steer = await runPlaybook(lab, [router], '-e', JSON.stringify({ edge_ipv6_mode: 'native', edge_steering: [{ name: 'v6', destination: '2001:db8:ffff::/48', action: 'wan2' }] }));
    expect(steer.code).not.toBe(0);
    expect(JSON.stringify(steer.result)).toContain('IPv6 is native on this host');

    const rb = await rollback(run.result.runId);
    expect(rb.code, rb.stderr.slice(-2000)).toBe(0);
    const strip = (s: string) => s.replace(/counter packets \d+ bytes \d+/g, 'counter');
    expect(strip(await ctx.settledState())).toBe(strip(ctx.before));
    const lan6 = await lab.run(router, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'lan0', 'scope', 'global']);
    expect(lan6.stdout.trim(), 'LAN addresses outlived the rollback').toBe('');
    // radvd's last advertisement (DeprecatePrefix) told the client to stop choosing either address:
    // otherwise it would go on using them for hours with no router to route them.
    await pollFor('both of the client\'s native addresses deprecated after the rollback', 30_000, async () =>
      (await deprecated(client.isp1)) && (await deprecated(client.isp2)) ? true : undefined,
    );
    expect(containsAddress6(lan64('isp1'), client.isp1)).toBe(true);
  }, 600_000);

  it('the ISP renumbers: the router announces a /64 of the new prefix and deprecates the old, new flows leave from the client\'s address in it; the next run renders it, the one after changes nothing', async () => {
    await ctx.apply({ edge_ipv6_mode: 'native' });
    await waitSettled(lab, router);
    const { value: client } = await pollFor('a SLAAC address in each ISP\'s prefix', 60_000, clientPair, 1_000);
    const [primary, alternate] = six.delegated('isp1') as [string, string];
    const alt64 = formatPrefix6(subnet6(parsePrefix6(alternate)!, 64, 0)!);
    const routerAddress = (p64: string) => p64.replace(/\/64$/, '1/64');
    await pollFor('the client\'s WAN1 address preferred', 60_000, async () => ((await deprecated(client.isp1)) === false ? true : undefined), 500);
    const up = await six.waitVia('new IPv6 flows via wan1', 30_000, 'wan1');
    for (const f of up.value.v6.flows) expect(f.seenAddress).toBe(client.isp1);
    let renumbered = 0;
    let followMs = 0;
    let fresh = '';
    try {
      const t0 = Date.now();
      await lab.prefix(router, 'wan1', 'alternate');
      fresh = (await pollFor(`a SLAAC address in WAN1's new ${alt64}`, 60_000, () => six.clientAddressIn(alt64), 500)).value;
      await pollFor('the client\'s address in the old prefix deprecated', 30_000, async () => (await deprecated(client.isp1)) || undefined, 500);
      await pollFor('new IPv6 flows via wan1 from the address in the new prefix', 60_000, async () => {
        const p = await lab.probe(router, { count: 3, timeoutMs: 1_500 });
        return p.v6.via === 'wan1' && p.v6.flows.length > 0 && p.v6.flows.every((f) => f.seenAddress === fresh) ? p : undefined;
      }, 500);
      renumbered = Date.now() - t0;
      followMs = await six.prefixFollowMs(alternate);
      const lan = (await lab.run(router, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'lan0', 'scope', 'global'])).stdout;
      expect(lan).toContain(` ${routerAddress(alt64)} `);
      expect(lan).not.toContain(` ${routerAddress(lan64('isp1'))} `);

      // The next run renders what the router follows; the one after changes nothing.
      await ctx.apply({ edge_ipv6_mode: 'native' });
      const again = await runPlaybook(lab, [router], '-e', vars, '--detailed-exitcode');
      expect(again.code, again.result.hosts[0]!.tasks.flatMap((t) => t.changes.map((c) => `${t.task}: ${c.summary}`)).join('\n')).toBe(0);
      for (const f of (await six.waitVia('new IPv6 flows via wan1 after the run', 30_000, 'wan1')).value.v6.flows) expect(f.seenAddress).toBe(fresh);
    } finally {
      await lab.prefix(router, 'wan1', 'primary');
    }
    // Renumbered back: the client's first address is preferred again and carries new flows.
    const back = await pollFor('new IPv6 flows from the address in WAN1\'s first prefix again', 60_000, async () => {
      const p = await lab.probe(router, { count: 3, timeoutMs: 1_500 });
      return p.v6.via === 'wan1' && p.v6.flows.length > 0 && p.v6.flows.every((f) => f.seenAddress === client.isp1) ? p : undefined;
    }, 500);
    const seen = await six.leaks();
    report('23 native, prefix change', `WAN1 renumbered ${primary} → ${alternate}: the router followed ${followMs} ms after its DHCPv6 client had the prefix; the client's new address ${fresh} carries new IPv6 flows ${renumbered} ms after the ISP began (the link's reconnect and the failover it causes included), its old one deprecated; back after ${back.ms} ms; ISP leak counters ${JSON.stringify(seen)}`);
    expect(seen).toEqual({ 'isp1.other': 0, 'isp1.ula': 0, 'isp2.other': 0, 'isp2.ula': 0 });
  }, 600_000);

  it('a reboot with WAN1 cut: radvd comes up telling WAN1\'s prefix, the switcher moves the LAN to WAN2\'s, and back after the repair', async () => {
    await ctx.rebootWithWan1Cut({
      vars: { edge_ipv6_mode: 'native' },
      label: '23 native reboot, WAN1 cut',
      flows: 'new IPv6 flows',
      clientWhat: 'a SLAAC address in each ISP\'s prefix',
      client: clientPair,
      seen: (address, client, isp) => expect(address).toBe(client[isp]),
      afterBoot: async () => expect((await lab.run(router, ['cat', '/run/edge/radvd.choice'])).stdout.split(' ')[0]).toBe('wan2'),
    });
  }, 600_000);
});

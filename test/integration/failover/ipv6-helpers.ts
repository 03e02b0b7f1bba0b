import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { containsAddress6 } from '../../../src/ipv6.js';
import { wanOfSource } from '../../../src/lab/plan.js';
import { formatProbe, type ProbeResult } from '../../../src/lab/probe.js';
import { edge } from '../edge-cli.js';
import { hostState } from '../host-state.js';
import { ensureLab, type Lab } from '../lab-fixture.js';
import { healthyIsps, pollFor, report, runPlaybook, timingOf, waitSettled } from './helpers.js';

/** The lab's two ISP namespaces of a router, by the name its plan gives them. */
export const ISPS = ['isp1', 'isp2'] as const;
export type Isp = (typeof ISPS)[number];

const LEAK_TABLE = 'elab_leak6';

/**
 * What the IPv6 lab tests (translated and native) read and make on one router: leak counters in
 * the ISPs' namespaces, the LAN client's addresses, probes that say which WAN new flows use, and
 * which WAN the router's own traffic leaves by.
 */
export function ipv6Lab(lab: Lab, router: string) {
  const delegated = (isp: Isp) => {
    const v6 = lab.router(router)[isp].v6;
    return [v6.delegated, v6.altDelegated];
  };

  /** Counters in ISPn's namespace: IPv6 packets from the router with a ULA source or the other ISP's prefix. */
  async function installLeakCounters(): Promise<void> {
    for (const isp of ISPS) {
      const other = isp === 'isp1' ? 'isp2' : 'isp1';
      const foreign = [lab.router(router)[other].v6.link, ...delegated(other)].join(', ');
      const rules = [
        `table inet ${LEAK_TABLE} {`,
        '  chain pre {',
        '    type filter hook prerouting priority -300; policy accept;',
        `    iifname "down0" ip6 saddr fc00::/7 counter comment "ula"`,
        `    iifname "down0" ip6 saddr { ${foreign} } counter comment "other"`,
        '  }',
        '}',
      ].join('\n');
      await lab.run(`${router}-${isp}`, ['bash', '-c', `nft delete table inet ${LEAK_TABLE} 2>/dev/null; nft -f - <<'EOF'\n${rules}\nEOF`]);
    }
  }

  async function removeLeakCounters(): Promise<void> {
    for (const isp of ISPS) await lab.run(`${router}-${isp}`, ['nft', 'delete', 'table', 'inet', LEAK_TABLE], { allowFail: true });
  }

  /** The leak counters, as { 'isp1.ula': n, 'isp1.other': n, … }. */
  async function leaks(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const isp of ISPS) {
      const text = (await lab.run(`${router}-${isp}`, ['nft', 'list', 'table', 'inet', LEAK_TABLE])).stdout;
      for (const m of text.matchAll(/counter packets (\d+) bytes \d+ comment "(\w+)"/g)) out[`${isp}.${m[2]}`] = Number(m[1]);
    }
    return out;
  }

  /**
   * How long the router took to follow a delegated prefix: from its DHCPv6 client's "received
   * delegated prefix PREFIX" (networkd's journal) to edge-routes' "now delegates PREFIX" and the
   * ruleset's change after it. Fails when edge-routes never said so.
   */
  async function prefixFollowMs(prefix: string): Promise<number> {
    const text = (await lab.run(router, ['journalctl', '-u', 'systemd-networkd', '-u', 'edge-routes', '-o', 'short-unix', '--no-pager'])).stdout;
    const at = (re: RegExp) => text.split('\n').filter((l) => re.test(l)).map((l) => Number(l.split(' ')[0]) * 1000).at(-1);
    const got = at(new RegExp(`received delegated prefix ${prefix}`));
    const said = at(new RegExp(`IPv6: ISP\\d now delegates ${prefix} `));
    const ruleset = at(/IPv6: \d+ rule\(s\) of edge's ruleset now name/);
    expect(said, `edge-routes never said it follows ${prefix}`).toBeDefined();
    expect(ruleset, 'edge-routes never changed the ruleset').toBeDefined();
    return Math.round(Math.max(said!, ruleset!) - got!);
  }

  /** The LAN client's global IPv6 addresses (`ip -6 addr` lines: address and whether deprecated). */
  async function clientAddresses(): Promise<{ address: string; deprecated: boolean }[]> {
    const r = await lab.run(`${router}-lan`, ['ip', '-6', '-o', 'addr', 'show', 'scope', 'global']);
    return r.stdout
      .split('\n')
      .flatMap((l) => {
        const m = /inet6 ([0-9a-f:]+)\//.exec(l);
        return m ? [{ address: m[1]!, deprecated: / deprecated /.test(l) }] : [];
      });
  }

  /** The client's address within `prefix`, when it has one. */
  async function clientAddressIn(prefix: string): Promise<string | undefined> {
    return (await clientAddresses()).find((a) => containsAddress6(prefix, a.address))?.address;
  }

  /** The last probe `via` made: what a poll that timed out saw last (see waitVia). */
  let lastProbe: ProbeResult | undefined;
  /** Every new IPv6 flow of one probe answered and left by `wan` (and IPv4's too). */
  const via = (wan: 'wan1' | 'wan2') => async (): Promise<ProbeResult | undefined> => {
    const p = (lastProbe = await lab.probe(router, { count: 3, timeoutMs: 1_500 }));
    return p.v6.via === wan && p.via === wan && p.v6.flows.every((f) => f.seenAddress) ? p : undefined;
  };
  /** pollFor of via(wan), whose timeout says what the last probe saw. */
  async function waitVia(what: string, timeoutMs: number, wan: 'wan1' | 'wan2', everyMs = 500): Promise<{ value: ProbeResult; ms: number }> {
    try {
      return await pollFor(what, timeoutMs, via(wan), everyMs);
    } catch (e) {
      throw new Error(`${(e as Error).message}; the last probe:\n${lastProbe ? formatProbe(lastProbe) : 'none'}`);
    }
  }

  /** Which WAN the router's own TCP connection to whoami (`addr`, port 80) leaves by, unbound: by the address whoami saw. */
  async function ownSource(addr: string): Promise<string> {
    const r = await lab.run(router, ['bash', '-c', `exec 3<>/dev/tcp/${addr}/80 && timeout 3 head -n 1 <&3`], { allowFail: true });
    const seen = (/^\[([0-9a-f:]+)\]:[0-9]+$/.exec(r.stdout.trim()) ?? /^([0-9.]+):[0-9]+$/.exec(r.stdout.trim()))?.[1];
    return seen ? wanOfSource(seen, lab.router(router)) : `no answer (${r.stdout.trim()} ${r.stderr.trim()})`;
  }

  /**
   * The router's own traffic follows the family's choice just after the switch (the switcher moves
   * its rule once the new flows' map is in place and the switch recorded): seconds on a loaded host.
   */
  async function ownTrafficVia(addr: string, wan: 'wan1' | 'wan2'): Promise<void> {
    let last = '';
    try {
      await pollFor(`the router's own traffic to ${addr} via ${wan}`, 10_000, async () => ((last = await ownSource(addr)) === wan || undefined));
    } catch {
      expect(last, `the router's own traffic to ${addr}, 10 s after the switch`).toBe(wan);
    }
  }

  /** The router's global IPv6 addresses on the LAN and its routes there, but the link-local ones. */
  async function lanIpv6(): Promise<string> {
    const r = await lab.run(router, ['bash', '-c', 'ip -6 -o addr show dev lan0 scope global; ip -6 route show dev lan0 | grep -v "^fe80::/64" || true']);
    return r.stdout.trim();
  }

  return { delegated, installLeakCounters, removeLeakCounters, leaks, clientAddresses, clientAddressIn, waitVia, ownTrafficVia, lanIpv6, prefixFollowMs };
}

export type Ipv6Lab = ReturnType<typeof ipv6Lab>;

/**
 * The lifecycle both IPv6 lab files share on one router of lab instance 1, as vitest hooks: healthy
 * ISPs and leak counters before the file, healthy ISPs before each case (a case that fails part way
 * leaves its fault behind), and every run still applied rolled back after it (a failure part way
 * leaves none to the next file on the router). `lab` and `six` are set once the file's hooks ran.
 */
export function useIpv6Router(router: string) {
  const ctx = {
    lab: undefined as unknown as Lab,
    six: undefined as unknown as Ipv6Lab,
    /** The router's settled state before the file (see settledState), for the exact-rollback checks. */
    before: '',
    /** Runs of this file still applied, newest last. */
    applied: [] as string[],
    async rollback(id: string) {
      const r = await edge(['rollback', id, '-i', ctx.lab.inventory, '--limit', router]);
      if (r.code === 0) ctx.applied.splice(ctx.applied.indexOf(id), 1);
      return r;
    },
    settledState: () => settledState(ctx.lab, router),
    /** edge run on the router with `vars` (none: the playbook's own); it must succeed, and is rolled back with the file. */
    async apply(vars?: Record<string, unknown>) {
      const run = await runPlaybook(ctx.lab, [router], ...(vars ? ['-e', JSON.stringify(vars)] : []));
      if (run.result.runId) ctx.applied.push(run.result.runId);
      expect(run.code, run.stderr.slice(-3000)).toBe(0);
      return run;
    },
    /**
     * Apply `vars`, wait for the LAN client's address(es), cut WAN1 and reboot the router: new IPv6
     * flows must leave by WAN2 after the boot and by WAN1 once the cut is repaired. `seen` checks the
     * source whoami saw for each flow; `afterBoot` what else the boot must have brought.
     */
    async rebootWithWan1Cut<C>(o: {
      vars: Record<string, unknown>;
      label: string;
      flows: string;
      clientWhat: string;
      client: () => Promise<C | undefined>;
      seen: (address: string | undefined, client: C, isp: Isp) => void;
      afterBoot?: () => Promise<void>;
    }): Promise<void> {
      const lab = ctx.lab;
      await ctx.apply(o.vars);
      await waitSettled(lab, router);
      const { value: client } = await pollFor(o.clientWhat, 60_000, o.client, 1_000);
      const t = timingOf(lab, router);
      await lab.fault(router, 'wan1', { kind: 'upstream-cut' });
      try {
        const booted = Date.now();
        await lab.reboot(router);
        const after = await ctx.six.waitVia('new IPv6 flows via wan2 after the boot', 120_000, 'wan2', 1_000);
        for (const f of after.value.v6.flows) o.seen(f.seenAddress, client, 'isp2');
        await o.afterBoot?.();
        report(o.label, `${o.flows} via wan2 ${after.ms} ms after the router was up (${Date.now() - booted} ms after the reboot began)`);
      } finally {
        await lab.fault(router, 'wan1', { kind: 'clear' });
      }
      const back = await ctx.six.waitVia('new IPv6 flows via wan1 after the repair', t.riseWindow * 1000 + 30_000, 'wan1');
      for (const f of back.value.v6.flows) o.seen(f.seenAddress, client, 'isp1');
    },
  };
  beforeAll(async () => {
    ctx.lab = await ensureLab(1);
    ctx.six = ipv6Lab(ctx.lab, router);
    await healthyIsps(ctx.lab, router);
    ctx.before = await ctx.settledState();
    await ctx.six.installLeakCounters();
  }, 300_000);
  beforeEach(async () => {
    await healthyIsps(ctx.lab, router);
  }, 60_000);
  afterAll(async () => {
    for (const id of [...ctx.applied].reverse()) await ctx.rollback(id);
    await healthyIsps(ctx.lab, router);
    await ctx.six.removeLeakCounters();
  }, 120_000);
  return ctx;
}

/**
 * hostState once edge's failover (if an earlier file left it configured) has settled on both WANs
 * up: its live sets and maps (down, avoid, …) follow the WANs' health, and just after ISPs are made
 * healthy again, or just after a rollback restarts the failover, they still hold the last cut.
 */
export async function settledState(lab: Lab, router: string): Promise<string> {
  const failover = await lab.run(router, ['test', '-x', '/usr/local/sbin/edge-failover'], { allowFail: true });
  if (failover.code === 0) await waitSettled(lab, router);
  return hostState(lab, router);
}

/**
 * `npm run bench:failover`: how fast and how calm failover is on a real lab router (a benchmark, not
 * a test: the numbers depend on the machine's load, which it prints).
 *
 *   - N trials each of a WAN1 upstream cut (link up, ISP blackholes onward) and a WAN1 link down:
 *     cut → first NEW LAN flow that leaves by WAN2, and repair → first new LAN flow by WAN1
 *     (p50 / p95 / max). A LAN client opens a fresh TCP connection every 100 ms throughout. From
 *     the router's own records: edge-probe's decision → the switch applied (the decision's time in
 *     WAN.probe, the switch's record, timed as the map holds the new element), and after a
 *     link's return its DHCP address → table and rule back (networkd's and edge-routes' log lines).
 *   - with --ipv6 (the router applied with edge_ipv6_mode translated), a second client stream over IPv6 gives the same
 *     figures for IPv6 beside IPv4's, and an IPv6-only upstream cut of WAN1 moves IPv6 alone. --ipv6 --native:
 *     the same with edge_ipv6_mode native (the client's new flows move by the router advertisements).
 *   - the same trials again with the router's CPUs busy (one busy loop per CPU in the router's namespaces,
 *     at normal priority), side by side with the idle figures. --busy outside (the default): the loops
 *     run outside the router's control groups, so no priority edge gives its daemons reaches them (a
 *     NAT storm's softirq load is like that); --busy service: they are a service of the router, beside
 *     edge's daemons, as another busy daemon would be.
 *   - brownouts: N trials each of 40 % loss both ways and of +1.5 s latency on WAN1 (WAN2 clean):
 *     the bad link's start → first new LAN flow on WAN2, and its end → first new flow on WAN1 again
 *     (the quality window and the recovery hold), idle and with the CPUs busy.
 *   - soaks at the defaults: 20 % loss in both directions on both WANs alike, 1 s of added latency
 *     on both, and one of three of WAN1's targets dead (each counts switches, all false: no WAN is
 *     better than the other, and edge-probe's DOWN decisions); and WAN1 alternating 40 % and 0 %
 *     loss every 20 s, which should be one switch to WAN2 and none back while it lasts.
 *   - edge-probe's CPU (all its processes, reaped children included) and probe packets per second.
 *
 *   - with --balance (edge_wan_mode balance, 1:1), the cut is timed to the first new flow from which
 *     on every new flow leaves by WAN2 for 2 s (before the cut half of them already did).
 *
 *   npm run bench:failover -- [--trials N] [--brownout-trials N] [--no-brownout] [--soak-min M] [--extra-soak-min M]
 *                              [--quick] [--no-soak] [--ipv6 [--native]] [--balance] [--router r1] [--busy outside|service]
 *   defaults: 10 trials each, the loss soak 10 minutes, the latency and dead-target soaks 3 each;
 *   --quick: 3 trials each, 1-minute soaks; --no-soak: trials only. Lab instance: EDGE_LAB_INSTANCE
 *   (default 0). The router should use networkd (r1 of a default lab) for the link-return figure.
 * Needs root (the lab). Results also go to .edge/bench-failover.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { labFault, labRun, labUp, loadLab } from '../../src/lab/lab.js';
import type { FaultAction } from '../../src/lab/faults.js';
import { labPaths } from '../../src/lab/state.js';
import { edge } from '../integration/edge-cli.js';
import { FlowStream, type LabView } from '../integration/failover/flows.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const quick = args.includes('--quick');
const noSoak = args.includes('--no-soak');
const native = args.includes('--native');
const ipv6 = args.includes('--ipv6') || native;
const balance = args.includes('--balance');
const noBrownout = args.includes('--no-brownout');
const trials = Number(opt('--trials', quick ? '3' : '10'));
const brownoutTrials = Number(opt('--brownout-trials', String(trials)));
const soakMin = Number(opt('--soak-min', quick ? '1' : '10'));
const extraSoakMin = Number(opt('--extra-soak-min', quick ? '1' : '3'));
const router = opt('--router', 'r1');
const busyIn = opt('--busy', 'outside');
if (busyIn !== 'outside' && busyIn !== 'service') throw new Error(`--busy outside|service, not ${busyIn}`);
const instance = Number(process.env.EDGE_LAB_INSTANCE ?? 0);
const o = { instance, log: () => {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = (target: string, cmd: string) => labRun(target, ['bash', '-c', cmd], { ...o, allowFail: true });
const fault = async (wan: 'wan1' | 'wan2', a: FaultAction): Promise<void> => void (await labFault(router, wan, a, o));

function stats(xs: number[]): { n: number; p50: number; p95: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
  return { n: s.length, p50: at(0.5), p95: at(0.95), max: s[s.length - 1] ?? NaN };
}
const secs = (ms: number) => (Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(2)} s`);
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

/** New LAN flows of each family the router fails over: IPv4 always, IPv6 when it is translated. */
interface Streams {
  v4: FlowStream;
  v6?: FlowStream;
}
type Kind = 'upstream-cut' | 'link-down' | 'upstream-cut6' | 'loss 40 %' | 'latency +1.5 s';
const BROWNOUTS: Kind[] = ['loss 40 %', 'latency +1.5 s'];
const faultOf = (k: Kind): FaultAction =>
  k === 'loss 40 %' ? { kind: 'loss', pct: 40 } : k === 'latency +1.5 s' ? { kind: 'latency', ms: 1500 } : { kind: k };

/**
 * Both WANs up by edge-failover's record (both families), new flows on WAN1, and WAN1 stable (the
 * last flows by WAN1; in balance, by both WANs and none unanswered).
 */
async function settled(streams: Streams, timeoutMs = 90_000): Promise<void> {
  const t0 = Date.now();
  const onWan1 = (st: FlowStream | undefined) => {
    const recent = st?.between(Date.now() - (balance ? 2_000 : 1_000), Date.now());
    if (balance) return !recent || (recent.via.wan1 && recent.via.wan2 && !recent.failed);
    return !recent || (recent.via.wan1 && !recent.via.wan2);
  };
  while (Date.now() - t0 < timeoutMs) {
    const s = (await run(router, '/usr/local/sbin/edge-failover status')).stdout;
    const six = !streams.v6 || (/wan1\.v6\.state=up/.test(s) && /wan2\.v6\.state=up/.test(s) && /preferred6=wan1/.test(s));
    if (/wan1\.state=up/.test(s) && /wan2\.state=up/.test(s) && /preferred=wan1/.test(s) && six && onWan1(streams.v4) && onWan1(streams.v6)) return;
    await sleep(250);
  }
  throw new Error(`${router} did not settle on WAN1 within ${timeoutMs / 1000} s`);
}

/** The router's journal lines of these identifiers since `since`, with their time (ms). */
async function routerLog(since: number, ids: string[]): Promise<{ at: number; id: string; text: string }[]> {
  const r = await run(router, `journalctl -q --no-pager -o short-unix ${ids.map((i) => `-t ${i}`).join(' ')} --since @${Math.floor(since / 1000)}`);
  return r.stdout.split('\n').flatMap((l) => {
    const m = /^([0-9]+\.[0-9]+) \S+ ([^[:]+)(?:\[[0-9]+\])?: (.*)$/.exec(l);
    return m ? [{ at: Number(m[1]) * 1000, id: m[2]!, text: m[3]! }] : [];
  });
}

interface Trial {
  cut?: number; // cut → first new LAN flow by WAN2 (balance: from which on all are)
  repair?: number; // repair → first new LAN flow by WAN1
  decisionToMap?: number; // edge-probe's DOWN decision → the switcher's record of the applied switch
  addressToRoutes?: number; // link-down only: WAN1's DHCP address → its table and rule back
  cut6?: number; // the same for new IPv6 flows (translated IPv6)
  repair6?: number;
  decisionToMap6?: number;
}

/**
 * The last switch record wan1 → wan2 of a family (an IPv6 one's why starts "IPv6 ") made since
 * `since` (epoch ms): its epoch. None of this trial's: undefined, never an earlier trial's record
 * (that gave negative decision → switch times when a family's switch went unrecorded).
 */
function lastSwitch(history: string, six: boolean, since: number): number | undefined {
  const re = six ? /^([0-9.]+) wan1 wan2 \S+ IPv6 / : /^([0-9.]+) wan1 wan2 \S+ wan1 /;
  const hit = history.split('\n').filter((l) => re.test(l) && Number(re.exec(l)![1]) * 1000 >= since).pop();
  return hit ? Number(re.exec(hit)![1]) : undefined;
}

async function trial(streams: Streams, kind: Kind): Promise<Trial> {
  await settled(streams);
  await sleep(1_000);
  const v4 = kind !== 'upstream-cut6';
  const t0 = Date.now();
  await fault('wan1', faultOf(kind));
  const moved = (st: FlowStream) => (balance ? st.steadyVia('wan2', t0, 2_000, 30_000) : st.firstVia('wan2', t0, 30_000));
  const [f, f6] = await Promise.all([v4 ? moved(streams.v4) : undefined, streams.v6 && moved(streams.v6)]);
  const probe = async (file: string) => {
    const m = /^down ([0-9.]+) /.exec((await run(router, `cat /run/edge/${file}`)).stdout);
    return m ? Number(m[1]) : undefined;
  };
  const [d4, d6] = [v4 ? await probe('wan1.probe') : undefined, streams.v6 ? await probe('wan1v6.probe') : undefined];
  // the switch's record: its time is taken as the switcher's transaction has returned
  const history = (await run(router, 'tail -n 8 /var/lib/edge/failover/switches')).stdout;
  const [s4, s6] = [lastSwitch(history, false, t0), lastSwitch(history, true, t0)];
  // a brownout is held past a rise period, so a WAN that went down comes back degraded and the
  // return is that of a sustained bad link, not of a spike
  await sleep(BROWNOUTS.includes(kind) ? 20_000 : 500);
  const t1 = Date.now();
  await fault('wan1', { kind: 'clear' });
  const [g, g6] = await Promise.all([v4 ? streams.v4.firstVia('wan1', t1, 120_000) : undefined, streams.v6?.firstVia('wan1', t1, 120_000)]);
  const gap = (a?: number, b?: number) => (a !== undefined && b !== undefined ? (b - a) * 1000 : undefined);
  return {
    cut: f && f.at - t0,
    repair: g && g.at - t1,
    decisionToMap: BROWNOUTS.includes(kind) ? undefined : gap(d4, s4),
    addressToRoutes: kind === 'link-down' ? await linkReturn(t1) : undefined,
    cut6: f6 && f6.at - t0,
    repair6: g6 && g6.at - t1,
    decisionToMap6: gap(d6, s6),
  };
}

/** From networkd's "wan1: DHCPv4 address …" to the later of edge-routes' "table N: default via … dev wan1" and "rule added: … lookup N". */
async function linkReturn(since: number): Promise<number | undefined> {
  const log = await routerLog(since, ['systemd-networkd', 'edge-routes']);
  const address = log.find((l) => l.id === 'systemd-networkd' && /^wan1: DHCPv4 address /.test(l.text));
  if (!address) return undefined;
  const after = log.filter((l) => l.id === 'edge-routes' && l.at >= address.at);
  const table = after.find((l) => /^table [0-9]+: default via \S+ dev wan1 /.test(l.text));
  const n = table && /^table ([0-9]+):/.exec(table.text)![1];
  const rule = n && after.find((l) => l.text.startsWith('rule added: ') && l.text.endsWith(` lookup ${n}`));
  return table && rule ? Math.max(table.at, rule.at) - address.at : undefined;
}

/**
 * One busy loop per CPU in the router, at normal priority (--busy: outside its control groups, or
 * as its service edge-bench-busy); returns a function that ends exactly those loops (by PID, or by
 * stopping that service).
 */
async function busyCpus(): Promise<() => Promise<void>> {
  if (busyIn === 'service') {
    const loops = 'for i in $(seq "$(nproc)"); do (while :; do :; done) & done; wait';
    const r = await run(router, `systemd-run --quiet --collect --unit=edge-bench-busy bash -c '${loops}' && systemctl is-active edge-bench-busy`);
    if (r.stdout.trim() !== 'active') throw new Error(`could not start the busy service on ${router}: ${r.stderr}`);
    return async () => void (await run(router, 'systemctl stop edge-bench-busy'));
  }
  const r = await run(router, "for i in $(seq \"$(nproc)\"); do setsid bash -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & echo $!; done");
  const pids = r.stdout.split('\n').filter((l) => /^[0-9]+$/.test(l));
  if (!pids.length) throw new Error(`could not start the busy loops on ${router}: ${r.stderr}`);
  return async () => void (await run(router, `kill ${pids.join(' ')}`));
}

/** N trials of one kind; prints and returns their p50/p95/max. */
async function runTrials(streams: Streams, kind: Kind, cpus: string) {
  const all: Trial[] = [];
  const n = BROWNOUTS.includes(kind) ? brownoutTrials : trials;
  for (let i = 1; i <= n; i++) {
    const r = await trial(streams, kind);
    all.push(r);
    process.stderr.write(
      `  ${kind} #${i} (${cpus}): cut → WAN2 ${secs(r.cut ?? NaN)} (decision → map ${secs(r.decisionToMap ?? NaN)}), repair → WAN1 ${secs(r.repair ?? NaN)}` +
        `${kind === 'link-down' ? ` (address → table and rule ${secs(r.addressToRoutes ?? NaN)})` : ''}` +
        `${streams.v6 ? `; IPv6 cut → WAN2 ${secs(r.cut6 ?? NaN)} (decision → map ${secs(r.decisionToMap6 ?? NaN)}), repair → WAN1 ${secs(r.repair6 ?? NaN)}` : ''} (load ${load()})\n`,
    );
  }
  const of = (k: keyof Trial) => stats(all.flatMap((t) => (t[k] === undefined ? [] : [t[k]!])));
  const keys = ['cut', 'decisionToMap', 'repair', 'addressToRoutes', 'cut6', 'decisionToMap6', 'repair6'] as const;
  const out = { ...Object.fromEntries(keys.map((k) => [k, of(k)])), load: load() } as Record<(typeof keys)[number], ReturnType<typeof stats>> & { load: string };
  const line = (what: string, x: ReturnType<typeof stats>) => `  ${what.padEnd(34)} n ${x.n}  p50 ${secs(x.p50)}  p95 ${secs(x.p95)}  max ${secs(x.max)}`;
  const v4 = kind !== 'upstream-cut6';
  console.log(
    [
      `${kind}, ${cpus} (load ${out.load}):`,
      ...(v4 && BROWNOUTS.includes(kind) ? [line('bad link → first new flow on WAN2', out.cut), line('good again → first new flow on WAN1', out.repair)] : []),
      ...(v4 && !BROWNOUTS.includes(kind) ? [line('cut → first new flow on WAN2', out.cut), line('decision → switch applied', out.decisionToMap), line('repair → first new flow on WAN1', out.repair)] : []),
      ...(kind === 'link-down' ? [line('DHCP address → table and rule', out.addressToRoutes)] : []),
      ...(streams.v6
        ? [line('IPv6 cut → first new flow on WAN2', out.cut6), line('IPv6 decision → switch applied', out.decisionToMap6), line('IPv6 repair → first new flow on WAN1', out.repair6)]
        : []),
    ].join('\n'),
  );
  return out;
}

/** Total CPU seconds of edge-probe.service's processes (with their reaped children) and the wall clock. */
async function probeCpu(): Promise<{ cpu: number; at: number }> {
  const r = await run(
    router,
    `main=$(systemctl show -p MainPID --value edge-probe); hz=$(getconf CLK_TCK)
     pids="$main"; frontier="$main"
     while [ -n "$frontier" ]; do next=''; for p in $frontier; do for c in $(cat /proc/$p/task/*/children 2>/dev/null); do next="$next $c"; done; done; pids="$pids $next"; frontier=$next; done
     t=0; for p in $pids; do s=$(cut -d')' -f2- /proc/$p/stat 2>/dev/null) || continue; set -- $s; t=$((t + \${12} + \${13} + \${14} + \${15})); done
     echo "$t $hz $(date +%s.%N)"`,
  );
  const [ticks, hz, at] = r.stdout.trim().split(' ').map(Number);
  return { cpu: ticks! / hz!, at: at! * 1000 };
}

async function switchCount(): Promise<number> {
  const r = await run(router, 'wc -l < /var/lib/edge/failover/switches 2>/dev/null || echo 0');
  return Number(r.stdout.trim()) || 0;
}

async function probeDowns(since: number): Promise<string[]> {
  const r = await run(router, `journalctl -q --no-pager -o cat -t edge-probe --since @${Math.floor(since / 1000)} | grep 'wan1 is DOWN' || true`);
  return r.stdout.split('\n').filter(Boolean);
}

async function soak(stream: FlowStream, name: string, minutes: number, setup: () => Promise<void>, teardown: () => Promise<void>) {
  await settled({ v4: stream });
  const s0 = await switchCount();
  const c0 = await probeCpu();
  const t0 = Date.now();
  await setup();
  await sleep(minutes * 60_000);
  const flows = stream.between(t0, Date.now());
  const c1 = await probeCpu();
  await teardown();
  const switches = (await switchCount()) - s0;
  const downs = await probeDowns(t0);
  const cpuPct = (100 * (c1.cpu - c0.cpu)) / ((c1.at - c0.at) / 1000);
  return { name, minutes, switches, probeDowns: downs.length, downs, flows, cpuPct, load: load() };
}

/** In the ISP's namespace: one target stops answering this router's WAN1 (its echo requests are dropped). */
const deadTarget = (t: string) =>
  `nft -f - <<'EOF'\ntable ip edge_bench_dead {\n  chain forward {\n    type filter hook forward priority -1; policy accept;\n    ip daddr ${t} counter drop\n  }\n}\nEOF`;

/** The soaks at the defaults on a working WAN1 (false switches, DOWN decisions, edge-probe's CPU). */
async function soaks(stream: FlowStream, dead: string) {
  const both = async (a: FaultAction) => {
    await fault('wan1', a);
    await fault('wan2', a);
  };
  let alternating = true;
  const alternate = async () => {
    while (alternating) {
      await fault('wan1', { kind: 'loss', pct: 40 });
      await sleep(20_000);
      if (!alternating) break;
      await fault('wan1', { kind: 'clear' });
      await sleep(20_000);
    }
  };
  let alternation: Promise<void> | undefined;
  const all = [
    await soak(stream, '20 % loss on both WANs', soakMin, () => both({ kind: 'loss', pct: 20 }), () => both({ kind: 'clear' })),
    await soak(stream, '+1 s latency on both', extraSoakMin, () => both({ kind: 'latency', ms: 1000 }), () => both({ kind: 'clear' })),
    await soak(
      stream,
      `target ${dead} dead`,
      extraSoakMin,
      async () => void (await run(`${router}-isp1`, deadTarget(dead))),
      async () => void (await run(`${router}-isp1`, 'nft delete table ip edge_bench_dead')),
    ),
    // the one switch to WAN2 is expected; any other is an oscillation the hysteresis let through
    await soak(
      stream,
      'WAN1 40 %/0 % loss, 20 s',
      soakMin,
      async () => void (alternation = alternate()),
      async () => {
        alternating = false;
        await alternation;
        await fault('wan1', { kind: 'clear' });
      },
    ),
  ];
  for (const x of all) {
    console.log(
      `soak ${x.name.padEnd(26)} ${x.minutes} min: ${x.switches} switches, ${x.probeDowns} WAN1 DOWN decisions; ${x.flows.total} new LAN flows, ${x.flows.failed} unanswered within 600 ms; edge-probe CPU ${x.cpuPct.toFixed(2)} % of one core; load ${x.load}`,
    );
  }
  return all;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('npm run bench:failover needs root (it runs on the lab)');
  const have = (() => {
    try {
      return loadLab(labPaths(instance)).plan.routers.length;
    } catch {
      return 0;
    }
  })();
  const up = await labUp({ routers: Math.max(1, have), instance, log: () => {} });
  const { plan } = loadLab(labPaths(instance));
  const lab: LabView = { plan, router: (n) => plan.routers.find((r) => r.name === n)! };
  await fault('wan1', { kind: 'clear' });
  await fault('wan2', { kind: 'clear' });
  const extra = { ...(ipv6 ? { edge_ipv6_mode: native ? 'native' : 'translated' } : {}), ...(balance ? { edge_wan_mode: 'balance' } : {}) };
  const applied = await edge(['run', 'playbooks/failover.yaml', '-i', up.inventory, '--limit', router, ...(Object.keys(extra).length ? ['-e', JSON.stringify(extra)] : [])]);
  if (applied.code !== 0) throw new Error(`apply failed:\n${applied.stderr.slice(-2000)}`);
  const conf = (await run(router, 'cat /etc/edge/failover.conf')).stdout;
  console.log(`bench:failover on ${router} (lab ${instance}, ${balance ? 'balance 1:1' : 'failover'} mode), ${cpus().length} cores, load ${load()}; busy loops ${busyIn === 'service' ? 'as a service of the router' : "outside the router's control groups"}`);
  console.log(conf.split('\n').filter((l) => /^(PROBE_|RISE|SUCCESS|WAN1_TARGETS|QUALITY_|DEGRADED_|RECOVERY_)/.test(l)).join('  '));

  const stream = new FlowStream(lab, router, 100, 600).start();
  const six = /^preferred6=/m.test((await run(router, '/usr/local/sbin/edge-failover status')).stdout);
  const streams: Streams = { v4: stream, ...(six ? { v6: new FlowStream(lab, router, 100, 600, 6).start() } : {}) };
  const kinds: Kind[] = ['upstream-cut', 'link-down', ...(six ? (['upstream-cut6'] as const) : [])];
  const result: Record<string, unknown> = { router, instance, trials, soakMin, at: new Date().toISOString(), conf };
  try {
    for (const cpus of ['idle', 'CPUs busy'] as const) {
      const stopBusy = cpus === 'idle' ? undefined : await busyCpus();
      try {
        for (const kind of [...kinds, ...(noBrownout ? [] : BROWNOUTS)]) result[`${kind}, ${cpus}`] = await runTrials(streams, kind, cpus);
      } finally {
        await stopBusy?.();
      }
    }
    if (!noSoak) result.soaks = await soaks(stream, plan.targets[plan.targets.length - 1]!);
  } finally {
    stream.stop();
    streams.v6?.stop();
    await fault('wan1', { kind: 'clear' });
  }
  mkdirSync('.edge', { recursive: true });
  writeFileSync('.edge/bench-failover.json', JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

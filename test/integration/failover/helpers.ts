import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { expect } from 'vitest';
import type { RunResult } from '../../../src/engine/types.js';
import { loadInventory } from '../../../src/inventory/load.js';
import type { Wan } from '../../../src/lab/plan.js';
import type { ProbeResult } from '../../../src/lab/probe.js';
import type { Timing } from '../../../src/render/keepalived.js';
import { failoverTiming } from '../../../src/tasks/failover.js';
import { PATHS } from '../../../src/tasks/paths.js';
import { edge, type CliResult } from '../edge-cli.js';
import type { Lab } from '../lab-fixture.js';

/**
 * Shared steps of the failover scenarios (issue 4, "Must show"): apply the playbook, wait for a
 * router to settle, poll the LAN client's view of which WAN new flows use, read the router's
 * edge-failover journal, hold a long-lived TCP connection through a router.
 */

export const PLAYBOOK = 'playbooks/failover.yaml';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const secs = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

/** `edge run` of the failover playbook on `hosts` (JSON result), `extra` flags appended. */
export async function runPlaybook(lab: Lab, hosts: string[], ...extra: string[]): Promise<CliResult & { result: RunResult }> {
  const r = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', hosts.join(','), '--json', ...extra]);
  let result: RunResult;
  try {
    result = JSON.parse(r.stdout) as RunResult;
  } catch {
    throw new Error(`edge run printed no JSON result (exit ${r.code}):\n${r.stderr.slice(-3000)}`);
  }
  return { ...r, result };
}

/** Apply the playbook and insist it worked on every host. */
export async function applyFailover(lab: Lab, hosts: string[]): Promise<RunResult> {
  const r = await runPlaybook(lab, hosts);
  expect(r.code, r.stderr.slice(-3000)).toBe(0);
  for (const h of r.result.hosts) expect(h.status, `${h.host}: ${h.error ?? ''}`).toMatch(/^(ok|changed)$/);
  return r.result;
}

/** Health timing the playbook configured on `router` (the same computation the failover task makes). */
export function timingOf(lab: Lab, router: string): Timing & { interval: number; rise: number; timeout: number } {
  const vars = loadInventory(lab.inventory).hosts.get(router)!.vars;
  return { ...failoverTiming(vars), interval: vars.edge_health_interval, rise: vars.edge_health_rise, timeout: vars.edge_health_timeout };
}

/** No fault on either WAN, ISP1 hands out its primary gateway. */
export async function healthyIsps(lab: Lab, router: string): Promise<void> {
  await lab.fault(router, 'wan1', { kind: 'clear' });
  await lab.fault(router, 'wan2', { kind: 'clear' });
  await lab.gateway(router, 'primary');
  for (const wan of ['wan1', 'wan2'] as const) await lab.prefix(router, wan, 'primary');
}

/** `edge-failover status` as key → value. */
export async function failoverStatus(lab: Lab, router: string): Promise<Record<string, string>> {
  const r = await lab.run(router, ['/usr/local/sbin/edge-failover', 'status']);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/**
 * Wait until keepalived has measured both WANs (after an apply or a restart its instances stay
 * BACKUP for the master-down interval) and new flows are preferred on WAN1. A WAN left degraded by
 * a test takes the quality window and the recovery hold (10 + 30 s at the defaults) to be up.
 */
export async function waitSettled(lab: Lab, router: string, timeoutMs = 90_000): Promise<Record<string, string>> {
  const t0 = Date.now();
  let s: Record<string, string> = {};
  while (Date.now() - t0 < timeoutMs) {
    s = await failoverStatus(lab, router).catch(() => ({}));
    if (s['wan1.state'] === 'up' && s['wan2.state'] === 'up' && s['preferred'] === 'wan1') return s;
    await sleep(500);
  }
  throw new Error(`${router} did not settle (both WANs up, preferred wan1) within ${timeoutMs / 1000} s: ${JSON.stringify(s)}`);
}

export interface ViaWait {
  /** ms from `since` to the start of the first probe whose flows all left by the wanted WAN. */
  ms?: number;
  probes: { atMs: number; via: ProbeResult['via'] }[];
}

/**
 * Probe new flows from the router's LAN client every ~500 ms until they all leave by `want`, for at
 * most `timeoutMs` after `since`. Returns when it happened (the probe's start), or ms undefined.
 */
export async function waitVia(lab: Lab, router: string, want: Wan, since: number, timeoutMs: number): Promise<ViaWait> {
  const probes: ViaWait['probes'] = [];
  while (Date.now() - since < timeoutMs) {
    const start = Date.now();
    const p = await lab.probe(router, { count: 1, timeoutMs: 1_000 });
    probes.push({ atMs: start - since, via: p.via });
    if (p.via === want) return { ms: start - since, probes };
    await sleep(Math.max(0, 500 - (Date.now() - start)));
  }
  return { probes };
}

/** One line per change of the probed WAN, for the test log ("+0.0 s wan1, +6.1 s none, +7.6 s wan2"). */
export function probeTrace(w: ViaWait): string {
  const out: string[] = [];
  let last = '';
  for (const p of w.probes) {
    if (p.via !== last) out.push(`+${(p.atMs / 1000).toFixed(1)} s ${p.via}`);
    last = p.via;
  }
  return out.join(', ');
}

export interface JournalLine {
  /** epoch ms */
  at: number;
  text: string;
}

/** The router's journal for syslog tag `tag` since `sinceMs` (epoch ms; the lab routers share the host's clock). */
export async function journal(lab: Lab, router: string, tag: string, sinceMs: number): Promise<JournalLine[]> {
  const since = `@${Math.floor(sinceMs / 1000) - 1}`;
  const r = await lab.run(router, ['journalctl', '-q', '--no-pager', '-o', 'short-unix', '-t', tag, '--since', since], { allowFail: true });
  return r.stdout
    .split('\n')
    .map((l) => /^([0-9]+\.[0-9]+) \S+ [^:]+: (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ at: Math.round(Number(m[1]) * 1000), text: m[2]! }))
    .filter((l) => l.at >= sinceMs);
}

/** Switches edge-failover logged since `sinceMs` ("new flows now use wanN"). */
export async function switches(lab: Lab, router: string, sinceMs: number): Promise<JournalLine[]> {
  return (await journal(lab, router, 'edge-failover', sinceMs)).filter((l) => l.text.startsWith('new flows now use'));
}

/** Poll `check` every `everyMs` until it returns a value, at most `timeoutMs`. */
/**
 * edge-failover's journal line for a switch to WAN since SINCE_MS. The line follows the switch (the
 * map first, then the history record, then the log), so a test that has just seen new flows move
 * waits for it, up to 10 s; undefined if it never comes.
 */
export async function switchLogged(lab: Lab, router: string, sinceMs: number, to: Wan): Promise<JournalLine | undefined> {
  const want = `new flows now use ${to}`;
  const found = await pollFor(`"${want}" in edge-failover's journal`, 10_000, async () => (await switches(lab, router, sinceMs)).find((l) => l.text.startsWith(want))).catch(() => undefined);
  return found?.value;
}

export async function pollFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, everyMs = 250): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v !== undefined) return { value: v, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * What `edge-routes check` still finds wrong once edge-routes has had its time: '' when rules and
 * tables match the live state. The monitor reconciles after a burst of netlink events has been
 * quiet for 1 s (at most 10 s after its start), so a check right after a link, address or route
 * change can see the moment before; 15 s is the debounce's bound with room for the reconcile.
 */
export async function routesSettled(lab: Lab, router: string, timeoutMs = 15_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const r = await lab.run(router, [PATHS.edgeRoutes, 'check'], { allowFail: true });
    if (r.code === 0) return '';
    if (Date.now() - t0 > timeoutMs) return r.stderr.trim() || `edge-routes check exited ${r.code}`;
    await sleep(500);
  }
}

/** The router's IPv4 address on an interface. */
export async function addressOf(lab: Lab, router: string, dev: string): Promise<string | undefined> {
  const r = await lab.run(router, ['ip', '-4', '-o', 'addr', 'show', 'dev', dev, 'scope', 'global'], { allowFail: true });
  return /inet ([0-9.]+)\//.exec(r.stdout)?.[1];
}

/** `ip route show table NAME` on the router, trimmed ('' for an empty table, which ip reports as absent). */
export async function tableRoutes(lab: Lab, router: string, table: string): Promise<string> {
  const r = await lab.run(router, ['ip', '-4', 'route', 'show', 'table', table], { allowFail: true });
  if (r.code !== 0 && /table does not exist/.test(r.stderr)) return '';
  if (r.code !== 0) throw new Error(`ip route show table ${table} on ${router}: ${r.stderr}`);
  return r.stdout.trim();
}

/** conntrack entries on the router matching `args` (e.g. ['-p', 'tcp', '-m', '0x1']). */
export async function conntrack(lab: Lab, router: string, args: string[]): Promise<string[]> {
  const r = await lab.run(router, ['conntrack', '-L', ...args], { allowFail: true });
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

/** `nft list table FAMILY NAME` with counter values blanked (they move with traffic). */
export async function nftTable(lab: Lab, router: string, family: string, name: string): Promise<string | undefined> {
  const r = await lab.run(router, ['nft', 'list', 'table', family, name], { allowFail: true });
  return r.code === 0 ? r.stdout.replace(/counter packets [0-9]+ bytes [0-9]+/g, 'counter') : undefined;
}

/**
 * Make a router fresh, as before edge ever ran there: roll back every run snapshot on it that is not
 * rolled back yet, newest first (run ids sort by time), then remove what a rollback documents it leaves (playbooks/failover.md,
 * "Rolling back"): directories edge created, the wants/ links of units that are gone, keepalived's
 * link edge-ka0/edge-ka1, /run/edge; and the rolled-back snapshots (/var/lib/edge). Packages the
 * image has stay; one a run installed goes with that run's rollback.
 */
export async function makeFresh(lab: Lab, router: string): Promise<string[]> {
  // Snapshots already rolled back are skipped: undoing them again would re-apply what a later
  // rollback took away (rollbacks happen newest first, so the rest form a stack).
  const ls = await lab.run(router, [
    'bash',
    '-c',
    'for d in /var/lib/edge/snapshots/*/; do [ -d "$d" ] || continue; echo "$(basename "$d") $(cat "$d/state" 2>/dev/null)"; done',
  ]);
  const live = ls.stdout
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([id, state]) => /^[0-9]{8}T[0-9]{6}Z-[0-9a-f]+$/.test(id ?? '') && state !== 'rolled-back');
  const runs = live.map(([id]) => id!).sort().reverse();
  if (live.some(([, state]) => state === 'pruned')) {
    // Earlier files made more runs here than edge_snapshots_keep: a pruned run cannot be undone
    // alone, and the baseline (never pruned) is the state before edge.
    const rb = await edge(['rollback', '--baseline', '-i', lab.inventory, '--limit', router]);
    expect(rb.code, `rollback --baseline on ${router}: ${rb.stdout}${rb.stderr}`).toBe(0);
  } else {
    for (const id of runs) {
      const rb = await edge(['rollback', id, '-i', lab.inventory, '--limit', router]);
      expect(rb.code, `rollback ${id} on ${router}: ${rb.stdout}${rb.stderr}`).toBe(0);
    }
  }
  await lab.run(router, [
    'bash',
    '-c',
    [
      'rmdir --ignore-fail-on-non-empty /etc/edge /etc/systemd/networkd.conf.d /etc/systemd/system/keepalived.service.d 2>/dev/null || true',
      'find /etc/systemd/system -xtype l -name "edge-*" -delete',
      'systemctl daemon-reload',
      'ip link del edge-ka0 2>/dev/null || true',
      'rm -rf /run/edge',
      // its snapshots are rolled back: a fresh router has no edge history either
      'rm -rf /var/lib/edge',
    ].join('; '),
  ]);
  return runs;
}

/**
 * A long-lived TCP connection from a router's LAN client to an echo service in the lab internet
 * (192.0.2.80, a port of our own): the flow a user has open while a WAN dies.
 */
export class HeldConnection {
  private server?: ChildProcess;
  private client?: ChildProcess;
  private lines: string[] = [];
  localPort?: number;

  constructor(
    private lab: Lab,
    private router: string,
    private port = 7007,
  ) {}

  async open(): Promise<number> {
    const host = this.lab.plan.whoami.address;
    const serverJs = `const net = require('net');
      const s = net.createServer((c) => { c.on('error', () => {}); c.on('data', (d) => c.write(d)); });
      s.on('error', (e) => { console.log('error ' + e.message); process.exit(1); });
      s.listen({ host: ${JSON.stringify(host)}, port: ${this.port} }, () => console.log('listening'));`;
    this.server = spawn('ip', ['netns', 'exec', this.lab.plan.inetNs, process.execPath, '-e', serverJs], { stdio: ['ignore', 'pipe', 'pipe'] });
    await this.waitLine(this.server, /^listening$/, 10_000);
    const clientJs = `const net = require('net');
      const s = net.connect({ host: ${JSON.stringify(host)}, port: ${this.port} });
      s.setEncoding('utf8');
      s.on('connect', () => console.log('connected ' + s.localPort));
      s.on('data', (d) => console.log('data ' + d.trim()));
      s.on('error', (e) => console.log('error ' + (e.code || e.message)));
      s.on('close', () => { console.log('close'); process.exit(0); });
      process.stdin.setEncoding('utf8');
      process.stdin.on('data', (d) => s.write(d));`;
    this.client = spawn('ip', ['netns', 'exec', this.lab.router(this.router).lanNs, process.execPath, '-e', clientJs], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.client.stdout!.setEncoding('utf8').on('data', (d: string) => this.lines.push(...d.split('\n').filter(Boolean)));
    const m = await this.waitFor(/^connected ([0-9]+)$/, 10_000);
    this.localPort = Number(m[1]);
    return this.localPort;
  }

  /** Send a line; resolves with what came of it: its echo, a reset or nothing within timeoutMs. */
  async send(text: string, timeoutMs: number): Promise<{ outcome: 'echo' | 'error' | 'timeout'; line?: string; ms: number }> {
    const from = this.lines.length;
    const t0 = Date.now();
    this.client!.stdin!.write(`${text}\n`);
    while (Date.now() - t0 < timeoutMs) {
      const l = this.lines.slice(from).find((x) => x === `data ${text}` || x.startsWith('error') || x === 'close');
      if (l) return { outcome: l.startsWith('data') ? 'echo' : 'error', line: l, ms: Date.now() - t0 };
      await sleep(50);
    }
    return { outcome: 'timeout', ms: Date.now() - t0 };
  }

  close(): void {
    for (const c of [this.client, this.server]) if (c && c.exitCode === null) c.kill('SIGTERM');
  }

  private async waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      for (const l of this.lines) {
        const m = re.exec(l);
        if (m) return m;
      }
      if (this.lines.some((l) => l.startsWith('error'))) break;
      await sleep(50);
    }
    throw new Error(`held connection: no ${re} (got: ${this.lines.join(' | ')})`);
  }

  private waitLine(c: ChildProcess, re: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`echo server: no ${re} (got: ${buf})`)), timeoutMs);
      c.stdout!.setEncoding('utf8').on('data', (d: string) => {
        buf += d;
        if (buf.split('\n').some((l) => re.test(l))) {
          clearTimeout(timer);
          resolve();
        }
      });
      c.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`echo server exited (${code}): ${buf}`));
      });
    });
  }
}

/** `describe` label suffix and console prefix for a scenario. */
/** `promtool ARGS` (Debian's prometheus package), INPUT on its stdin: its output; a failure fails the test with what it said. */
export function promtool(args: string[], input?: string): string {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8' });
  expect(r.status, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}`).toBe(0);
  return r.stdout + r.stderr;
}

/**
 * The router's metrics textfile once it satisfies `ready` (edge-metrics rewrites it every few
 * seconds), checked with `promtool check metrics`.
 */
export async function checkedMetrics(lab: Lab, router: string, what: string, ready: (text: string) => boolean, timeoutMs = 30_000): Promise<string> {
  const { value } = await pollFor(`${router}: ${what}`, timeoutMs, async () => {
    const r = await lab.run(router, ['cat', PATHS.metricsTextfile], { allowFail: true });
    return r.code === 0 && ready(r.stdout) ? r.stdout : undefined;
  }, 500);
  promtool(['check', 'metrics'], value);
  return value;
}

export function report(scenario: string, line: string): void {
  console.log(`[issue 4 / ${scenario}] ${line}`);
}

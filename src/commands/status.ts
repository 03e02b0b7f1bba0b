import { InvalidArgumentError, type Command } from 'commander';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { askSshAhead, connectorFor, type ConnectionSettings } from '../engine/connect.js';
import { plannedTasks, resolvePlays } from '../engine/run-playbook.js';
import {
  hostStatusFrom,
  statusNeeds,
  statusScript,
  statusTargetOf,
  type HostPlay,
  type HostStatus,
  type StatusTarget,
} from '../engine/status.js';
import { fleetSummary, type FleetSummary } from '../engine/status-fleet.js';
import { errorMessage } from '../errors.js';
import { MARK as FACTS_MARK } from '../facts/probe.js';
import type { FactNeeds } from '../facts/types.js';
import { selectHosts } from '../inventory/limit.js';
import type { Inventory } from '../inventory/types.js';
import { loadPlaybook } from '../playbook/load.js';
import type { Playbook } from '../playbook/types.js';
import type { SshConnection } from '../ssh/connection.js';
import { screenJson, screenSafe } from '../ui/screen.js';
import { statusText } from '../ui/status.js';
import { fleetText } from '../ui/status-fleet.js';
import { hostsExitCode } from './exit-codes.js';
import { claimInterruptions } from './interrupt.js';
import { withSchemaVersion } from './json-output.js';
import { addConnectionOptions, inventoryFrom, connectionSettings, type ConnectionFlags } from './options.js';

/**
 * `edge status -i NAME [--limit P] [--json] [--watch [SECONDS]] [--playbook FILE]`: per router, in
 * ONE exec, which WAN new flows use, each WAN's health, flows and NAT counters, keepalived, and the
 * drift from the playbook (its tasks planned against facts gathered in the same exec). A fleet
 * whose blocks do not fit one screen gets the fleet view instead (src/ui/status-fleet.ts); --json
 * always has both the summary and every host. With --watch the connections stay open between
 * refreshes: each refresh costs one exec per router.
 */

/** The playbook edge ships (playbooks/failover.yaml next to src/ or dist/). */
export const DEFAULT_STATUS_PLAYBOOK = fileURLToPath(new URL('../../playbooks/failover.yaml', import.meta.url));

/** One router to ask: its script is built once and reused by every refresh. */
export interface StatusHost {
  name: string;
  address: string;
  target: StatusTarget;
  plays: HostPlay[];
  needs: FactNeeds;
  script: string;
  connect: () => Promise<SshConnection>;
}

/** The selected hosts with the plays of the playbook they are in (bad input throws before any connection). */
export function statusHosts(inventory: Inventory, playbook: Playbook, limit: string | undefined, settings: ConnectionSettings): StatusHost[] {
  const names = selectHosts(inventory, limit);
  const playsOf = new Map<string, HostPlay[]>();
  for (const rp of resolvePlays(inventory, playbook, limit)) {
    const tasks = plannedTasks(rp.play);
    for (const h of rp.hosts) playsOf.set(h.name, [...(playsOf.get(h.name) ?? []), { name: rp.play.name, vars: h.vars, tasks }]);
  }
  // A host in no play of the playbook is still asked about, with its inventory variables.
  const varsOf = (name: string) => playsOf.get(name)?.[0]?.vars ?? inventory.hosts.get(name)!.vars;
  return names.map((name) => {
    const hostPlays = playsOf.get(name) ?? [];
    const vars = varsOf(name);
    const target = statusTargetOf(vars);
    const needs = statusNeeds(hostPlays);
    return {
      name,
      address: vars.ansible_host ?? name,
      target,
      plays: hostPlays,
      needs,
      script: statusScript(target, needs),
      connect: connectorFor(name, vars, settings),
    };
  });
}

/** Open connections by host, kept between refreshes; a connection that broke is made again. */
export class ConnectionPool {
  private readonly conns = new Map<string, SshConnection>();
  /** Connections opened so far (with --watch, one per host unless one broke). */
  connects = 0;

  async get(h: Pick<StatusHost, 'name' | 'connect'>): Promise<SshConnection> {
    const c = this.conns.get(h.name);
    if (c?.isAlive) return c;
    c?.close();
    this.conns.delete(h.name);
    this.connects++;
    const fresh = await h.connect();
    this.conns.set(h.name, fresh);
    return fresh;
  }

  drop(name: string): void {
    this.conns.get(name)?.close();
    this.conns.delete(name);
  }

  closeAll(): void {
    for (const c of this.conns.values()) c.close();
    this.conns.clear();
  }
}

/** Every host's status, in parallel (forks), one exec each. Never throws: an unreachable host is a status. */
export async function collectStatus(
  hosts: readonly StatusHost[],
  pool: ConnectionPool,
  opts: { forks: number; timeoutMs: number; playbook: string },
): Promise<HostStatus[]> {
  const limit = pLimit(Math.max(1, opts.forks));
  return Promise.all(
    hosts.map((h) =>
      limit(async (): Promise<HostStatus> => {
        const t0 = performance.now();
        let execs = 0;
        try {
          const conn = await pool.get(h);
          const before = conn.execs;
          const res = await conn.exec(h.script, { timeoutMs: opts.timeoutMs });
          execs = conn.execs - before;
          if (res.code !== 0 && !res.stdout.includes(`${FACTS_MARK} end`)) {
            throw new Error(`the status script failed (exit ${res.code}): ${res.stderr.trim().slice(0, 500)}`);
          }
          const s = hostStatusFrom(h.name, res.stdout, h.target, h.plays, opts.playbook, h.needs);
          const { host, ...rest } = s;
          return { host, address: h.address, ...rest, execs, ms: Math.round(performance.now() - t0) };
        } catch (e) {
          pool.drop(h.name);
          return { host: h.name, address: h.address, ok: false, error: errorMessage(e), wans: [], units: {}, execs, ms: Math.round(performance.now() - t0) };
        }
      }),
    ),
  );
}

interface StatusFlags extends ConnectionFlags {
  json?: boolean;
  watch?: number | true;
  playbook?: string;
}

function watchSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0.5) throw new InvalidArgumentError('expected seconds (0.5 or more)');
  return n;
}

export const DEFAULT_WATCH_SECONDS = 2;
/** Default per-exec timeout of a status refresh (seconds). */
const STATUS_TIMEOUT_S = 30;

/** The playbook as the operator will recognise it: relative to the working directory when inside it. */
function displayPath(abs: string): string {
  const rel = path.relative(process.cwd(), abs);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : abs;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}

/** The lines one screen holds: the terminal's rows, or 24 (a log, a pipe). */
function screenRows(tty: boolean): number {
  return tty && process.stdout.rows ? process.stdout.rows : 24;
}

/**
 * One screen whatever the fleet: every router's block when they all fit under the heading (a few
 * routers), or the one router's (picked with --limit), else the fleet view (figures, then the routers that need a
 * look, worst first).
 */
export function screenText(statuses: readonly HostStatus[], summary: FleetSummary, opts: { color: boolean; at: Date; rows: number }): string {
  // Every string a router answered is escaped before the views add their colours.
  const blocks = statusText(screenSafe(statuses), opts);
  return statuses.length === 1 || blocks.split('\n').length <= opts.rows ? blocks : fleetText(screenSafe(summary), opts);
}

async function statusCommand(flags: StatusFlags): Promise<void> {
  const playbookFile = flags.playbook ?? displayPath(DEFAULT_STATUS_PLAYBOOK);
  const inventory = inventoryFrom(flags, flags.playbook && path.dirname(flags.playbook));
  const playbook = loadPlaybook(playbookFile);
  const settings = await connectionSettings(flags);
  await askSshAhead(selectHosts(inventory, flags.limit).map((name) => ({ name, vars: inventory.hosts.get(name)!.vars })), settings);
  const hosts = statusHosts(inventory, playbook, flags.limit, settings);
  const pool = new ConnectionPool();
  const opts = { forks: flags.forks, timeoutMs: settings.commandTimeoutMs, playbook: playbook.file };
  const tty = process.stdout.isTTY === true;
  const color = tty && !flags.json && !process.env.NO_COLOR;
  const print = (statuses: HostStatus[], at: Date, watching?: number) => {
    const summary = fleetSummary(statuses);
    if (flags.json) {
      const doc = withSchemaVersion('status', { at: at.toISOString(), playbook: playbook.file, summary, hosts: statuses });
      process.stdout.write(watching ? `${screenJson(doc)}\n` : `${screenJson(doc, 2)}\n`);
      return;
    }
    const footer = watching ? `\n\nevery ${watching} s; Ctrl-C to stop` : '';
    const text = screenText(statuses, summary, { color, at, rows: screenRows(tty) - (watching ? 2 : 0) });
    // On a terminal each refresh replaces the last; elsewhere (a log) they follow one another.
    process.stdout.write(watching && tty ? `\x1b[H\x1b[2J${text}${footer}\n` : `${text}${footer}\n${watching ? '\n' : ''}`);
  };

  if (flags.watch === undefined) {
    try {
      const statuses = await collectStatus(hosts, pool, opts);
      print(statuses, new Date());
      // A router that could not be reached cost no exec: 4; one that answered wrongly: 2.
      process.exitCode = hostsExitCode(statuses.map((s) => ({ ok: s.ok, unreachable: !s.ok && s.execs === 0 })));
    } finally {
      pool.closeAll();
    }
    return;
  }

  const every = flags.watch === true ? DEFAULT_WATCH_SECONDS : flags.watch;
  // Ctrl-C (or a closed pipe) is how watching ends, so it exits 0: stop now. Closing the
  // connections ends a refresh in flight at once (nothing more is printed).
  const interrupt = claimInterruptions(() => pool.closeAll());
  const signal = interrupt.signal;
  try {
    while (!signal.aborted) {
      const started = Date.now();
      const statuses = await collectStatus(hosts, pool, opts);
      if (signal.aborted) break;
      print(statuses, new Date(), every);
      await sleep(Math.max(0, started + every * 1000 - Date.now()), signal);
    }
  } finally {
    interrupt.release();
    pool.closeAll();
  }
  process.exitCode = 0;
}

export function register(program: Command): void {
  const cmd = addConnectionOptions(
    program
      .command('status')
      .description(
        'per router: which WAN new flows use, each WAN\'s health, flows and NAT per WAN, keepalived, the last WAN switch and the switches of the last 24 h, and drift from the playbook (one exec per router); a fleet larger than a screen: how many routers on each WAN, down, degraded, drifted, unreachable, and the worst first',
      ),
  )
    .option('--json', 'print machine-readable JSON (with --watch: one JSON document per line per refresh)')
    .option('-w, --watch [seconds]', `refresh every SECONDS (default ${DEFAULT_WATCH_SECONDS}) until Ctrl-C, over the same connections`, watchSeconds)
    .option('--playbook <file>', 'the playbook drift is measured against (default: the failover playbook shipped with edge)');
  // A status must not hang on one router: its default command timeout is shorter than a run's.
  const timeout = cmd.options.find((o) => o.long === '--command-timeout');
  if (timeout) timeout.defaultValue = STATUS_TIMEOUT_S;
  cmd.setOptionValueWithSource('commandTimeout', STATUS_TIMEOUT_S, 'default');
  cmd.action((flags: StatusFlags) => statusCommand(flags));
}

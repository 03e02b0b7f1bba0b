import type { Command } from 'commander';
import pLimit from 'p-limit';
import { errorMessage } from '../errors.js';
import { connectorFor, withConnection } from '../engine/connect.js';
import { listJournals } from '../engine/journal.js';
import { listRemoteRuns, type RemoteRun } from '../engine/rollback.js';
import { newestFirst } from '../engine/run-order.js';
import { runLockState } from '../engine/run-lock.js';
import { runRow } from '../engine/run-rows.js';
import type { RunResult } from '../engine/types.js';
import { selectHosts } from '../inventory/limit.js';
import { screenJson, screenWriter } from '../ui/screen.js';
import { resolve } from 'node:path';
import { withSchemaVersion } from './json-output.js';
import { addConnectionOptions, inventoryFrom, connectionSettings, type ConnectionFlags } from './options.js';

interface RunsFlags extends ConnectionFlags {
  json?: boolean;
  local?: boolean;
}

/**
 * Runs as the local journal recorded them, and — unless --local — as each host's snapshots say
 * (one exec per host): the host is the truth about whether it is applied or rolled back.
 */
async function runsCommand(flags: RunsFlags): Promise<void> {
  const inventory = inventoryFrom(flags);
  const names = selectHosts(inventory, flags.limit);
  const journals = (await listJournals()).filter((j) => resolve(j.inventory) === resolve(inventory.file));
  const remote = new Map<string, RemoteRun[] | string>();
  if (!flags.local) {
    const settings = await connectionSettings(flags);
    const limit = pLimit(flags.forks);
    await Promise.all(
      names.map((n) =>
        limit(async () => {
          try {
            remote.set(n, await withConnection(connectorFor(n, inventory.hosts.get(n)!.vars, settings), (conn) => listRemoteRuns(conn, settings.commandTimeoutMs)));
          } catch (e) {
            remote.set(n, `unreachable: ${errorMessage(e)}`);
          }
        }),
      ),
    );
  }
  const runIds = new Set<string>(journals.map((j) => j.runId));
  for (const r of remote.values()) if (Array.isArray(r)) for (const x of r) runIds.add(x.runId);
  // Newest first as the hosts numbered them, never by the ids' controller clocks.
  const perHost = [...remote.values()].filter((r): r is RemoteRun[] => Array.isArray(r)).map((r) => r.map((x) => x.runId));
  const rows = newestFirst(runIds, perHost).map((runId) => {
    const j = journals.find((x) => x.runId === runId);
    return runRow(runId, j, j ? journalStatus(j) : undefined, names, remote);
  });
  if (flags.json) {
    process.stdout.write(`${screenJson(withSchemaVersion('runs', { runs: rows }), 2)}\n`);
    return;
  }
  // A journal's details and a host's answers are router text: the screen sees them escaped.
  const write = screenWriter((s) => void process.stdout.write(s));
  if (!rows.length) write('no runs recorded\n');
  for (const r of rows) {
    write(`${r.runId}  ${r.status ?? '-'}${r.check ? ' (check)' : ''}  ${r.playbook ?? ''}\n`);
    for (const [h, s] of Object.entries(r.hosts)) write(`    ${h}: ${s}${r.details[h] ? ` — ${r.details[h]}` : ''}\n`);
    for (const n of r.notStarted) write(`    ${n.name}: not started — ${n.why}\n`);
  }
}

/** A journal that says "running" is believed only while its controller's process lives. */
function journalStatus(j: RunResult): string {
  if (j.status !== 'running') return j.status;
  return runLockState(j.runId) === 'live' ? 'running' : 'abandoned (its controller died; the hosts say how each ended)';
}

export function register(program: Command): void {
  addConnectionOptions(program.command('runs').description('list runs as each host knows them (confirmed, superseded, armed, restored-at-boot, rolled-back, pruned, ...) and hosts a stopped rollout did not start'))
    .option('--json', 'print as JSON')
    .option('--local', 'only the local journal; do not ask the hosts')
    .action((flags: RunsFlags) => runsCommand(flags));
}

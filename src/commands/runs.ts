import type { Command } from 'commander';
import pLimit from 'p-limit';
import { errorMessage } from '../errors.js';
import { connectorFor, withConnection } from '../engine/connect.js';
import { listJournals } from '../engine/journal.js';
import { listRemoteRuns, type RemoteRun } from '../engine/rollback.js';
import { selectHosts } from '../inventory/limit.js';
import { loadInventory } from '../inventory/load.js';
import { resolve } from 'node:path';
import { withSchemaVersion } from './json-output.js';
import { addConnectionOptions, connectionSettings, type ConnectionFlags } from './options.js';

interface RunsFlags extends ConnectionFlags {
  json?: boolean;
  local?: boolean;
}

/**
 * Runs as the local journal recorded them, and — unless --local — as each host's snapshots say
 * (one exec per host): the host is the truth about whether it is applied or rolled back.
 */
async function runsCommand(flags: RunsFlags): Promise<void> {
  const inventory = loadInventory(flags.inventory);
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
  const rows = [...runIds].sort().reverse().map((runId) => {
    const j = journals.find((x) => x.runId === runId);
    const hosts = Object.fromEntries(
      names.flatMap((n) => {
        const r = remote.get(n);
        const onHost = Array.isArray(r) ? r.find((x) => x.runId === runId)?.state : undefined;
        const inJournal = j?.hosts.find((h) => h.host === n);
        const state = onHost ?? (typeof r === 'string' ? r : inJournal ? `${inJournal.state} (journal)` : undefined);
        return state ? [[n, state]] : [];
      }),
    );
    return { runId, playbook: j?.playbook, check: j?.check, status: j?.status, startedAt: j?.startedAt, hosts };
  });
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(withSchemaVersion('runs', { runs: rows }), null, 2)}\n`);
    return;
  }
  if (!rows.length) process.stdout.write('no runs recorded\n');
  for (const r of rows) {
    process.stdout.write(`${r.runId}  ${r.status ?? '-'}${r.check ? ' (check)' : ''}  ${r.playbook ?? ''}\n`);
    for (const [h, s] of Object.entries(r.hosts)) process.stdout.write(`    ${h}: ${s}\n`);
  }
}

export function register(program: Command): void {
  addConnectionOptions(program.command('runs').description('list runs and the state each left every host in (applied, rolled back, ...)'))
    .option('--json', 'print as JSON')
    .option('--local', 'only the local journal; do not ask the hosts')
    .action((flags: RunsFlags) => runsCommand(flags));
}

import type { Command } from 'commander';
import pLimit from 'p-limit';
import { EdgeError } from '../errors.js';
import { connectorFor } from '../engine/connect.js';
import { readJournal, writeJournal } from '../engine/journal.js';
import { rollbackHost } from '../engine/rollback.js';
import { RUN_ID_RE } from '../engine/run-id.js';
import { selectHosts } from '../inventory/limit.js';
import { loadInventory } from '../inventory/load.js';
import { addConnectionOptions, connectionSettings, type ConnectionFlags } from './options.js';

async function rollbackCommand(runId: string, flags: ConnectionFlags & { json?: boolean }): Promise<void> {
  if (!RUN_ID_RE.test(runId)) throw new EdgeError('USAGE', `"${runId}" is not a run id (like 20261123T204501Z-1a2b); see edge runs`);
  const inventory = loadInventory(flags.inventory);
  const names = selectHosts(inventory, flags.limit);
  const settings = await connectionSettings(flags);
  const limit = pLimit(flags.forks);
  const results = await Promise.all(
    names.map((n) =>
      limit(() => rollbackHost(n, runId, connectorFor(n, inventory.hosts.get(n)!.vars, settings), settings.commandTimeoutMs)),
    ),
  );
  for (const r of results) process.stdout.write(`${r.host}: ${r.status} — ${r.message} [${r.durationMs} ms]\n`);
  const journal = await readJournal(runId);
  if (journal) {
    for (const r of results) {
      const h = journal.hosts.find((x) => x.host === r.host);
      if (h && r.status === 'rolled-back') {
        h.state = 'rolled-back';
        h.rollback = `rolled back by edge rollback at ${new Date().toISOString()}`;
      }
    }
    await writeJournal(journal);
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  // No snapshot where the run did change the host (or where no journal says it did not): it was
  // pruned (edge_snapshots_keep) or removed, and nothing was restored there — that is a failure.
  const changedBy = (host: string) => !journal || journal.hosts.some((h) => h.host === host && h.state !== 'unchanged');
  const bad = results.filter((r) => r.status === 'failed' || r.status === 'unreachable' || (r.status === 'no-snapshot' && changedBy(r.host)));
  process.exitCode = bad.length ? 1 : 0;
}

export function register(program: Command): void {
  addConnectionOptions(
    program
      .command('rollback')
      .description("restore the files and runtime state a run replaced, from the snapshot it left on each host (idempotent)")
      .argument('<run-id>', 'the run to undo (see edge runs)'),
  )
    .option('--json', 'print results as JSON')
    .action((runId: string, flags: ConnectionFlags & { json?: boolean }) => rollbackCommand(runId, flags));
}

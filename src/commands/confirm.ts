import type { Command } from 'commander';
import pLimit from 'p-limit';
import { EdgeError, errorMessage } from '../errors.js';
import { connectorFor, withConnection } from '../engine/connect.js';
import { confirmScript } from '../engine/deadman.js';
import { newHolder } from '../engine/host-lock.js';
import { readJournal, writeJournal } from '../engine/journal.js';
import { RUN_ID_RE } from '../engine/run-id.js';
import { selectHosts } from '../inventory/limit.js';
import { screenText } from '../ui/screen.js';
import { hostsExitCode } from './exit-codes.js';
import { addConnectionOptions, inventoryFrom, connectionSettings, type ConnectionFlags } from './options.js';

/** Disarms the dead-man timer of a run applied with --confirm manual: the change is kept. */
async function confirmCommand(runId: string, flags: ConnectionFlags): Promise<void> {
  if (!RUN_ID_RE.test(runId)) throw new EdgeError('USAGE', `"${runId}" is not a run id (see edge runs)`);
  const inventory = inventoryFrom(flags);
  const settings = await connectionSettings(flags);
  const hosts = selectHosts(inventory, flags.limit);
  // Every host's connection settled before any host is touched: a refusal (become) changes nothing.
  const connectors = hosts.map((h) => connectorFor(h, inventory.hosts.get(h)!.vars, settings));
  const limit = pLimit(flags.forks);
  const results = await Promise.all(
    hosts.map((host, i) =>
      limit(async () => {
        try {
          const r = await withConnection(connectors[i]!, (conn) =>
            conn.exec(confirmScript(runId, newHolder(runId, 'confirm', settings.commandTimeoutMs / 1000 + 60)), { timeoutMs: settings.commandTimeoutMs }),
          );
          if (r.code !== 0) return { host, ok: false, message: r.stderr.trim().replace(/^edge: /, '') };
          return { host, ok: true, message: 'confirmed: the change is kept, the timer is disarmed' };
        } catch (e) {
          return { host, ok: false, message: errorMessage(e) };
        }
      }),
    ),
  );
  for (const r of results) process.stdout.write(screenText(`${r.host}: ${r.message}\n`));
  const journal = await readJournal(runId);
  if (journal) {
    for (const r of results) {
      const h = journal.hosts.find((x) => x.host === r.host);
      if (h && r.ok) h.state = 'confirmed';
    }
    await writeJournal(journal);
  }
  process.exitCode = hostsExitCode(results);
}

export function register(program: Command): void {
  addConnectionOptions(
    program
      .command('confirm')
      .description('keep a run applied with --confirm manual: disarm the timer that would restore each host')
      .argument('<run-id>', 'the run to confirm'),
  ).action((runId: string, flags: ConnectionFlags) => confirmCommand(runId, flags));
}

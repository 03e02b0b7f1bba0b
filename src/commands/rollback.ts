import type { Command } from 'commander';
import pLimit from 'p-limit';
import { EdgeError } from '../errors.js';
import { askSshAhead, connectorFor } from '../engine/connect.js';
import { readJournal, writeJournal } from '../engine/journal.js';
import { BASELINE_ID } from '../engine/host-layout.js';
import { ROLLBACK_FAILED, rollbackHost } from '../engine/rollback.js';
import { hostsExitCode } from './exit-codes.js';
import { RUN_ID_RE } from '../engine/run-id.js';
import { selectHosts } from '../inventory/limit.js';
import { screenJson, screenText } from '../ui/screen.js';
import { addConnectionOptions, inventoryFrom, connectionSettings, type ConnectionFlags } from './options.js';

interface RollbackFlags extends ConnectionFlags {
  json?: boolean;
  baseline?: boolean;
}

async function rollbackCommand(runArg: string | undefined, flags: RollbackFlags): Promise<void> {
  if (flags.baseline && runArg) throw new EdgeError('USAGE', 'give a run id or --baseline, not both');
  if (!flags.baseline && !runArg) throw new EdgeError('USAGE', 'which run? give its id (see edge runs), or --baseline for the state before edge');
  const runId = flags.baseline ? BASELINE_ID : runArg!;
  if (!flags.baseline && !RUN_ID_RE.test(runId)) throw new EdgeError('USAGE', `"${runId}" is not a run id (like 20261123T204501Z-1a2b); see edge runs`);
  const inventory = inventoryFrom(flags);
  const names = selectHosts(inventory, flags.limit);
  const settings = await connectionSettings(flags);
  // Every host's connection settled before any host is touched: a refusal (become) changes nothing.
  await askSshAhead(names.map((name) => ({ name, vars: inventory.hosts.get(name)!.vars })), settings);
  const connectors = names.map((n) => connectorFor(n, inventory.hosts.get(n)!.vars, settings));
  const limit = pLimit(flags.forks);
  const waiting = (host: string) => (why: string) => void process.stderr.write(screenText(`${host}: ${why}\n`));
  const results = await Promise.all(names.map((n, i) => limit(() => rollbackHost(n, runId, connectors[i]!, settings.commandTimeoutMs, waiting(n)))));
  for (const r of results) process.stdout.write(screenText(`${r.host}: ${r.status} — ${r.message} [${r.durationMs} ms]\n`));
  const journal = flags.baseline ? undefined : await readJournal(runId);
  if (journal) {
    for (const r of results) {
      const h = journal.hosts.find((x) => x.host === r.host);
      if (h && (r.status === 'rolled-back' || r.status === 'restored-at-boot')) {
        h.state = 'rolled-back';
        const at = new Date().toISOString();
        h.rollback = r.status === 'rolled-back' ? `rolled back by edge rollback at ${at}` : `restored at boot (the host rebooted during edge rollback), seen at ${at}`;
      }
    }
    await writeJournal(journal);
  }
  if (flags.json) process.stdout.write(`${screenJson(results, 2)}\n`);
  // No snapshot where the run did change the host (or where no journal says it did not): it was
  // removed, and nothing was restored there — that is a failure (a pruned run says so itself).
  const changedBy = (host: string) => !journal || journal.hosts.some((h) => h.host === host && h.state !== 'unchanged');
  const bad = results.filter((r) => ROLLBACK_FAILED.has(r.status) || (!flags.baseline && r.status === 'no-snapshot' && changedBy(r.host)));
  process.exitCode = hostsExitCode(results.map((r) => ({ ok: !bad.includes(r), unreachable: r.status === 'unreachable' })));
}

export function register(program: Command): void {
  addConnectionOptions(
    program
      .command('rollback')
      .description('restore the files and runtime state a run replaced, from the snapshot it left on each host (once: a run already rolled back is left alone; --baseline: the state before edge)')
      .argument('[run-id]', 'the run to undo (see edge runs); later runs still applied must be undone first'),
  )
    .option('--baseline', "return each host to its state before edge's first change (never pruned)")
    .option('--json', 'print results as JSON')
    .action((runId: string | undefined, flags: RollbackFlags) => rollbackCommand(runId, flags));
}

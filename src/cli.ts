#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { register as registerConfirm } from './commands/confirm.js';
import { register as registerInventory } from './commands/inventory.js';
import { register as registerLab } from './commands/lab.js';
import { register as registerPick } from './commands/pick.js';
import { register as registerRollback } from './commands/rollback.js';
import { register as registerRun } from './commands/run.js';
import { register as registerRuns } from './commands/runs.js';
import { register as registerSchema } from './commands/schema.js';
import { register as registerStatus } from './commands/status.js';
import { setWarningSink } from './config/warnings.js';
import { EdgeError, EdgeErrors, formatError } from './errors.js';

/**
 * The one place that turns errors into text and exit codes. Commands throw EdgeError(s) or set
 * process.exitCode; everything else is wiring.
 */
export function buildProgram(): Command {
  const program = new Command('edge')
    .description(
      'Dual-WAN failover for a fleet of Linux edge routers, over SSH: idempotent tasks, check mode with diffs,\n' +
        'snapshots and rollback of every run.',
    )
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerRun(program);
  registerRollback(program);
  registerConfirm(program);
  registerRuns(program);
  registerStatus(program);
  registerInventory(program);
  registerSchema(program);
  registerPick(program);
  registerLab(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  setWarningSink((w) => process.stderr.write(`edge: warning: ${formatError(w).replace(/\n/g, '\nedge: ')}\n`));
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof EdgeError || e instanceof EdgeErrors) {
      process.stderr.write(`edge: ${formatError(e).replace(/\n/g, '\nedge: ')}\n`);
      return 1;
    }
    process.stderr.write(`edge: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

// Run when executed (bin or tsx), not when imported by tests.
const invoked = process.argv[1] ?? '';
if (/(^|[/\\])cli\.(ts|js)$/.test(invoked) || invoked.endsWith('/edge')) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}

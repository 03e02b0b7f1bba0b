import { CommanderError } from 'commander';
import { EdgeError, EdgeErrors, formatError, type ErrorCode } from './errors.js';
import { EXIT } from './commands/exit-codes.js';
import { watchOutputs } from './commands/interrupt.js';
import { buildProgram } from './commands/program.js';
import { invokedCommand } from './commands/registry.js';
import { setWarningSink } from './config/warnings.js';
import { screenText } from './ui/screen.js';

/**
 * The one place that turns errors into text and exit codes (see commands/exit-codes.ts). Commands
 * throw EdgeError(s) or set process.exitCode; everything else is wiring.
 */

const CODE_EXIT: Partial<Record<ErrorCode, number>> = {
  USAGE: EXIT.badOptions,
  CONFIG: EXIT.badOptions,
  CONNECT: EXIT.unreachable,
  HOSTKEY: EXIT.unreachable,
  INTERRUPTED: EXIT.interrupted,
};

export function errorExitCode(e: EdgeError | EdgeErrors): number {
  const code = e instanceof EdgeErrors ? e.errors[0]?.code : e.code;
  return (code && CODE_EXIT[code]) ?? EXIT.error;
}

/** Commander's own exits: help and version are 0, anything it refused is a bad option. */
function commanderExitCode(e: CommanderError): number {
  return e.exitCode === 0 ? EXIT.ok : EXIT.badOptions;
}

export async function main(argv: string[]): Promise<number> {
  watchOutputs();
  setWarningSink((w) => process.stderr.write(`edge: warning: ${screenText(formatError(w)).replace(/\n/g, '\nedge: ')}\n`));
  try {
    const program = await buildProgram(invokedCommand(argv.slice(2)));
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return commanderExitCode(e);
    if (e instanceof EdgeError || e instanceof EdgeErrors) {
      process.stderr.write(`edge: ${screenText(formatError(e)).replace(/\n/g, '\nedge: ')}\n`);
      return errorExitCode(e);
    }
    process.stderr.write(`edge: internal error: ${screenText(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
    return EXIT.error;
  }
}

/**
 * A stand-alone `edge lab …` for tests (and for running the lab before src/cli.ts wires it in):
 *   node --import tsx test/integration/lab/cli.ts up --routers 2
 * Errors are printed the way the CLI prints them, with exit code 1 (2 for usage errors).
 */
import { Command } from 'commander';
import { register } from '../../../src/commands/lab.js';
import { EdgeError, formatError } from '../../../src/errors.js';

const program = new Command('edge').exitOverride();
register(program);
try {
  await program.parseAsync(['node', 'edge', 'lab', ...process.argv.slice(2)]);
} catch (e) {
  if ((e as { code?: string }).code?.startsWith('commander.')) {
    process.exitCode = (e as { exitCode?: number }).exitCode ?? 2;
  } else {
    process.stderr.write(`edge lab: ${formatError(e)}\n`);
    process.exitCode = e instanceof EdgeError && e.code === 'USAGE' ? 2 : 1;
  }
}

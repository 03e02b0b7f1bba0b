import type { Command } from 'commander';
import { manPage } from '../ui/man-page.js';
import { fullModel } from './cli-model.js';
import { DETAILED_EXIT_TABLE, EXIT_TABLE } from './exit-codes.js';
import { VERSION } from './program.js';

export async function manText(date = new Date().toISOString().slice(0, 10)): Promise<string> {
  return manPage({ root: await fullModel(), version: VERSION, date, exitCodes: EXIT_TABLE, detailedExitCodes: DETAILED_EXIT_TABLE });
}

export function register(program: Command): void {
  program
    .command('man')
    .description('print the man page (roff), e.g. edge man > edge.1 && man -l edge.1')
    .action(async () => {
      process.stdout.write(await manText());
    });
}

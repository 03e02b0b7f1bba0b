import { Command } from 'commander';
import { registerCommands, type CommandEntry } from './registry.js';

export const VERSION = '0.1.0';

/**
 * The `edge` command tree. `load` says which commands get their real definitions: the invoked one
 * (the others are stubs, so `edge --help` stays fast), or all of them (completion, man page).
 * Settings from ansible.cfg and edge's own file fill in options not given on the command line,
 * just before the action runs (commands/settings.ts).
 */
export async function buildProgram(load: 'all' | CommandEntry | undefined): Promise<Command> {
  const program = new Command('edge')
    .description(
      'Dual-WAN failover for a fleet of Linux edge routers, over SSH: idempotent tasks, check mode with diffs, snapshots and rollback of every run.',
    )
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .hook('preAction', async (_root, action) => {
      const { applySettings } = await import('./settings.js');
      applySettings(action);
    });
  await registerCommands(program, load);
  return program;
}

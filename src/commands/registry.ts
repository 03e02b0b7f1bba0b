import type { Command } from 'commander';

/**
 * Every subcommand, in the order `edge --help` lists them, with what the top-level help shows.
 * A command's module (options, action and everything it imports) is loaded only when that command
 * runs, so `edge --help` loads none of them; completion and the man page load them all. The
 * summaries must equal the modules' own descriptions (test/unit/cli/registry.test.ts).
 */
export interface CommandEntry {
  name: string;
  /** Positional arguments as the module declares them, e.g. `<playbook>`. */
  args: string[];
  summary: string;
  /** Not listed in help (the completion scripts' helper). */
  hidden?: boolean;
  load(): Promise<{ register(program: Command): void }>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'run',
    args: ['<playbook>'],
    summary: 'apply a playbook to the hosts of an inventory (or, with --check, show what would change)',
    load: () => import('./run.js'),
  },
  {
    name: 'rollback',
    args: ['[run-id]'],
    summary: 'restore the files and runtime state a run replaced, from the snapshot it left on each host (once: a run already rolled back is left alone; --baseline: the state before edge)',
    load: () => import('./rollback.js'),
  },
  {
    name: 'confirm',
    args: ['<run-id>'],
    summary: 'keep a run applied with --confirm manual: disarm the timer that would restore each host',
    load: () => import('./confirm.js'),
  },
  {
    name: 'runs',
    args: [],
    summary: 'list runs as each host knows them (confirmed, superseded, armed, restored-at-boot, rolled-back, pruned, ...) and hosts a stopped rollout did not start',
    load: () => import('./runs.js'),
  },
  {
    name: 'status',
    args: [],
    summary:
      "per router: which WAN new flows use, each WAN's health, flows and NAT per WAN, keepalived, the last WAN switch and the switches of the last 24 h, and drift from the playbook (one exec per router); a fleet larger than a screen: how many routers on each WAN, down, degraded, drifted, unreachable, and the worst first",
    load: () => import('./status.js'),
  },
  {
    name: 'inventory',
    args: [],
    summary: 'show resolved hosts and their effective variables, and where each value comes from',
    load: () => import('./inventory.js'),
  },
  {
    name: 'config',
    args: [],
    summary: 'show the settings in effect (flags, ANSIBLE_* variables, edge settings, ansible.cfg) and where each came from',
    load: () => import('./config.js'),
  },
  {
    name: 'schema',
    args: [],
    summary: 'write JSON Schemas for inventory and playbook files and for the --json outputs',
    load: () => import('./schema.js'),
  },
  {
    name: 'pick',
    args: [],
    summary: 'ask which interface of each host is WAN1, WAN2, LAN and management, and write the answers into the inventory',
    load: () => import('./pick.js'),
  },
  {
    name: 'lab',
    args: [],
    summary: 'a local fleet of real Debian routers (systemd-nspawn) with faults on demand; needs root',
    load: () => import('./lab.js'),
  },
  {
    name: 'completion',
    args: ['<shell>'],
    summary: 'print a completion script for bash, zsh or fish',
    load: () => import('./completion.js'),
  },
  {
    name: 'man',
    args: [],
    summary: 'print the man page (roff), e.g. edge man > edge.1 && man -l edge.1',
    load: () => import('./man.js'),
  },
  {
    name: '__complete',
    args: ['<what>'],
    summary: 'words for the shell completion scripts',
    hidden: true,
    load: () => import('./complete-words.js'),
  },
];

/** Registers a light stand-in (name, arguments, summary) for a command whose module is not loaded. */
export function registerStub(program: Command, e: CommandEntry): void {
  const cmd = program.command(e.name, { hidden: e.hidden === true }).description(e.summary).allowUnknownOption().allowExcessArguments();
  for (const a of e.args) cmd.argument(a);
}

/** The command named on the command line (`edge help run` names run), if any. */
export function invokedCommand(args: readonly string[]): CommandEntry | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return COMMANDS.find((c) => c.name === name);
}

/** Registers every command: the invoked one (or all, for completion and man) for real, stubs for the rest. */
export async function registerCommands(program: Command, load: 'all' | CommandEntry | undefined): Promise<void> {
  const real = new Map<string, { register(p: Command): void }>();
  for (const e of COMMANDS) if (load === 'all' || load === e) real.set(e.name, await e.load());
  for (const e of COMMANDS) {
    const mod = real.get(e.name);
    if (mod) mod.register(program);
    else registerStub(program, e);
  }
}

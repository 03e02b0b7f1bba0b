import { Option, type Command } from 'commander';
import { newRunId } from '../engine/run-id.js';
import { resolvePlays, runPlaybook } from '../engine/run-playbook.js';
import type { RunReporter, RunResult } from '../engine/types.js';
import { loadInventory } from '../inventory/load.js';
import { loadPlaybook } from '../playbook/load.js';
import { lineReporter, ListrReporter } from '../ui/progress.js';
import { diffText, recapText } from '../ui/recap.js';
import { addConnectionOptions, becomePassword, positiveNumber, type ConnectionFlags } from './options.js';

interface RunFlags extends ConnectionFlags {
  check?: boolean;
  diff?: boolean;
  json?: boolean;
  detailedExitcode?: boolean;
  rollback: boolean;
  plain?: boolean;
  confirm?: 'auto' | 'manual';
  confirmTimeout?: number;
  forceLockoutRisk?: boolean;
}

/** 0: nothing to change; 2: changes pending (check) or made; 1: any host failed or was unreachable. */
export function exitCode(run: RunResult, detailed: boolean): number {
  if (run.status !== 'ok') return 1;
  if (detailed && run.hosts.some((h) => h.status === 'changed')) return 2;
  return 0;
}

function useListr(flags: RunFlags, hostCount: number): boolean {
  return !flags.plain && !flags.json && process.stdout.isTTY === true && !process.env.CI && hostCount <= 60;
}

/** First Ctrl-C: start nothing new, let in-flight commands finish, roll back part-way hosts. Second: exit. */
function interruptController(write: (s: string) => void): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onSigint = () => {
    if (ac.signal.aborted) process.exit(130);
    write('\nedge: interrupted — finishing in-flight commands, rolling back hosts left part-way (Ctrl-C again to quit now)\n');
    ac.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    },
  };
}

async function runCommand(playbookPath: string, flags: RunFlags): Promise<void> {
  // All input is loaded and validated before any connection: bad input changes nothing anywhere.
  const inventory = loadInventory(flags.inventory);
  const playbook = loadPlaybook(playbookPath);
  const plays = resolvePlays(inventory, playbook, flags.limit);
  const out = flags.json ? process.stderr : process.stdout;
  const write = (s: string) => out.write(s);
  const runId = newRunId();
  const interrupt = interruptController(write);
  const connection = {
    acceptNewHostKeys: flags.acceptNewHostKeys === true,
    connectTimeoutMs: flags.connectTimeout * 1000,
    commandTimeoutMs: flags.commandTimeout * 1000,
    becomePassword: await becomePassword(flags.askBecomePass),
  };
  if (flags.forceLockoutRisk) write('edge: WARNING: --force-lockout-risk: hosts whose change would cut this session are changed anyway; each restores itself if unreachable\n');
  write(`edge run ${runId}: ${playbook.file} on ${inventory.file}${flags.check ? ' (check mode: nothing will be changed)' : ''}\n`);
  let run: RunResult;
  try {
    run = await runPlaybook(inventory, playbook, plays, {
      runId,
      check: flags.check === true,
      noRollback: !flags.rollback,
      forceLockoutRisk: flags.forceLockoutRisk === true,
      forks: flags.forks,
      confirm: flags.confirm,
      confirmTimeoutSec: flags.confirmTimeout,
      connection,
      signal: interrupt.signal,
      reporterFor: (play, hosts) => {
        write(`PLAY ${play.name} [${hosts.length} host${hosts.length === 1 ? '' : 's'}]\n`);
        if (useListr(flags, hosts.length)) {
          const listr = new ListrReporter();
          const done = listr.start(
            hosts.map((h) => h.name),
            play.tasks.map((t) => t.task),
          );
          return { reporter: listr, done };
        }
        const reporter: RunReporter = lineReporter((l) => write(`${l}\n`));
        return { reporter };
      },
    });
  } finally {
    interrupt.dispose();
  }
  if (flags.diff) {
    const text = diffText(run, out.isTTY === true && !process.env.NO_COLOR);
    if (text) write(`\n${text}\n`);
  }
  write(`\n${recapText(run)}\njournal: .edge/runs/${run.runId}.json\n`);
  if (flags.json) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
  process.exitCode = exitCode(run, flags.detailedExitcode === true);
}

export function register(program: Command): void {
  addConnectionOptions(
    program
      .command('run')
      .description('apply a playbook to the hosts of an inventory (or, with --check, show what would change)')
      .argument('<playbook>', 'playbook file, e.g. playbooks/failover.yaml'),
  )
    .option('-C, --check', 'plan and report what would change; change nothing on any host')
    .option('-D, --diff', 'print the diff of every change (file diffs, runtime before/after)')
    .option('--json', 'print the run result as JSON on stdout (progress goes to stderr)')
    .option('--detailed-exitcode', 'exit 0 when nothing changed, 2 when changes are pending or made, 1 on failure')
    .option('--no-rollback', 'leave a host as it is when a task fails (its snapshot stays for `edge rollback`)')
    .addOption(
      new Option('--confirm <mode>', 'auto: confirm over a new SSH connection after verify; manual: leave the dead-man timer armed for `edge confirm`').choices(['auto', 'manual']),
    )
    .option('--confirm-timeout <seconds>', "seconds after edge's last change before an unconfirmed host restores itself (default: the play's confirm_timeout, 120)", positiveNumber)
    .option('--force-lockout-risk', 'apply even where the preflight says the change cuts edge\'s own SSH session (the dead-man timer still restores the host)')
    .option('--plain', 'plain line output even on a terminal')
    .action((playbook: string, flags: RunFlags) => runCommand(playbook, flags));
}

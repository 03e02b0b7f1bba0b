import { Option, type Command } from 'commander';
import path from 'node:path';
import { EdgeError } from '../errors.js';
import { readJournal } from '../engine/journal.js';
import { checkRunId, newRunId } from '../engine/run-id.js';
import { resolvePlays, runPlaybook } from '../engine/run-playbook.js';
import type { RunReporter, RunResult } from '../engine/types.js';
import { loadPlaybook } from '../playbook/load.js';
import { lineReporter, ListrReporter } from '../ui/progress.js';
import { inquirerPrompter } from '../ui/prompts.js';
import { diffText, recapText } from '../ui/recap.js';
import { missingInterfaceVars, pickInterfaces, sshFactsGatherer } from './pick.js';
import { addConnectionOptions, inventoryFrom, connectionSettings, positiveNumber, type ConnectionFlags } from './options.js';

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
  waitForWindow?: boolean;
  resume?: string;
}

/** 0: nothing to change; 2: changes pending (check) or made; 1: any host failed or was unreachable. */
export function exitCode(run: RunResult, detailed: boolean): number {
  if (run.status !== 'ok') return 1;
  if (detailed && run.hosts.some((h) => h.status === 'changed')) return 2;
  return 0;
}

function interactive(flags: RunFlags): boolean {
  return !flags.json && process.stdin.isTTY === true && process.stdout.isTTY === true && !process.env.CI;
}

/** The journal of the run to continue; it must be a rollout of the same playbook. */
async function loadResumable(runId: string, playbookFile: string): Promise<RunResult> {
  const j = await readJournal(checkRunId(runId, '--resume'));
  if (j && j.runId !== runId) throw new EdgeError('USAGE', `journal .edge/runs/${runId}.json holds run ${JSON.stringify(j.runId)}`, { field: '--resume' });
  if (!j) throw new EdgeError('USAGE', `no journal for run ${runId} in .edge/runs (see edge runs --local)`, { field: '--resume' });
  if (path.resolve(j.playbook) !== path.resolve(playbookFile))
    throw new EdgeError('USAGE', `run ${runId} was a run of ${j.playbook}, not ${playbookFile}`, { field: '--resume' });
  if (j.check) throw new EdgeError('USAGE', `run ${runId} was a check run; there is nothing to resume`, { field: '--resume' });
  return j;
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
  let inventory = inventoryFrom(flags, path.dirname(playbookPath));
  const playbook = loadPlaybook(playbookPath);
  let plays = resolvePlays(inventory, playbook, flags.limit);
  const out = flags.json ? process.stderr : process.stdout;
  const write = (s: string) => out.write(s);
  const resume = flags.resume ? await loadResumable(flags.resume, playbook.file) : undefined;
  const runId = resume?.runId ?? newRunId();
  const connection = await connectionSettings(flags);
  // Hosts without interface variables: a person at a terminal picks them now; elsewhere the
  // inventory-check task fails those hosts and lists their interfaces as candidates.
  const missing = [...new Set(plays.flatMap((p) => p.hosts).filter((h) => missingInterfaceVars(h.vars).length).map((h) => h.name))];
  if (missing.length && interactive(flags)) {
    write(`${missing.join(', ')}: interface variables missing — pick them now (they are written into ${inventory.file})\n`);
    await pickInterfaces({ inventory: inventory.file, extraVars: flags.extraVars, limit: missing.join(','), gather: sshFactsGatherer(connection) }, inquirerPrompter());
    inventory = inventoryFrom(flags, path.dirname(playbookPath));
    plays = resolvePlays(inventory, playbook, flags.limit);
  }
  const interrupt = interruptController(write);
  if (flags.forceLockoutRisk) write('edge: WARNING: --force-lockout-risk: hosts whose change would cut this session are changed anyway; each restores itself if unreachable\n');
  write(
    `edge run ${runId}: ${playbook.file} on ${inventory.file}${flags.check ? ' (check mode: nothing will be changed)' : ''}${resume ? ' (resumed)' : ''}\n`,
  );
  let run: RunResult;
  try {
    run = await runPlaybook(inventory, playbook, plays, {
      runId,
      check: flags.check === true,
      noRollback: !flags.rollback,
      forceLockoutRisk: flags.forceLockoutRisk === true,
      waitForWindow: flags.waitForWindow === true,
      resume,
      say: (line) => write(`${line}\n`),
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
    .option('--wait-for-window', 'outside the maintenance window, wait for it to open instead of stopping')
    .option('--resume <run-id>', 'continue an interrupted or window-stopped rollout with the hosts it has not done')
    .option('--plain', 'plain line output even on a terminal')
    .action((playbook: string, flags: RunFlags) => runCommand(playbook, flags));
}

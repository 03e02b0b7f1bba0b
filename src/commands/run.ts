import { Option, type Command } from 'commander';
import path from 'node:path';
import { EdgeError } from '../errors.js';
import { readJournal } from '../engine/journal.js';
import { planRollout } from '../engine/rollout.js';
import { checkRunId, newRunId } from '../engine/run-id.js';
import { resolvePlays, runPlaybook, type ResolvedPlay } from '../engine/run-playbook.js';
import type { RunReporter, RunResult } from '../engine/types.js';
import { loadPlaybook } from '../playbook/load.js';
import { selectTasks, type TaskSelection } from '../playbook/tags.js';
import { listHostsText, listTasksText, type ListedPlay } from '../ui/listing.js';
import { inquirerPrompter } from '../ui/prompts.js';
import { diffText, recapText } from '../ui/recap.js';
import type { RunView } from '../ui/run-view.js';
import { screenWriter, writeScreenJson } from '../ui/screen.js';
import { outputWidth, wrapLines } from '../ui/width.js';
import { exitCodeHelp, runExitCode } from './exit-codes.js';
import { claimInterruptions, interruptionText, writable } from './interrupt.js';
import { missingInterfaceVars, pickInterfaces, sshFactsGatherer } from './pick.js';
import { addConnectionOptions, inventoryFrom, connectionSettings, positiveNumber, type ConnectionFlags } from './options.js';
import { withSchemaVersion } from './json-output.js';

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
  listHosts?: boolean;
  listTasks?: boolean;
  tags?: string[];
  skipTags?: string[];
}

function interactive(flags: RunFlags): boolean {
  return !flags.json && process.stdin.isTTY === true && process.stdout.isTTY === true && !process.env.CI;
}

/** The journal of the run to continue; it must be a rollout of the same playbook. */
async function loadResumable(runId: string, playbookFile: string): Promise<RunResult> {
  const j = await readJournal(checkRunId(runId, '--resume'));
  if (j && j.runId !== runId) throw new EdgeError('USAGE', `journal .edge/runs/${runId}.jsonl holds run ${JSON.stringify(j.runId)}`, { field: '--resume' });
  if (!j) throw new EdgeError('USAGE', `no journal for run ${runId} in .edge/runs (see edge runs --local)`, { field: '--resume' });
  if (path.resolve(j.playbook) !== path.resolve(playbookFile))
    throw new EdgeError('USAGE', `run ${runId} was a run of ${j.playbook}, not ${playbookFile}`, { field: '--resume' });
  if (j.check) throw new EdgeError('USAGE', `run ${runId} was a check run; there is nothing to resume`, { field: '--resume' });
  return j;
}

/** The live view needs a terminal that nothing else writes to (-v traces go to stderr, which is the same one). */
function useLiveView(flags: RunFlags): boolean {
  return !flags.plain && !flags.json && !flags.verbose && process.stdout.isTTY === true && !process.env.CI;
}

/**
 * Output that survives a closed pipe: once stdout is gone, what is left to say goes to stderr, or
 * nowhere. Everything goes through the terminal encoder; `raw` is for the views that escape their
 * text themselves and add their own colours and cursor moves (the live view, a coloured diff).
 */
function outputWriter(preferred: NodeJS.WriteStream): ((s: string) => void) & { raw: (s: string) => void } {
  const raw = (s: string) => {
    const stream = writable(preferred) ? preferred : writable(process.stderr) ? process.stderr : undefined;
    stream?.write(s);
  };
  return Object.assign(screenWriter(raw), { raw });
}

/** --tags/--skip-tags narrow every play's tasks; what was added because a task needs it is said once. */
function applyTags(plays: ResolvedPlay[], sel: TaskSelection): { plays: ResolvedPlay[]; notes: Map<number, string[]> } {
  const notes = new Map<number, string[]>();
  const out = plays.map((rp) => {
    const s = selectTasks(rp.play, sel);
    notes.set(rp.play.index, s.notes);
    return { ...rp, play: { ...rp.play, tasks: s.tasks } };
  });
  return { plays: out, notes };
}

function listed(plays: ResolvedPlay[], notes: Map<number, string[]>): ListedPlay[] {
  return plays.map((rp) => ({
    index: rp.play.index,
    name: rp.play.name,
    pattern: rp.play.hosts,
    hosts: rp.hosts.map((h) => h.name),
    batches: planRollout(rp.play, rp.hosts).batches.map((b) => b.map((h) => h.name)),
    tasks: rp.play.tasks,
    notes: notes.get(rp.play.index) ?? [],
  }));
}

/** Per batch: listr2 tasks, drawn as the live view on a terminal (erased when the batch is over), plain lines elsewhere. */
function reporterFor(flags: RunFlags, write: ReturnType<typeof outputWriter>, views: RunView[], View: typeof RunView) {
  return (play: ResolvedPlay['play'], hosts: { name: string }[]): { reporter: RunReporter; done?: Promise<unknown> } => {
    write(`PLAY ${play.name} [${hosts.length} host${hosts.length === 1 ? '' : 's'}]\n`);
    const view = new View(
      hosts.map((h) => h.name),
      {
        live: useLiveView(flags),
        term: { write: write.raw, columns: () => outputWidth(process.stdout), rows: () => process.stdout.rows ?? 24 },
        writeLine: (l) => write(`${l}\n`),
      },
    );
    views.push(view);
    return { reporter: view, done: view.done };
  };
}

async function runCommand(playbookPath: string, flags: RunFlags): Promise<void> {
  // All input is loaded and validated before any connection: bad input changes nothing anywhere.
  let inventory = inventoryFrom(flags, path.dirname(playbookPath));
  const playbook = loadPlaybook(playbookPath);
  const sel: TaskSelection = { tags: flags.tags, skipTags: flags.skipTags };
  let { plays, notes } = applyTags(resolvePlays(inventory, playbook, flags.limit), sel);
  const out = flags.json ? process.stderr : process.stdout;
  const write = outputWriter(out);
  if (flags.listHosts || flags.listTasks) {
    if (flags.listHosts) write(listHostsText(playbook.file, listed(plays, notes)));
    if (flags.listTasks) write(listTasksText(playbook.file, listed(plays, notes)));
    return;
  }
  // listr2 loads here, not with the command: --help and --list-* never draw a view (it is ~50 ms of CPU).
  const { RunView: View } = await import('../ui/run-view.js');
  const width = outputWidth(out);
  const say = (line: string) => write(`${wrapLines(line, width, '', '  ').join('\n')}\n`);
  // `--resume ""` is a run id too (an invalid one): never a fresh full rollout in its place.
  const resume = flags.resume !== undefined ? await loadResumable(flags.resume, playbook.file) : undefined;
  const runId = resume?.runId ?? newRunId();
  const connection = await connectionSettings(flags);
  // Hosts without interface variables: a person at a terminal picks them now; elsewhere the
  // inventory-check task fails those hosts and lists their interfaces as candidates.
  const missing = [...new Set(plays.flatMap((p) => p.hosts).filter((h) => missingInterfaceVars(h.vars).length).map((h) => h.name))];
  if (missing.length && interactive(flags)) {
    say(`${missing.join(', ')}: interface variables missing — pick them now (they are written into ${inventory.file})`);
    await pickInterfaces({ inventory: inventory.file, extraVars: flags.extraVars, limit: missing.join(','), gather: sshFactsGatherer(connection) }, inquirerPrompter());
    inventory = inventoryFrom(flags, path.dirname(playbookPath));
    ({ plays, notes } = applyTags(resolvePlays(inventory, playbook, flags.limit), sel));
  }
  for (const n of [...notes.values()].flat()) say(`edge: --tags: ${n}`);
  const interrupt = claimInterruptions((reason) => {
    // Said on stderr: stdout may be the pipe that just closed, and the live view owns the terminal.
    const w = outputWriter(process.stderr);
    w(`\n${wrapLines(interruptionText(reason), width, '', 'edge:   ').join('\n')}\n`);
  });
  if (flags.forceLockoutRisk)
    say("edge: WARNING: --force-lockout-risk: hosts whose change would cut this session are changed anyway; each restores itself if unreachable");
  say(`edge run ${runId}: ${playbook.file} on ${inventory.file}${flags.check ? ' (check mode: nothing will be changed)' : ''}${resume ? ' (resumed)' : ''}`);
  let run: RunResult;
  const views: RunView[] = [];
  try {
    run = await runPlaybook(inventory, playbook, plays, {
      runId,
      check: flags.check === true,
      keepDiffs: flags.diff === true,
      noRollback: !flags.rollback,
      forceLockoutRisk: flags.forceLockoutRisk === true,
      waitForWindow: flags.waitForWindow === true,
      resume,
      say,
      forks: flags.forks,
      confirm: flags.confirm,
      confirmTimeoutSec: flags.confirmTimeout,
      connection,
      signal: interrupt.signal,
      reporterFor: reporterFor(flags, write, views, View),
    });
  } finally {
    for (const view of views) view.stop();
    interrupt.release();
  }
  if (flags.diff) {
    const text = diffText(run, out.isTTY === true && !process.env.NO_COLOR);
    if (text) write.raw(`\n${text}\n`);
  }
  write(`\n${recapText(run, width)}\njournal: .edge/runs/${run.runId}.jsonl\n`);
  if (flags.json && writable(process.stdout)) await writeScreenJson(process.stdout, withSchemaVersion('run', run));
  process.exitCode = runExitCode(run, flags.detailedExitcode === true);
}

function list(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
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
    .option('--list-hosts', 'list the hosts each play would run on (and its batches); connect to none')
    .option('--list-tasks', 'list the tasks each play would run (after --tags/--skip-tags); connect to none')
    .option('-t, --tags <tasks>', 'only these tasks (task or name:, comma-separated; with what they need)', list)
    .option('--skip-tags <tasks>', 'leave these tasks out (refused when a task that runs needs one)', list)
    .option('--no-rollback', 'leave a host as it is when a task fails (its snapshot stays for `edge rollback`)')
    .addOption(
      new Option('--confirm <mode>', 'auto: confirm over a new SSH connection after verify; manual: leave the dead-man timer armed for `edge confirm`').choices(['auto', 'manual']),
    )
    .option('--confirm-timeout <seconds>', "seconds after edge's last change before an unconfirmed host restores itself (default: the play's confirm_timeout, 120)", positiveNumber)
    .option('--force-lockout-risk', 'apply even where the preflight says the change cuts edge\'s own SSH session (the dead-man timer still restores the host)')
    .option('--wait-for-window', 'outside the maintenance window, wait for it to open instead of stopping')
    .option('--resume <run-id>', 'continue an interrupted or window-stopped rollout with the hosts it has not done')
    .option('--plain', 'plain line output even on a terminal')
    .addHelpText('after', `\n${exitCodeHelp()}`)
    .action((playbook: string, flags: RunFlags) => runCommand(playbook, flags));
}

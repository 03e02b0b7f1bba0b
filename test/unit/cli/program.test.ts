import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS, invokedCommand } from '../../../src/commands/registry.js';
import { buildProgram } from '../../../src/commands/program.js';
import { EXIT, exitCodeHelp, exitCodeMarkdown, runExitCode } from '../../../src/commands/exit-codes.js';
import type { HostResult, RunResult } from '../../../src/engine/types.js';
import { REPO } from '../../integration/edge-cli.js';

const README = readFileSync(`${REPO}README.md`, 'utf8');

/** The README section between two markers, as written. */
function readmeBlock(name: string): string {
  const m = new RegExp(`<!-- ${name}:begin -->\\n([\\s\\S]*?)<!-- ${name}:end -->`).exec(README);
  if (!m) throw new Error(`README has no ${name} block`);
  return m[1]!;
}

describe('the command registry (lazy subcommands)', () => {
  it("each stub says what the command's own module says: name, summary, arguments", async () => {
    const full = await buildProgram('all');
    for (const e of COMMANDS) {
      const real = full.commands.find((c) => c.name() === e.name)!;
      expect(real, e.name).toBeDefined();
      expect(real.description(), e.name).toBe(e.summary);
      expect(real.registeredArguments.map((a) => (a.required ? `<${a.name()}${a.variadic ? '...' : ''}>` : `[${a.name()}]`)), e.name).toEqual(e.args);
    }
    expect(full.commands.map((c) => c.name())).toEqual([...COMMANDS.map((c) => c.name)]);
  });

  it('loads only the command on the command line', async () => {
    expect(invokedCommand(['run', 'x.yaml', '-i', 'lab'])?.name).toBe('run');
    expect(invokedCommand(['help', 'status'])?.name).toBe('status');
    expect(invokedCommand(['--help'])).toBeUndefined();
    const p = await buildProgram(undefined);
    // a stub has no options of its own; the real `run` has dozens
    expect(p.commands.find((c) => c.name() === 'run')!.options).toHaveLength(0);
  });

  it("the README's command table is what `edge --help` lists", async () => {
    const p: Command = await buildProgram(undefined);
    const rows = p.commands
      .filter((c) => !(c as unknown as { _hidden: boolean })._hidden)
      .map((c) => `| \`edge ${[c.name(), ...c.registeredArguments.map((a) => `<${a.name()}>`)].join(' ')}\` | ${c.description()} |`);
    expect(readmeBlock('commands')).toBe(`| command | what it does |\n|---|---|\n${rows.join('\n')}\n`);
  });
});

const host = (status: HostResult['status']): HostResult => ({
  host: `h-${status}`,
  status,
  state: 'unchanged',
  tasks: [],
  durationMs: 1,
  execs: 1,
  bytesSent: 0,
  bytesReceived: 0,
});
const run = (status: RunResult['status'], hosts: HostResult['status'][], stop?: string): RunResult => ({
  runId: 'x',
  playbook: 'p',
  inventory: 'i',
  check: false,
  startedAt: '',
  status,
  hosts: hosts.map(host),
  rollout: stop ? [{ version: 1, play: 0, hosts: [], batchCount: 2, batchIndex: 0, finished: false, stop: { reason: stop as 'window-closed', message: '', at: '' } }] : [],
});

describe('exit codes', () => {
  it("Ansible's by default", () => {
    expect(runExitCode(run('ok', ['ok', 'changed']), false)).toBe(0);
    expect(runExitCode(run('failed', ['ok', 'failed']), false)).toBe(EXIT.hostFailed);
    expect(runExitCode(run('failed', ['failed', 'unreachable']), false)).toBe(EXIT.unreachable);
    expect(runExitCode(run('interrupted', ['ok', 'interrupted']), false)).toBe(EXIT.interrupted);
    expect(runExitCode(run('stopped', ['ok'], 'window-closed'), false)).toBe(EXIT.windowStopped);
    expect(runExitCode(run('stopped', ['ok'], 'window-not-open'), false)).toBe(EXIT.windowStopped);
    expect(runExitCode(run('failed', ['failed'], 'max-fail-percentage'), false)).toBe(EXIT.hostFailed);
  });

  it("Terraform's with --detailed-exitcode; interrupted stays 99", () => {
    expect(runExitCode(run('ok', ['ok']), true)).toBe(0);
    expect(runExitCode(run('ok', ['ok', 'changed']), true)).toBe(2);
    expect(runExitCode(run('failed', ['changed', 'failed']), true)).toBe(1);
    expect(runExitCode(run('failed', ['unreachable']), true)).toBe(1);
    expect(runExitCode(run('stopped', ['ok'], 'window-closed'), true)).toBe(1);
    expect(runExitCode(run('interrupted', ['ok']), true)).toBe(99);
  });

  it('one table: `edge run --help` and the README show it', async () => {
    const p = await buildProgram(invokedCommand(['run']));
    let help = '';
    const runCmd = p.commands.find((c) => c.name() === 'run')!;
    runCmd.configureOutput({ writeOut: (s) => (help += s) });
    runCmd.outputHelp();
    expect(help).toContain(exitCodeHelp().trimEnd());
    expect(readmeBlock('exit-codes')).toBe(exitCodeMarkdown());
    for (const line of help.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });
});

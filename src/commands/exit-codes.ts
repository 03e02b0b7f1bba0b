import type { RunResult } from '../engine/types.js';

/**
 * edge's exit codes: Ansible's by default, so a script can tell a bad flag from a failed or an
 * unreachable router. This table is the one definition: `edge run --help`, the README table and
 * the code below all come from it.
 */
export const EXIT = {
  ok: 0,
  error: 1,
  hostFailed: 2,
  windowStopped: 3,
  unreachable: 4,
  badOptions: 5,
  interrupted: 99,
} as const;

export type ExitName = keyof typeof EXIT;

export const EXIT_TABLE: readonly { code: number; meaning: string }[] = [
  { code: EXIT.ok, meaning: 'every host ok (changed or not)' },
  { code: EXIT.error, meaning: 'an error that is not about one host (internal error, lab error)' },
  { code: EXIT.hostFailed, meaning: 'a host failed (a task, verify, confirm or rollback)' },
  { code: EXIT.windowStopped, meaning: 'the rollout stopped at its maintenance window (finish it with --resume)' },
  { code: EXIT.unreachable, meaning: 'a host was unreachable (wins over 2)' },
  { code: EXIT.badOptions, meaning: 'bad options, inventory, playbook or config (nothing was touched)' },
  { code: EXIT.interrupted, meaning: 'interrupted: a signal (SIGINT, SIGTERM, SIGHUP) or a closed output pipe' },
];

/** With --detailed-exitcode (Terraform's meaning); 5 and 99 keep their meaning. */
export const DETAILED_EXIT_TABLE: readonly { code: number; meaning: string }[] = [
  { code: 0, meaning: 'nothing to change' },
  { code: 1, meaning: 'a host failed or was unreachable, or the window stopped the rollout' },
  { code: 2, meaning: 'changes pending (--check) or made' },
];

/** The exit code of a finished run. */
export function runExitCode(run: Pick<RunResult, 'status' | 'hosts' | 'rollout'>, detailed: boolean): number {
  if (run.status === 'interrupted') return EXIT.interrupted;
  const unreachable = run.hosts.some((h) => h.status === 'unreachable');
  const failed = run.hosts.some((h) => h.status === 'failed' || h.status === 'interrupted');
  const windowStop = (run.rollout ?? []).some((r) => r.stop?.reason.startsWith('window'));
  if (detailed) {
    if (unreachable || failed || run.status !== 'ok') return 1;
    return run.hosts.some((h) => h.status === 'changed') ? 2 : 0;
  }
  if (unreachable) return EXIT.unreachable;
  if (failed || run.status === 'failed') return EXIT.hostFailed;
  if (windowStop) return EXIT.windowStopped;
  return run.status === 'ok' ? EXIT.ok : EXIT.hostFailed;
}

/** The exit code of a per-host command (status, rollback, confirm): unreachable wins over failed. */
export function hostsExitCode(results: readonly { ok: boolean; unreachable?: boolean }[]): number {
  if (results.some((r) => r.unreachable)) return EXIT.unreachable;
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.hostFailed;
}

/** Rendered as text for `--help` (aligned columns, wrapped under the meaning). */
export function exitCodeHelp(): string {
  const rows = (t: readonly { code: number; meaning: string }[]) => t.map((r) => `  ${String(r.code).padStart(2)}  ${r.meaning}`).join('\n');
  return `Exit codes:\n${rows(EXIT_TABLE)}\n\nExit codes with --detailed-exitcode:\n${rows(DETAILED_EXIT_TABLE)}\n`;
}

/** Rendered as the README's markdown table. */
export function exitCodeMarkdown(): string {
  const rows = (t: readonly { code: number; meaning: string }[]) => t.map((r) => `| ${r.code} | ${r.meaning} |`).join('\n');
  return `| code | meaning |\n|---|---|\n${rows(EXIT_TABLE)}\n\nWith \`--detailed-exitcode\` (Terraform's meaning; 5 and 99 as above):\n\n| code | meaning |\n|---|---|\n${rows(DETAILED_EXIT_TABLE)}\n`;
}

import type { HostResult, RunResult, TaskResult } from '../engine/types.js';
import { screenLine, screenSafe, screenText } from './screen.js';
import { DEFAULT_WIDTH, wrapLines } from './width.js';

export function describeTask(r: TaskResult): string {
  const n = r.changes.length;
  const what = r.status === 'changed' ? `changed (${n} change${n === 1 ? '' : 's'})` : r.status;
  // Remote errors end with edge's own "edge: ..." line; tool output (nft's carets) comes before it.
  const lines = (r.error ?? '').split('\n').filter((l) => l.trim());
  const err = r.error ? `: ${(lines.filter((l) => l.startsWith('edge: ')).pop() ?? lines.pop() ?? '').replace(/^edge: /, '')}` : '';
  return `${what}${err} [${r.durationMs} ms]`;
}

export function counts(h: HostResult) {
  const c = { ok: 0, changed: 0, failed: 0, skipped: 0 };
  for (const t of h.tasks) c[t.status]++;
  if (h.status === 'unreachable') c.failed = Math.max(c.failed, 1);
  return c;
}

/** ok and changed hosts are described by their state; the others by what went wrong (and the state, when it changed). */
function outcome(h: HostResult): string {
  if (h.status === 'ok' || h.status === 'changed') return h.state;
  return h.state === 'unchanged' ? h.status : `${h.status}, ${h.state}`;
}

const INDENT = '    ';

/**
 * What is said under a host's line, each fact once: its error (a refused host's error is the
 * failed tasks' errors joined, so the tasks' errors are not repeated), how it was rolled back,
 * the host's notes (a lock taken over, a clock that disagrees) and the tasks' — wrapped to the width.
 */
function hostDetails(h: HostResult, width: number, common: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const said = new Set<string>(common);
  const say = (text: string, first = INDENT) => {
    if (said.has(text)) return;
    said.add(text);
    out.push(...wrapLines(text, width, first, INDENT + '  '));
  };
  if (h.error && ['failed', 'unreachable', 'interrupted'].includes(h.status)) for (const part of h.error.split('; ')) say(part);
  if (h.rollback) say(h.rollback);
  for (const n of h.notes ?? []) say(n);
  for (const t of h.tasks) for (const n of t.notes ?? []) say(n, `${INDENT}${t.task}: `);
  return out;
}

/** Notes every host of the run has (the same timing note on 40 routers): said once, after the hosts. */
function commonNotes(run: RunResult): { task: string; note: string }[] {
  if (run.hosts.length < 2) return [];
  const per = run.hosts.map((h) => new Set(h.tasks.flatMap((t) => (t.notes ?? []).map((n) => `${t.task}\u0000${n}`))));
  return [...per[0]!].filter((k) => per.every((s) => s.has(k))).map((k) => {
    const [task, note] = k.split('\u0000') as [string, string];
    return { task, note };
  });
}

/** The end-of-run recap: one line per host, like Ansible's PLAY RECAP, then what it has to say. */
export function recapText(hostile: RunResult, width = DEFAULT_WIDTH): string {
  // Errors, notes and rollbacks quote router output: escaped before they are wrapped to the width.
  const run = screenSafe(hostile);
  const pad = Math.min(16, Math.max(4, ...run.hosts.map((h) => h.host.length)));
  const lines = [`RECAP run ${run.runId}${run.check ? ' (check mode: nothing was changed)' : ''}`];
  const common = commonNotes(run);
  const commonSet = new Set(common.map((c) => c.note));
  for (const h of run.hosts) {
    const c = counts(h);
    const facts = `ok=${c.ok} changed=${c.changed} failed=${c.failed} skipped=${c.skipped}  ${outcome(h)}  ${h.execs} execs ${(h.durationMs / 1000).toFixed(1)} s`;
    const line = `${h.host.padEnd(pad)}  ${facts}`;
    // A name too long to share the line with its counts gets a line of its own.
    lines.push(...(line.length <= width ? [line] : [h.host, `${INDENT}${facts}`]));
    lines.push(...hostDetails(h, width, commonSet));
  }
  if (common.length) lines.push(`every host (${run.hosts.length}):`);
  for (const c of common) lines.push(...wrapLines(c.note, width, `${INDENT}${c.task}: `, INDENT + '  '));
  for (const r of run.rollout ?? []) {
    if (!r.stop) continue;
    lines.push(...wrapLines(`rollout stopped: ${r.stop.message}`, width, '', '  '));
    // A check run changed nothing, so there is nothing to resume (--resume refuses a check run):
    // it is simply run again. A command to copy stays on one line, whatever its length.
    if (run.check) lines.push('  check again with:', `    edge run ${run.playbook} -i ${run.inventory} --check`);
    else lines.push('  resume with:', `    edge run ${run.playbook} -i ${run.inventory} --resume ${run.runId}`);
  }
  return lines.join('\n');
}

/** Diffs of every change, per host and task, optionally coloured (diffs keep their lines whole), router text escaped. */
export function diffText(run: RunResult, color: boolean): string {
  const paint = (l: string) => {
    if (!color) return l;
    if (l.startsWith('+++') || l.startsWith('---')) return `\x1b[1m${l}\x1b[0m`;
    if (l.startsWith('+')) return `\x1b[32m${l}\x1b[0m`;
    if (l.startsWith('-')) return `\x1b[31m${l}\x1b[0m`;
    if (l.startsWith('@@')) return `\x1b[36m${l}\x1b[0m`;
    return l;
  };
  const out: string[] = [];
  for (const h of run.hosts) {
    for (const t of h.tasks) {
      for (const c of t.changes) {
        out.push(screenLine(`==> ${h.host} ${t.task}: ${c.summary}`));
        // Diff bodies are a router's file contents: escaped before edge adds its colours.
        out.push(...(c.diff ?? '').replace(/\n$/, '').split('\n').map((l) => paint(screenText(l))));
      }
    }
  }
  return out.join('\n');
}

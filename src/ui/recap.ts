import type { HostResult, RunResult, TaskResult } from '../engine/types.js';

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

/** The end-of-run recap, one line per host, like Ansible's PLAY RECAP. */
export function recapText(run: RunResult): string {
  const width = Math.max(4, ...run.hosts.map((h) => h.host.length));
  const lines = [`RECAP run ${run.runId}${run.check ? ' (check mode: nothing was changed)' : ''}`];
  for (const h of run.hosts) {
    const c = counts(h);
    lines.push(
      `${h.host.padEnd(width)}  ok=${c.ok} changed=${c.changed} failed=${c.failed} skipped=${c.skipped}  ` +
        `status=${h.status} state=${h.state} execs=${h.execs} ${h.durationMs} ms`,
    );
    if (h.error && (h.status === 'failed' || h.status === 'unreachable' || h.status === 'interrupted'))
      lines.push(`${' '.repeat(width)}  ${h.error.split('\n').join(`\n${' '.repeat(width + 2)}`)}`);
    if (h.rollback) lines.push(`${' '.repeat(width)}  ${h.rollback}`);
    for (const t of h.tasks) for (const n of t.notes ?? []) lines.push(`${' '.repeat(width)}  ${t.task}: ${n}`);
  }
  for (const r of run.rollout ?? []) {
    if (!r.stop) continue;
    lines.push(`rollout stopped: ${r.stop.message}`);
    lines.push(`  resume with: edge run ${run.playbook} -i ${run.inventory} --resume ${run.runId}`);
  }
  return lines.join('\n');
}

/** Diffs of every change, per host and task, optionally coloured. */
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
        out.push(`==> ${h.host} ${t.task}: ${c.summary}`);
        out.push(...(c.diff ?? '').replace(/\n$/, '').split('\n').map(paint));
      }
    }
  }
  return out.join('\n');
}

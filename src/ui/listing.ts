import type { TaskEntry } from '../playbook/types.js';

/**
 * --list-hosts and --list-tasks, laid out as ansible-playbook prints them (so eyes and scripts
 * used to Ansible read them the same way), with edge's batches where a play has `serial`.
 */
export interface ListedPlay {
  index: number;
  name: string;
  pattern: string;
  hosts: string[];
  batches: string[][];
  tasks: TaskEntry[];
  notes: string[];
}

function playHeader(p: ListedPlay): string {
  return `  play #${p.index + 1} (${p.pattern}): ${p.name}\tTAGS: []`;
}

export function listHostsText(playbook: string, plays: readonly ListedPlay[]): string {
  const out = [`playbook: ${playbook}`, ''];
  for (const p of plays) {
    out.push(playHeader(p), `    pattern: ['${p.pattern}']`, `    hosts (${p.hosts.length}):`, ...p.hosts.map((h) => `      ${h}`));
    if (p.batches.length > 1) p.batches.forEach((b, i) => out.push(`    batch ${i + 1}/${p.batches.length}: ${b.join(', ')}`));
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

export function listTasksText(playbook: string, plays: readonly ListedPlay[]): string {
  const out = [`playbook: ${playbook}`, ''];
  for (const p of plays) {
    out.push(playHeader(p), '    tasks:');
    for (const t of p.tasks) out.push(`      ${t.name === t.task ? t.task : `${t.name} (${t.task})`}\tTAGS: [${t.task}]`);
    for (const n of p.notes) out.push(`    # ${n}`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

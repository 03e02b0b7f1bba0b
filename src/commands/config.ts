import type { Command } from 'commander';
import { addConnectionOptions } from './options.js';
import { loadSettingFiles, resolveSettings, type Resolved } from './settings.js';

/** `edge config`: each connection setting in effect, and where it came from. */

function show(v: unknown): string {
  return v === undefined ? '(not set)' : String(v);
}

function origin(r: Resolved): string {
  switch (r.source) {
    case 'cli':
      return `command line (${r.def.flag})`;
    case 'env':
      return `environment ${r.where}`;
    case 'edge':
      return `edge settings ${r.where}`;
    case 'ansible.cfg':
      return `ansible.cfg ${r.where} (${r.def.ansible!.key})`;
    default:
      return 'default';
  }
}

/** The table: setting, value, origin (a table: it keeps its shape rather than wrap). */
export function configText(rows: readonly Resolved[], files: ReturnType<typeof loadSettingFiles>): string {
  const table = [['setting', 'value', 'from'], ...rows.map((r) => [r.def.flag, show(r.value), origin(r)])];
  const w0 = Math.max(...table.map((t) => t[0]!.length));
  const w1 = Math.min(40, Math.max(...table.map((t) => t[1]!.length)));
  const lines = table.map(([a, b, c]) => `${a!.padEnd(w0)}  ${b!.padEnd(w1)}  ${c}`);
  const sources = [
    `ansible.cfg: ${files.ansibleCfg?.file ?? 'none found (ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg, /etc/ansible/ansible.cfg)'}`,
    `edge settings: ${files.edge?.file ?? 'none found (EDGE_CONFIG, ./.edge/config.yaml, ~/.config/edge/config.yaml)'}`,
    ...files.warnings.map((w) => `warning: ${w}`),
  ];
  return `${lines.join('\n')}\n\n${sources.join('\n')}\n`;
}

export function register(program: Command): void {
  addConnectionOptions(
    program
      .command('config')
      .description('show the settings in effect (flags, ANSIBLE_* variables, edge settings, ansible.cfg) and where each came from'),
  )
    .option('--json', 'print as JSON')
    .action((flags: { json?: boolean }, cmd: Command) => {
      const files = loadSettingFiles();
      const rows = resolveSettings(cmd, files);
      if (flags.json) {
        const doc = Object.fromEntries(rows.map((r) => [r.def.option, { value: r.value, source: r.source, ...(r.where ? { where: r.where } : {}) }]));
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
      } else process.stdout.write(configText(rows, files));
    });
}

import type { Command } from 'commander';
import { Document } from 'yaml';
import { EdgeError, formatPos } from '../errors.js';
import { didYouMean } from '../config/suggest.js';
import { toAnsibleList } from '../inventory/ansible-list.js';
import { selectHosts } from '../inventory/limit.js';
import { loadInventory } from '../inventory/load.js';
import { OUTPUT_SCHEMA_VERSION } from './json-output.js';
import type { Inventory, ResolvedHost, VarSource } from '../inventory/types.js';

interface InventoryOptions {
  inventory: string;
  limit?: string;
  json?: boolean;
  host?: string;
}

function flow(value: unknown): string {
  return new Document(value).toString({ collectionStyle: 'flow', lineWidth: 0 }).trim();
}

function origin(src: VarSource): string {
  const where = src.scope === 'group' ? `group ${src.group}` : src.scope;
  return `${where}, ${formatPos(src)}`;
}

/**
 * One host as readable YAML: the variables that were set, each followed by where its value came
 * from (the one that won precedence), then edge's defaults for the rest.
 */
export function renderHostText(host: ResolvedHost): string {
  const lines = [`${host.name}:`, `  # groups: ${host.groups.join(', ')}`];
  const names = Object.keys(host.vars).sort();
  const set = names.filter((k) => host.varSources[k]);
  const defaults = names.filter((k) => !host.varSources[k]);
  const entry = (k: string) => `${k}: ${flow(host.vars[k])}`;
  // align the comments, but let a long value (a window) run past instead of pushing all of them out
  const width = Math.max(0, ...set.map((k) => entry(k).length).filter((n) => n <= 48));
  for (const k of set) lines.push(`  ${entry(k).padEnd(width)}  # ${origin(host.varSources[k]!)}`);
  if (defaults.length > 0) lines.push('  # defaults:');
  for (const k of defaults) lines.push(`  ${entry(k)}`);
  return `${lines.join('\n')}\n`;
}

/** The text `edge inventory` prints: every selected host with its effective variables. */
export function renderInventoryText(inventory: Inventory, hosts: readonly string[]): string {
  if (hosts.length === 0) return `# ${inventory.file}: no hosts selected\n`;
  return [`# ${inventory.file}`, ...hosts.map((h) => renderHostText(inventory.hosts.get(h)!))].join('\n');
}

/** What `edge inventory` prints for the given options (pure apart from reading the inventory). */
export function inventoryOutput(opts: InventoryOptions, cwd?: string): string {
  const inventory = loadInventory(opts.inventory, cwd);
  let hosts = selectHosts(inventory, opts.limit);
  if (opts.host !== undefined) {
    if (!inventory.hosts.has(opts.host)) {
      throw new EdgeError('USAGE', `no host ${opts.host} in ${inventory.file}${didYouMean(opts.host, inventory.hosts.keys())}`, {
        field: '--host',
      });
    }
    if (!hosts.includes(opts.host)) {
      throw new EdgeError('USAGE', `host ${opts.host} is not selected by --limit ${opts.limit}`, { field: '--host' });
    }
    hosts = [opts.host];
    if (opts.json) return `${JSON.stringify(inventory.hosts.get(opts.host)!.vars, null, 2)}\n`;
  }
  if (opts.json) {
    const list = toAnsibleList(inventory, hosts);
    // edge's schema version rides in _meta, which Ansible's consumers let through.
    return `${JSON.stringify({ ...list, _meta: { ...list._meta, edge: { schemaVersion: OUTPUT_SCHEMA_VERSION } } }, null, 2)}\n`;
  }
  return renderInventoryText(inventory, hosts);
}

export function register(program: Command): void {
  program
    .command('inventory')
    .description('show resolved hosts and their effective variables, and where each value comes from')
    // Not required here: ansible.cfg or edge's settings may name it (commands/settings.ts checks).
    .option('-i, --inventory <name>', 'inventory name (inventories/NAME.yaml) or path to a file')
    .option('-l, --limit <pattern>', 'only these hosts: names, groups, globs, !exclude, &intersect')
    .option('--json', 'print JSON like ansible-inventory --list (with --host: that host\'s variables)')
    .option('--host <name>', 'only this host')
    .action((opts: InventoryOptions) => {
      process.stdout.write(inventoryOutput(opts));
    });
}

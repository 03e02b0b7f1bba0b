import type { Command } from 'commander';
import { Document } from 'yaml';
import { EdgeError, formatPos } from '../errors.js';
import { didYouMean } from '../config/suggest.js';
import { ansibleHostVars, ansibleJson, toAnsibleList } from '../inventory/ansible-list.js';
import { selectHosts } from '../inventory/limit.js';
import { loadInventory } from '../inventory/load.js';
import { OUTPUT_SCHEMA_VERSION } from './json-output.js';
import type { Inventory, ResolvedHost, VarSource } from '../inventory/types.js';
import { addInventoryOptions } from './options.js';

interface InventoryOptions {
  inventory: string | string[];
  limit?: string;
  extraVars?: string[];
  playbookDir?: string;
  json?: boolean;
  resolved?: boolean;
  host?: string;
}

function flow(value: unknown): string {
  return new Document(value).toString({ collectionStyle: 'flow', lineWidth: 0 }).trim();
}

function origin(src: VarSource): string {
  const where = src.scope === 'group' ? `group ${src.group}` : src.scope === 'extra' ? 'extra vars (-e)' : src.scope;
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
  if (hosts.length === 0) return `# ${inventory.label}: no hosts selected\n`;
  return [`# ${inventory.label}`, ...hosts.map((h) => renderHostText(inventory.hosts.get(h)!))].join('\n');
}

/**
 * edge's view of each host, apart from Ansible's: the validated variables with edge's defaults
 * filled in, where each set value came from, and the host's groups in precedence order.
 */
export function resolvedJson(inventory: Inventory, hosts: readonly string[]): unknown {
  return {
    hosts: Object.fromEntries(
      hosts.map((name) => {
        const h = inventory.hosts.get(name)!;
        const sources = Object.fromEntries(
          Object.entries(h.varSources).map(([k, s]) => [k, { file: s.file, line: s.line, col: s.col, scope: s.scope, ...(s.group ? { group: s.group } : {}) }]),
        );
        return [name, { groups: h.groups, vars: h.vars, sources }];
      }),
    ),
  };
}

/** What `edge inventory` prints for the given options (pure apart from reading the inventory). */
export function inventoryOutput(opts: InventoryOptions, cwd?: string): string {
  // --json prints what ansible-inventory --list prints, for an inventory without hosts too (with a warning); edge run refuses it
  const allowNoHosts = opts.json === true && !opts.resolved && opts.host === undefined;
  const inventory = loadInventory(opts.inventory, { cwd, extraVars: opts.extraVars ?? [], playbookDir: opts.playbookDir, allowNoHosts });
  let hosts = selectHosts(inventory, opts.limit);
  if (opts.host !== undefined) {
    if (!inventory.hosts.has(opts.host)) {
      throw new EdgeError('USAGE', `no host ${opts.host} in ${inventory.label}${didYouMean(opts.host, inventory.hosts.keys())}`, {
        field: '--host',
      });
    }
    if (!hosts.includes(opts.host)) {
      throw new EdgeError('USAGE', `host ${opts.host} is not selected by --limit ${opts.limit}`, { field: '--host' });
    }
    hosts = [opts.host];
    if (opts.json && !opts.resolved) return ansibleJson(ansibleHostVars(inventory, opts.host));
  }
  if (opts.json && opts.resolved) return `${JSON.stringify({ schemaVersion: OUTPUT_SCHEMA_VERSION, ...(resolvedJson(inventory, hosts) as object) }, null, 2)}\n`;
  if (opts.json) {
    const list = toAnsibleList(inventory, opts.limit === undefined ? undefined : hosts);
    // edge's schema version rides in _meta, which Ansible's consumers let through.
    return ansibleJson({ ...list, _meta: { ...list._meta, edge: { schemaVersion: OUTPUT_SCHEMA_VERSION } } });
  }
  return renderInventoryText(inventory, hosts);
}

export function register(program: Command): void {
  addInventoryOptions(
    program
      .command('inventory')
      .description('show resolved hosts and their effective variables, and where each value comes from'),
  )
    .option('--json', 'print what ansible-inventory --list prints, edge\'s schema version in _meta.edge (with --host: what ansible-inventory --host prints)')
    .option('--resolved', "with --json: edge's view instead: validated variables with edge's defaults, and where each came from")
    .option('--playbook-dir <dir>', "also read group_vars/ and host_vars/ next to a playbook there (as ansible-inventory's --playbook-dir)")
    .option('--host <name>', 'only this host')
    .action((opts: InventoryOptions) => {
      process.stdout.write(inventoryOutput(opts));
    });
}

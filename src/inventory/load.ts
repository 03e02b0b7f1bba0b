import path from 'node:path';
import { EdgeErrors, type EdgeError } from '../errors.js';
import { warn } from '../config/warnings.js';
import { positionOf } from '../config/yaml-position.js';
import type { YamlSource } from '../config/yaml-source.js';
import { NO_EXTRA_VARS, readExtraVars, type ExtraVars } from './extra-vars.js';
import { hostGroups, hostVarLayers, mergeLayers, VarsFileCache } from './precedence.js';
import { readStructure } from './read-structure.js';
import { readInventorySources } from './sources.js';
import type { Inventory, ResolvedHost } from './types.js';
import { mergeHostErrors, validateHostVars } from './validate-host-vars.js';

export interface InventoryOptions {
  /** Where relative paths are read from (and shown relative to). */
  cwd?: string;
  /** Directories whose group_vars/ and host_vars/ apply, one per inventory source. */
  varsDirs?: readonly string[];
  /** The playbook's directory: its group_vars/ and host_vars/ apply too (over the inventory's). */
  playbookDir?: string;
  /** `-e` values as given on the command line. */
  extraVars?: readonly string[] | ExtraVars;
  /** An inventory without hosts is a warning, not an error (edge inventory --json, as ansible-inventory --list). */
  allowNoHosts?: boolean;
}

/**
 * Builds the inventory from parsed sources: structure, precedence (inventory vars, group_vars /
 * host_vars files, -e), then every host's variables validated. Every host is validated, not just
 * the ones a run targets, so a broken inventory is found on the first command that reads it. All
 * problems are thrown together.
 */
export function parseInventory(input: YamlSource | readonly YamlSource[], opts: InventoryOptions = {}): Inventory {
  const sources = Array.isArray(input) ? input : [input as YamlSource];
  const cwd = opts.cwd ?? process.cwd();
  const extra = Array.isArray(opts.extraVars) ? readExtraVars(opts.extraVars as readonly string[], cwd) : ((opts.extraVars as ExtraVars | undefined) ?? NO_EXTRA_VARS);
  const structure = readStructure(sources, { allowNoHosts: opts.allowNoHosts === true });
  for (const w of structure.warnings) warn(w);
  const dirs = { inventory: opts.varsDirs ?? [], playbook: opts.playbookDir && path.resolve(cwd, opts.playbookDir), cwd };
  const files = new VarsFileCache(dirs);
  const errors: EdgeError[] = [...structure.errors];
  const hosts = new Map<string, ResolvedHost>();
  const pending: { name: string; groups: string[]; raw: Record<string, unknown>; sources: ResolvedHost['varSources'] }[] = [];
  for (const name of structure.hosts) {
    const groups = hostGroups(structure, name);
    const merged = mergeLayers([...hostVarLayers(structure, name, groups, dirs, files), extra]);
    pending.push({ name, groups, raw: merged.vars, sources: merged.sources });
  }
  const allFiles = [...sources, ...files.read, ...extra.files];
  for (const { name, groups, raw, sources: varSources } of pending) {
    const first = structure.hostFirst.get(name)!;
    const result = validateHostVars({ host: name, raw, sources: varSources, hostSource: first.source, hostPath: first.path, files: allFiles });
    if (result.errors) {
      errors.push(...result.errors);
      continue;
    }
    hosts.set(name, {
      name,
      groups,
      vars: result.vars,
      varSources,
      rawVars: raw,
      pos: positionOf(first.source, first.path, 'key'),
      source: first.source,
      yamlPath: first.path,
    });
  }
  if (errors.length > 0) throw new EdgeErrors(mergeHostErrors(errors));
  const file = sources[0]?.file ?? '';
  return {
    file,
    label: sources.map((s) => s.file).join(', '),
    hosts,
    groups: structure.groups,
    source: sources[0]!,
    sources: allFiles,
    extraVars: { vars: extra.vars, sources: extra.sources },
  };
}

/** Reads one inventory file by path (relative paths against `cwd`, and shown as given). */
export function readInventory(file: string, cwd: string = process.cwd()): Inventory {
  return loadInventory([file], { cwd });
}

/**
 * `-i NAME|PATH|DIR|h1,h2,` (repeatable) → the loaded inventory: every source read and merged as
 * Ansible merges them, group_vars / host_vars next to each source (and the playbook), then `-e`.
 */
export function loadInventory(values: string | readonly string[], opts: InventoryOptions | string = {}): Inventory {
  const o = typeof opts === 'string' ? { cwd: opts } : opts;
  const cwd = o.cwd ?? process.cwd();
  const read = readInventorySources(typeof values === 'string' ? [values] : values, cwd);
  const inventory = parseInventory(read.files, { ...o, cwd, varsDirs: read.varsDirs });
  return { ...inventory, label: read.names.join(', ') };
}

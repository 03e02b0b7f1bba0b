import path from 'node:path';
import type { YamlSource } from '../config/yaml-source.js';
import type { InventoryStructure } from './read-structure.js';
import type { VarSource } from './types.js';
import { varSourcesOf } from './var-sources.js';
import { findVarsFiles, listDir, readVarsFile, type VarsFile } from './vars-files.js';

/**
 * Every group a host is in (directly or through children), lowest precedence first, in Ansible's
 * order: depth from `all` (all < parent < child), then `ansible_group_priority` (default 1), then
 * group name. So for a host in two sibling groups, the alphabetically LATER group wins — exactly
 * what Ansible does, so an inventory shared with Ansible resolves to the same values in both.
 */
export function hostGroups(structure: InventoryStructure, host: string): string[] {
  const member = new Set<string>();
  const addWithParents = (name: string) => {
    if (member.has(name)) return;
    member.add(name);
    for (const p of structure.groups.get(name)?.parents ?? []) addWithParents(p);
  };
  for (const g of structure.groups.values()) if (g.hosts.has(host)) addWithParents(g.name);
  addWithParents('all');
  return [...member].sort((a, b) => {
    const ga = structure.groups.get(a)!;
    const gb = structure.groups.get(b)!;
    return ga.depth - gb.depth || ga.priority - gb.priority || (a < b ? -1 : a > b ? 1 : 0);
  });
}

/** Variables of one layer of the precedence order, and where each is written. */
export interface VarLayer {
  vars: Record<string, unknown>;
  sources: Record<string, VarSource>;
}

/** Where group_vars/ and host_vars/ are read: next to each inventory source, and next to the playbook. */
export interface VarsDirs {
  inventory: readonly string[];
  playbook?: string;
  /** Paths in messages are shown relative to this directory. */
  cwd: string;
}

/**
 * Reads each vars file once per load (a file next to several sources applies several times), and
 * finds each group's once: every host of a fleet asks for group_vars/all.
 */
export class VarsFileCache {
  private readonly files = new Map<string, VarsFile | undefined>();
  private readonly found = new Map<string, VarLayer[]>();
  private readonly listings = new Map<string, ReadonlySet<string> | undefined>();
  readonly read: YamlSource[] = [];
  constructor(private readonly dirs: VarsDirs) {}

  layers(dir: string, kind: 'group_vars' | 'host_vars', name: string): VarLayer[] {
    const key = JSON.stringify([dir, kind, name]);
    let out = this.found.get(key);
    if (!out) this.found.set(key, (out = this.findLayers(dir, kind, name)));
    return out;
  }

  private findLayers(dir: string, kind: 'group_vars' | 'host_vars', name: string): VarLayer[] {
    const out: VarLayer[] = [];
    for (const abs of findVarsFiles(dir, kind, name, (d) => this.listing(d))) {
      if (!this.files.has(abs)) {
        const rel = path.relative(this.dirs.cwd, abs);
        const file = readVarsFile(rel.startsWith('..') ? abs : rel, abs);
        this.files.set(abs, file);
        if (file) this.read.push(file.source);
      }
      const file = this.files.get(abs);
      if (!file) continue;
      const scope = kind === 'host_vars' ? 'host' : 'group';
      out.push({ vars: file.vars, sources: varSourcesOf(file.source, file.vars, [], scope, kind === 'group_vars' ? name : undefined) });
    }
    return out;
  }

  private listing(dir: string): ReadonlySet<string> | undefined {
    if (!this.listings.has(dir)) this.listings.set(dir, listDir(dir));
    return this.listings.get(dir);
  }
}

/**
 * A host's variables as written, merged lowest precedence first, in the order of Ansible's
 * VariableManager (its default VARIABLE_PRECEDENCE): all's inventory vars; the other groups'
 * inventory vars (hostGroups order); group_vars/all next to each inventory, then next to the
 * playbook; group_vars/GROUP the same way; the host's own entries (file order, a later listing
 * wins); host_vars/HOST next to each inventory, then next to the playbook. Like Ansible's default
 * `hash_behaviour=replace`, a mapping value (edge_window, edge_sysctl) is replaced whole.
 */
export function hostVarLayers(structure: InventoryStructure, host: string, groups: readonly string[], dirs: VarsDirs, files: VarsFileCache): VarLayer[] {
  const layers: VarLayer[] = [];
  const inventoryVars = (name: string) => {
    const g = structure.groups.get(name)!;
    layers.push({ vars: g.vars, sources: g.varSources });
  };
  const adjacent = (kind: 'group_vars' | 'host_vars', names: readonly string[], where: 'inventory' | 'playbook') => {
    const bases = where === 'inventory' ? dirs.inventory : dirs.playbook ? [dirs.playbook] : [];
    for (const dir of bases) for (const name of names) layers.push(...files.layers(dir, kind, name));
  };
  const others = groups.filter((g) => g !== 'all');
  inventoryVars('all');
  for (const g of others) inventoryVars(g);
  adjacent('group_vars', ['all'], 'inventory');
  adjacent('group_vars', ['all'], 'playbook');
  adjacent('group_vars', others, 'inventory');
  adjacent('group_vars', others, 'playbook');
  for (const entry of structure.hostEntries.get(host) ?? []) {
    layers.push({ vars: entry.vars, sources: varSourcesOf(entry.source, entry.vars, entry.basePath, 'host') });
  }
  adjacent('host_vars', [host], 'inventory');
  adjacent('host_vars', [host], 'playbook');
  return layers;
}

/** Layers merged in order: the last one to set a variable wins, and so does its source. */
export function mergeLayers(layers: readonly VarLayer[]): VarLayer {
  const vars: Record<string, unknown> = {};
  const sources: Record<string, VarSource> = {};
  for (const l of layers) {
    Object.assign(vars, l.vars);
    Object.assign(sources, l.sources);
  }
  return { vars, sources };
}

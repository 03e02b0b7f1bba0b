import type { YamlSource } from '../config/yaml-source.js';
import type { InventoryStructure } from './read-structure.js';
import { varSourcesOf } from './var-sources.js';
import type { VarSource } from './types.js';

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
  const priority = (name: string) => {
    const p = structure.groups.get(name)?.vars.ansible_group_priority;
    return Number.isInteger(p) ? (p as number) : 1;
  };
  return [...member].sort((a, b) => {
    const ga = structure.groups.get(a)!;
    const gb = structure.groups.get(b)!;
    return ga.depth - gb.depth || priority(a) - priority(b) || (a < b ? -1 : a > b ? 1 : 0);
  });
}

/**
 * A host's variables as written, merged lowest precedence first: group vars in hostGroups order,
 * then the host's own entries (in file order; a later listing wins). Like Ansible's default
 * `hash_behaviour=replace`, a mapping value (edge_window, edge_sysctl) is replaced whole, not merged.
 */
export function mergeHostVars(structure: InventoryStructure, source: YamlSource, host: string, groups: readonly string[]) {
  const raw: Record<string, unknown> = {};
  const sources: Record<string, VarSource> = {};
  for (const name of groups) {
    const g = structure.groups.get(name)!;
    Object.assign(raw, g.vars);
    Object.assign(sources, g.varSources);
  }
  for (const entry of structure.hostEntries.get(host) ?? []) {
    Object.assign(raw, entry.vars);
    Object.assign(sources, varSourcesOf(source, entry.vars, entry.basePath, 'host'));
  }
  return { raw, sources };
}

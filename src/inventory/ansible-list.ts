import { PyFloat, stringifyWithFloats, withFloats } from './py-float.js';
import type { Inventory } from './types.js';

type Group = { hosts?: string[]; children?: string[] };
export interface AnsibleList {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: Group | AnsibleList['_meta'];
}

/** Variables ansible-inventory leaves out of its output (its INTERNAL_VARS): Ansible sets them itself. */
const INTERNAL_VARS = new Set([
  'ansible_diff_mode', 'ansible_config_file', 'ansible_facts', 'ansible_forks', 'ansible_inventory_sources',
  'ansible_limit', 'ansible_playbook_python', 'ansible_run_tags', 'ansible_skip_tags', 'ansible_verbosity',
  'ansible_version', 'inventory_dir', 'inventory_file', 'inventory_hostname', 'inventory_hostname_short',
  'groups', 'group_names', 'omit', 'playbook_dir',
]);

/**
 * A host's variables as `ansible-inventory --host` prints them: as written and merged, no edge
 * defaults, floats kept floats (each value is looked up where it was written).
 */
export function ansibleHostVars(inventory: Inventory, host: string): Record<string, unknown> {
  const h = inventory.hosts.get(host)!;
  const nodeOf = (k: string) => {
    const src = h.varSources[k];
    return src && inventory.sources.find((s) => s.file === src.file)?.doc.getIn(src.yamlPath, true);
  };
  return Object.fromEntries(Object.entries(h.rawVars).filter(([k]) => !INTERNAL_VARS.has(k)).map(([k, v]) => [k, withFloats(v, nodeOf(k))]));
}

/**
 * What `ansible-inventory --list` prints (its json_inventory): from `all` down, each group's
 * direct hosts (never for `all`) and child groups — empty child groups are still named as
 * children — a group with neither left out; `_meta.hostvars` for every host that has variables.
 * Given a selection (--limit), only those hosts are shown and only groups that lead to them.
 */
export function toAnsibleList(inventory: Inventory, selection?: readonly string[]): AnsibleList {
  const selected = new Set(selection ?? inventory.hosts.keys());
  const leadsToSelected = (g: string): boolean => [...inventory.hosts.values()].some((h) => selected.has(h.name) && h.groups.includes(g));
  const out: AnsibleList = { _meta: { hostvars: {} } };
  const seen = new Set<string>();
  const format = (name: string) => {
    const g = inventory.groups.get(name)!;
    const entry: Group = {};
    const hosts = name === 'all' ? [] : [...g.hosts].filter((h) => selected.has(h));
    const children = [...g.children].filter((c) => selection === undefined || leadsToSelected(c));
    if (hosts.length > 0) entry.hosts = hosts;
    if (children.length > 0) entry.children = children;
    if (hosts.length > 0 || children.length > 0) out[name] = entry;
    for (const c of children) {
      if (seen.has(c)) continue;
      seen.add(c);
      format(c);
    }
  };
  format('all');
  for (const h of inventory.hosts.keys()) {
    if (!selected.has(h)) continue;
    const vars = ansibleHostVars(inventory, h);
    if (Object.keys(vars).length > 0) out._meta.hostvars[h] = vars;
  }
  return out;
}

/** JSON as Python's json.dumps(sort_keys=True, indent=4) writes it, so the two outputs diff cleanly. */
export function ansibleJson(value: unknown): string {
  const sorted = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sorted);
    if (v !== null && typeof v === 'object' && !(v instanceof PyFloat)) {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return `${stringifyWithFloats(sorted(value), 4)}\n`;
}

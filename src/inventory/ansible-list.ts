import type { Inventory } from './types.js';

export interface AnsibleList {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } | AnsibleList['_meta'];
}

/**
 * The shape `ansible-inventory --list` prints, for the given hosts (default all): `_meta.hostvars`
 * with each host's effective variables (edge's defaults included), and each group's direct hosts
 * and children. Groups left with neither (after a --limit) are omitted, except `all`.
 */
export function toAnsibleList(inventory: Inventory, hosts: readonly string[] = [...inventory.hosts.keys()]): AnsibleList {
  const selected = new Set(hosts);
  const hostvars: Record<string, Record<string, unknown>> = {};
  for (const h of hosts) hostvars[h] = { ...inventory.hosts.get(h)!.vars };
  const out: AnsibleList = { _meta: { hostvars } };
  // A child group is kept only if some selected host is in it (directly or below).
  const nonEmpty = (g: string): boolean =>
    [...inventory.hosts.values()].some((h) => selected.has(h.name) && h.groups.includes(g));
  for (const g of inventory.groups.values()) {
    if (g.name !== 'all' && !nonEmpty(g.name)) continue;
    const entry: { hosts?: string[]; children?: string[] } = {};
    const direct = [...g.hosts].filter((h) => selected.has(h));
    const children = [...g.children].filter(nonEmpty);
    if (direct.length > 0) entry.hosts = direct;
    if (children.length > 0) entry.children = children;
    out[g.name] = entry;
  }
  return out;
}

import type { RouteFact, RuleFact } from '../facts/types.js';

/**
 * A route in `ip route` syntax (table omitted). `flags: 'all'` keeps every flag, as `ip route show`
 * prints it (for diffs); `flags: 'addable'` keeps only those `ip route add` accepts (for restores).
 */
export function routeSpec(r: RouteFact, flags: 'all' | 'addable'): string {
  const parts: string[] = [];
  if (r.type && r.type !== 'unicast') parts.push(r.type);
  parts.push(r.dst);
  if (r.gateway) parts.push(`via ${r.gateway}`);
  if (r.dev) parts.push(`dev ${r.dev}`);
  if (r.protocol) parts.push(`proto ${r.protocol}`);
  if (r.scope && r.scope !== 'global') parts.push(`scope ${r.scope}`);
  if (r.prefsrc) parts.push(`src ${r.prefsrc}`);
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
  parts.push(...(flags === 'all' ? r.flags : r.flags.filter((f) => f === 'onlink')));
  return parts.join(' ');
}

/**
 * A rule's selector and action in `ip rule` syntax (no priority). `table` maps the table ip printed
 * (a name it knows, or a number) to what the caller wants written.
 */
export function ruleSpec(r: RuleFact, table: (printed: string) => string): string {
  const parts = [`from ${r.src ?? 'all'}`];
  if (r.fwmark) parts.push(`fwmark ${r.fwmark}`);
  if (r.iif) parts.push(`iif ${r.iif}`);
  if (r.oif) parts.push(`oif ${r.oif}`);
  if (r.action && r.action !== 'to_tbl') parts.push(r.action);
  else if (r.table) parts.push(`lookup ${table(r.table)}`);
  if (r.suppressPrefixlen !== undefined) parts.push(`suppress_prefixlength ${r.suppressPrefixlen}`);
  return parts.join(' ');
}

import type { RouteFact } from '../facts/types.js';

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

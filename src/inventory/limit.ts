import picomatch from 'picomatch';
import { RE2JS } from 're2js';
import { EdgeError, EdgeErrors, type SourcePos } from '../errors.js';
import { didYouMean } from '../config/suggest.js';
import type { Inventory } from './types.js';

/**
 * Ansible host patterns, for `--limit` and a play's `hosts`:
 *   names of hosts or groups, globs (`rtr-*`, picomatch), `~regex` (matched from the start, like
 *   Ansible's re.match), `all` / `*`; separated by `,` (or `:` when there is no comma);
 *   `!x` removes, `&x` intersects. Plain terms are unioned first, then `&` terms, then `!` terms —
 *   Ansible's order, whatever the order written; only `!`/`&` terms start from `all`.
 * Not supported: Ansible's `group[0]` / `group[1:3]` subscripts.
 * A term that matches no host or group is an error: a typo in `!rtr-ams-3` must not quietly
 * select every host.
 */

function splitTerms(pattern: string): string[] {
  // Colons separate terms only when there are no commas, and never inside a bare IPv6 address.
  const ipv6 = /^[0-9a-f]*:[0-9a-f]*:[0-9a-f:]*$/i.test(pattern.trim());
  const parts = pattern.includes(',') ? pattern.split(',') : ipv6 ? [pattern] : pattern.split(':');
  return parts.map((t) => t.trim()).filter((t) => t !== '');
}

const GLOB = /[*?[]/;

function membersOf(inventory: Inventory, group: string): string[] {
  return [...inventory.hosts.values()].filter((h) => h.groups.includes(group)).map((h) => h.name);
}

/** Hosts one term matches, or undefined when it matches no host and no group. */
function matchTerm(inventory: Inventory, term: string): Set<string> | undefined {
  if (term === 'all' || term === '*') return new Set(inventory.hosts.keys());
  let test: (name: string) => boolean;
  if (term.startsWith('~')) {
    // RE2 (linear time): a backtracking engine takes exponential time on (a|aa)*b and the like,
    // so one play's `hosts: ~...` could hang edge. RE2 lacks backreferences and lookaround.
    const re = RE2JS.compile(`^(?:${term.slice(1)})`);
    test = (name) => re.matcher(name).find();
  } else if (GLOB.test(term)) {
    const glob = picomatch(term, { dot: true });
    test = (name) => glob(name); // not `filter(glob)`: picomatch's 2nd argument returns an object
  } else {
    test = (name) => name === term;
  }
  const groups = [...inventory.groups.keys()].filter(test);
  // As Ansible: an exact name that is a group means the group; hosts are tried for globs and regexes too.
  const tryHosts = groups.length === 0 || term.startsWith('~') || GLOB.test(term);
  const hosts = tryHosts ? [...inventory.hosts.keys()].filter(test) : [];
  if (groups.length === 0 && hosts.length === 0) return undefined;
  return new Set([...groups.flatMap((g) => membersOf(inventory, g)), ...hosts]);
}

export interface PatternContext {
  /** Where the pattern came from, for the error: `--limit` or a play's `hosts`. */
  what: '--limit' | 'hosts';
  pos?: SourcePos;
}

/** Hosts a pattern selects, in inventory order. Every term that matches nothing is reported at once. */
export function matchPattern(inventory: Inventory, pattern: string, ctx: PatternContext): string[] {
  const terms = splitTerms(pattern);
  const plain = terms.filter((t) => !t.startsWith('!') && !t.startsWith('&'));
  const and = terms.filter((t) => t.startsWith('&')).map((t) => t.slice(1));
  const not = terms.filter((t) => t.startsWith('!')).map((t) => t.slice(1));
  const errors: EdgeError[] = [];
  const match = (term: string): Set<string> => {
    let hit: Set<string> | undefined;
    try {
      hit = matchTerm(inventory, term);
    } catch (e) {
      errors.push(error(ctx, `bad regular expression ${term}: ${(e as Error).message}`));
      return new Set();
    }
    if (hit) return hit;
    const names = [...inventory.groups.keys(), ...inventory.hosts.keys()];
    errors.push(
      error(ctx, `no host or group matches ${JSON.stringify(term)}${didYouMean(term, names)}`, available(inventory)),
    );
    return new Set();
  };
  let selected = new Set<string>();
  for (const t of plain.length > 0 ? plain : ['all']) for (const h of match(t)) selected.add(h);
  for (const t of and) {
    const hit = match(t);
    selected = new Set([...selected].filter((h) => hit.has(h)));
  }
  for (const t of not) for (const h of match(t)) selected.delete(h);
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new EdgeErrors(errors);
  return [...inventory.hosts.keys()].filter((h) => selected.has(h));
}

function error(ctx: PatternContext, message: string, hint?: string): EdgeError {
  return new EdgeError(ctx.what === '--limit' ? 'USAGE' : 'CONFIG', message, { field: ctx.what, pos: ctx.pos, hint });
}

function available(inventory: Inventory): string {
  const groups = [...inventory.groups.keys()].filter((g) => g !== 'all' && g !== 'ungrouped');
  return `hosts: ${[...inventory.hosts.keys()].join(', ') || '(none)'}; groups: all, ${[...groups, 'ungrouped'].join(', ')}`;
}

/**
 * The hosts a run targets: those the play's `hosts` pattern selects (default all) that the
 * `--limit` pattern also selects, in inventory order. Pure.
 */
export function selectHosts(
  inventory: Inventory,
  pattern: string | undefined,
  playHostPattern?: string,
  playPos?: SourcePos,
): string[] {
  const play = matchPattern(inventory, playHostPattern ?? 'all', { what: 'hosts', pos: playPos });
  if (pattern === undefined || pattern.trim() === '') return play;
  const limit = new Set(matchPattern(inventory, pattern, { what: '--limit' }));
  // As ansible-playbook: a --limit that leaves no host at all is an error (exit 1), not a quiet no-op.
  if (limit.size === 0) {
    throw new EdgeError('USAGE', `--limit ${JSON.stringify(pattern)} leaves no hosts to target`, { field: '--limit', hint: available(inventory) });
  }
  return play.filter((h) => limit.has(h));
}

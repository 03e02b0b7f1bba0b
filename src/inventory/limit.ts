import path from 'node:path';
import { RE2JS } from 're2js';
import { EdgeError, errorMessage, formatError, type SourcePos } from '../errors.js';
import { FILE_CAPS, readBoundedText } from '../config/read-file.js';
import { warn } from '../config/warnings.js';
import { didYouMean } from '../config/suggest.js';
import { parseAddress } from './host-pattern.js';
import type { Inventory } from './types.js';

/**
 * Ansible host patterns, for `--limit` and a play's `hosts`, evaluated as Ansible's inventory
 * manager does (inventory/manager.py): names of hosts or groups, shell globs (`rtr-*`, fnmatch),
 * `~regex` (matched from the start), subscripts (`group[0]`, `group[-1]`, `group[0:2]`, `group[1:]`);
 * separated by `,` (or `:` when the whole pattern is not an address); plain terms first, then
 * `&x` intersections, then `!x` exclusions, whatever the order written; `@file` in --limit reads a
 * pattern per line (retry files). A term that matches nothing is ignored with a warning, as in
 * Ansible. Hosts come out in Ansible's order: the order the terms select them.
 */

/** Ansible's split_host_pattern. */
export function splitHostPattern(pattern: string): string[] {
  let parts: string[];
  if (pattern.includes(',')) parts = pattern.split(',');
  else if (parseAddress(pattern)) parts = [pattern];
  else parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  return parts.map((t) => t.trim()).filter((t) => t !== '');
}

/**
 * Python's fnmatch.translate, anchored: `*` any text, `?` one character, `[seq]`, `[!seq]`. Matched
 * with RE2 (linear time): a backtracking RegExp took 17 s for `*?*?*?*?*?*?*?*?*?*?*?*?X` against
 * one 32-character name, five times more per extra `*?`.
 */
function fnmatchRegExp(glob: string): RE2JS {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      let j = i + 1;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) re += '\\[';
      else {
        let body = glob.slice(i + 1, j).replace(/\\/g, '\\\\');
        i = j;
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        else if (body.startsWith('^')) body = `\\${body}`;
        re += `[${body}]`;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return RE2JS.compile(`(?s)^(?:${re})$`);
}

const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/s;

/** Hosts of a group and of every group below it, as Ansible's Group.get_hosts lists them. */
function groupHosts(inventory: Inventory, name: string): string[] {
  const order = [name];
  const seen = new Set(order);
  for (let i = 0; i < order.length; i++) {
    for (const c of inventory.groups.get(order[i]!)?.children ?? []) {
      if (!seen.has(c)) {
        seen.add(c);
        order.push(c);
      }
    }
  }
  const out = new Set<string>();
  for (const g of order) for (const h of inventory.groups.get(g)!.hosts) if (inventory.hosts.has(h)) out.add(h);
  return [...out];
}

export interface PatternContext {
  /** Where the pattern came from, for messages: `--limit` or a play's `hosts`. */
  what: '--limit' | 'hosts';
  pos?: SourcePos;
  /** Where a warning goes (a term that matched nothing), formatted; default: the warning sink. */
  warn?: (message: string) => void;
}

function patternError(ctx: PatternContext, message: string): EdgeError {
  return new EdgeError(ctx.what === '--limit' ? 'USAGE' : 'CONFIG', message, { field: ctx.what, pos: ctx.pos });
}

/** Ansible's _enumerate_matches: groups matching the term (with their hosts), else or also hosts. */
function enumerate(inventory: Inventory, term: string, ctx: PatternContext): string[] {
  let test: (name: string) => boolean;
  try {
    if (term.startsWith('~')) {
      // RE2 (linear time): a backtracking engine takes exponential time on (a|aa)*b and the like,
      // so one play's `hosts: ~...` could hang edge. RE2 lacks backreferences and lookaround.
      // Matched from the start, as Python's re.match.
      const re = RE2JS.compile(`^(?:${term.slice(1)})`);
      test = (name) => re.matcher(name).find();
    } else {
      const re = fnmatchRegExp(term);
      test = (name) => re.matcher(name).matches();
    }
  } catch (e) {
    throw patternError(ctx, `invalid host pattern ${term}: ${errorMessage(e)}`);
  }
  const groups = [...inventory.groups.keys()].filter(test);
  const out = groups.flatMap((g) => groupHosts(inventory, g));
  if (groups.length === 0 || term.startsWith('~') || /[.?*[]/.test(term)) out.push(...[...inventory.hosts.keys()].filter(test));
  if (out.length === 0 && groups.length === 0 && term !== 'all') {
    const names = [...inventory.groups.keys(), ...inventory.hosts.keys()];
    warning(ctx, `could not match supplied host pattern, ignoring: ${term}${didYouMean(term, names)}`);
  }
  return out;
}

function available(inventory: Inventory): string {
  const groups = [...inventory.groups.keys()].filter((g) => g !== 'all' && g !== 'ungrouped');
  return `hosts: ${[...inventory.hosts.keys()].join(', ') || '(none)'}; groups: all, ${[...groups, 'ungrouped'].join(', ')}`;
}

/** A warning goes to the caller's `warn` when given, else to the one warning sink the CLI prints. */
function warning(ctx: PatternContext, message: string): void {
  const w = new EdgeError(ctx.what === '--limit' ? 'USAGE' : 'CONFIG', message, { field: ctx.what, pos: ctx.pos });
  if (ctx.warn) ctx.warn(formatError(w));
  else warn(w);
}

/** One term without its ! or &: matches, then the subscript applied as Ansible's _apply_subscript. */
function matchOne(inventory: Inventory, term: string, ctx: PatternContext): string[] {
  const bare = term[0] === '!' || term[0] === '&' ? term.slice(1) : term;
  const m = bare.startsWith('~') ? null : SUBSCRIPT.exec(bare);
  const hosts = enumerate(inventory, m ? m[1]! : bare, ctx);
  if (!m || hosts.length === 0) return hosts;
  const [, , index, start, sep, end] = m;
  if (sep === '-') warning(ctx, 'use [x:y] inclusive subscripts instead of [x-y], which Ansible has removed');
  const from = Number(index ?? start);
  const to = index !== undefined ? 0 : end === '' ? hosts.length - 1 : Number(end);
  if (to) return hosts.slice(from < 0 ? Math.max(0, hosts.length + from) : from, to < 0 ? hosts.length + to + 1 : to + 1);
  const at = from < 0 ? hosts.length + from : from;
  if (at < 0 || at >= hosts.length) throw patternError(ctx, `no hosts matched the subscripted pattern '${bare}'`);
  return [hosts[at]!];
}

/** Ansible's _evaluate_patterns on a list of single patterns. */
function evaluate(inventory: Inventory, patterns: readonly string[], ctx: PatternContext): string[] {
  const terms = patterns.filter((p) => p !== '');
  const regular = terms.filter((t) => t[0] !== '!' && t[0] !== '&');
  const ordered = [...(regular.length > 0 ? regular : ['all']), ...terms.filter((t) => t[0] === '&'), ...terms.filter((t) => t[0] === '!')];
  let hosts: string[] = [];
  for (const p of ordered) {
    if (inventory.hosts.has(p)) {
      if (!hosts.includes(p)) hosts.push(p);
      continue;
    }
    const that = matchOne(inventory, p, ctx);
    if (p[0] === '!') hosts = hosts.filter((h) => !that.includes(h));
    else if (p[0] === '&') hosts = hosts.filter((h) => that.includes(h));
    else for (const h of that) if (!hosts.includes(h)) hosts.push(h);
  }
  return hosts;
}

/** Hosts a pattern selects, in Ansible's order. */
export function matchPattern(inventory: Inventory, pattern: string, ctx: PatternContext): string[] {
  return evaluate(inventory, splitHostPattern(pattern), ctx);
}

/** `--limit`'s patterns, with `@file` read as Ansible reads a retry file: one pattern per line. */
export function limitPatterns(limit: string, cwd: string = process.cwd()): string[] {
  const out: string[] = [];
  for (const p of splitHostPattern(limit)) {
    if (!p.startsWith('@')) {
      out.push(p);
      continue;
    }
    const file = p.slice(1);
    const text = readBoundedText(file, { what: 'limit file', maxBytes: FILE_CAPS.config, readFrom: path.resolve(cwd, file), code: 'USAGE', field: '--limit' });
    out.push(...text.split('\n').map((l) => l.trim()));
  }
  return out;
}

/**
 * The hosts a run targets: those the play's `hosts` pattern selects (default all) that the
 * `--limit` pattern also selects, in the play pattern's order (Ansible's). Pure but for reading
 * an `@file` and printing warnings.
 */
export function selectHosts(
  inventory: Inventory,
  pattern: string | undefined,
  playHostPattern?: string,
  playPos?: SourcePos,
  warn?: (message: string) => void,
): string[] {
  const play = matchPattern(inventory, playHostPattern ?? 'all', { what: 'hosts', pos: playPos, warn });
  if (pattern === undefined || pattern.trim() === '') return play;
  const limit = new Set(evaluate(inventory, limitPatterns(pattern), { what: '--limit', warn }));
  // As ansible-playbook: a --limit that leaves no host at all is an error (exit 1), not a quiet no-op.
  if (limit.size === 0) {
    throw new EdgeError('NO_HOSTS', `--limit ${JSON.stringify(pattern)} leaves no hosts to target`, { field: '--limit', hint: available(inventory) });
  }
  return play.filter((h) => limit.has(h));
}

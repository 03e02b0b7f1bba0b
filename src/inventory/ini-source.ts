import { EdgeError } from '../errors.js';
import type { YamlSource } from '../config/yaml-source.js';
import { LiteralTooDeep, parsePythonValue } from './python-literal.js';
import { shlexSplit } from './shlex.js';
import { LINE_BREAK, syntheticSource } from './synthetic-source.js';

type Vars = Record<string, unknown>;
interface IniGroup {
  hosts?: Record<string, Vars | null>;
  vars?: Vars;
  children?: Record<string, null>;
}

// Ansible's ini plugin (plugins/inventory/ini.py): its section and group-name patterns, its
// comment markers.
const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

interface Line {
  text: string;
  start: number;
  lineNo: number;
}

function splitLines(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  let lineNo = 1;
  for (const m of text.matchAll(LINE_BREAK)) {
    out.push({ text: text.slice(start, m.index), start, lineNo: lineNo++ });
    start = m.index + m[0].length;
  }
  if (start < text.length) out.push({ text: text.slice(start), start, lineNo });
  return out;
}

/**
 * Reads an INI inventory the way Ansible does and returns it as the equivalent YAML inventory
 * (group → hosts / vars / children), with every key and value placed at its line and column in
 * the INI file, so one reader and one error format serve both formats.
 */
export function parseIniInventory(text: string, file: string, earlierGroups: ReadonlySet<string> = new Set()): YamlSource {
  const groups: Record<string, IniGroup> = {};
  const positions = new Map<string, number>();
  // Values Python reads as floats (8.0, 1e3): the synthetic document tags them, so the
  // Ansible-shaped output prints them as Python does (py-float.ts).
  const floats = new Set<string>();
  const literal = (path: string[], text: string, line: Line, col: number): unknown => {
    let v: unknown;
    try {
      v = parsePythonValue(text);
    } catch (e) {
      if (e instanceof LiteralTooDeep) fail(line, col, `value of ${path.at(-1)}: ${e.message}`);
      throw e;
    }
    if (typeof v === 'number' && /[.eE]/.test(text) && !/^\s*[-+]?0[xX]/.test(text)) floats.add(JSON.stringify(path));
    return v;
  };
  const at = (path: string[], offset: number) => {
    const k = JSON.stringify(path);
    if (!positions.has(k)) positions.set(k, offset);
  };
  const fail = (line: Line, col: number, message: string): never => {
    throw new EdgeError('CONFIG', message, { pos: { file, line: line.lineNo, col } });
  };
  const group = (name: string, offset: number): IniGroup => {
    at([name], offset);
    return (groups[name] ??= {});
  };
  // all and ungrouped exist before any section, and so do the groups of earlier sources of the
  // same -i set ([core:vars] may set a group a YAML file defined), as in Ansible
  const declared = new Set(['all', 'ungrouped', ...earlierGroups]);
  const pendingVars = new Map<string, Line>();
  const pendingChildren = new Map<string, { line: Line; parent: string }>();

  let current = 'ungrouped';
  let state = 'hosts';
  for (const line of splitLines(text)) {
    const lead = line.text.length - line.text.trimStart().length;
    const body = line.text.trim();
    const offset = line.start + lead;
    if (body === '' || body[0] === '#' || body[0] === ';') continue;
    const section = SECTION.exec(body);
    if (section) {
      current = section[1]!;
      state = section[2] ?? 'hosts';
      if (!['hosts', 'children', 'vars'].includes(state)) fail(line, lead + 1, `section [${current}:${state}] has unknown type: ${state}`);
      group(current, offset + 1);
      if (state === 'vars') {
        if (!declared.has(current) && !pendingChildren.has(current)) pendingVars.set(current, line);
      } else {
        declared.add(current);
        pendingVars.delete(current);
        pendingChildren.delete(current);
      }
      continue;
    }
    if (body.startsWith('[') && body.endsWith(']')) {
      fail(line, lead + 1, `invalid section entry: '${body}'; make sure there are no spaces and no other invalid characters in the section entry`);
    }
    if (state === 'hosts') hostLine(line, body, offset, group(current, offset), current);
    else if (state === 'vars') {
      const eq = body.indexOf('=');
      if (eq < 0) fail(line, lead + 1, `expected key=value, got: ${body}`);
      const key = body.slice(0, eq).trim();
      const raw = body.slice(eq + 1);
      const value = raw.trim();
      const g = group(current, offset);
      (g.vars ??= {})[key] = literal([current, 'vars', key], value, line, lead + eq + 2);
      at([current, 'vars', key], offset);
      at([current, 'vars', key, '='], offset + eq + 1 + (raw.length - raw.trimStart().length));
    } else {
      const m = GROUP_NAME.exec(body);
      if (!m) return fail(line, lead + 1, `expected group name, got: ${body}`);
      const child = m[1]!;
      (group(current, offset).children ??= {})[child] = null;
      at([current, 'children', child], offset);
      if (!declared.has(child) && !pendingChildren.has(child)) pendingChildren.set(child, { line, parent: current });
    }
  }
  const [vars] = pendingVars;
  if (vars) fail(vars[1], 1, `section [${vars[0]}:vars] is not valid for undefined group: ${vars[0]}`);
  const [child] = pendingChildren;
  if (child) fail(child[1].line, 1, `section [${child[1].parent}:children] includes undefined group: ${child[0]}`);
  return syntheticSource(file, text, groups, positions, floats);

  function hostLine(line: Line, body: string, offset: number, g: IniGroup, groupName: string): void {
    const split = shlexSplit(body);
    if ('error' in split) return fail(line, offset - line.start + 1, `error parsing host definition '${body}': ${split.error}`);
    const [pattern, ...assignments] = split.words;
    if (pattern === undefined) return;
    if (pattern.trim().endsWith(':')) fail(line, offset - line.start + 1, `invalid host pattern '${pattern}': ending in ':' is not allowed, that character is reserved to give a port`);
    if (pattern.trim() === '---') fail(line, offset - line.start + 1, `invalid host pattern '${pattern}': '---' is normally a sign this is a YAML file`);
    const hosts = (g.hosts ??= {});
    const vars: Vars = (hosts[pattern] ??= {}) ?? {};
    hosts[pattern] = vars;
    at([groupName, 'hosts', pattern], offset);
    for (const word of assignments) {
      const eq = word.indexOf('=');
      if (eq < 0) fail(line, offset - line.start + 1, `expected key=value host variable assignment, got: ${word}`);
      const key = word.slice(0, eq);
      vars[key] = literal([groupName, 'hosts', pattern, key], word.slice(eq + 1), line, offset - line.start + 1);
      // Quotes make exact columns of shlex words uncertain; the key's first occurrence is close.
      const col = body.indexOf(`${key}=`);
      at([groupName, 'hosts', pattern, key], offset + Math.max(0, col));
    }
  }
}


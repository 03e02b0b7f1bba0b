import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { EdgeError, EdgeErrors, errorMessage } from '../errors.js';
import { FILE_CAPS, readBoundedText } from '../config/read-file.js';
import { parseYaml, type YamlSource } from '../config/yaml-source.js';
import { parseIniInventory } from './ini-source.js';
import { resolveInventoryPath } from './resolve-path.js';

/** What the `-i` options name, read: inventory files in Ansible's order, and where vars files live. */
export interface InventorySources {
  /** Every inventory file read (a directory's files, sorted, recursively), in `-i` order. */
  files: YamlSource[];
  /** Per `-i`, the directory whose group_vars/ and host_vars/ apply (a file's own directory). */
  varsDirs: string[];
  /** The `-i` values as resolved, for messages. */
  names: string[];
}

// Ansible's inventory manager skips these in a directory source (IGNORED_ALWAYS and the default
// INVENTORY_IGNORE_EXTS, which include .ini: an inventory directory's .ini files are not read).
const IGNORED = /^\.|^host_vars$|^group_vars$|^vars_plugins$|(?:\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$/;
const YAML_EXTS = ['', '.yaml', '.yml', '.json'];

/** Reads every `-i` value (names, files, directories, `host1,host2,` lists) as Ansible does. */
export function readInventorySources(values: readonly string[], cwd: string): InventorySources {
  const out: InventorySources = { files: [], varsDirs: [], names: [] };
  // Groups the sources read so far define: an INI file's [g:vars] may name one of them.
  const groups = new Set<string>();
  for (const value of values) {
    if (value.includes(',') && !exists(path.resolve(cwd, value))) {
      out.files.push(hostListSource(value));
      out.names.push(value);
      continue;
    }
    const file = resolveInventoryPath(value, cwd);
    const abs = path.resolve(cwd, file);
    out.names.push(file);
    if (statSync(abs).isDirectory()) {
      out.varsDirs.push(abs);
      const before = out.files.length;
      readDirectory(file, abs, out.files, groups);
      if (out.files.length === before) throw new EdgeError('CONFIG', `inventory directory ${file} has no inventory files`, { field: '-i' });
    } else {
      out.varsDirs.push(path.dirname(abs));
      out.files.push(readInventoryFile(file, abs, groups));
    }
  }
  return out;
}

function exists(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

function readDirectory(shown: string, abs: string, into: YamlSource[], groups: Set<string>): void {
  for (const name of readdirSync(abs).sort()) {
    if (IGNORED.test(name)) continue;
    const childAbs = path.join(abs, name);
    const childShown = path.join(shown, name);
    if (statSync(childAbs).isDirectory()) readDirectory(childShown, childAbs, into, groups);
    else into.push(readInventoryFile(childShown, childAbs, groups));
  }
}

/** An inventory's text read as Ansible's plugins recognise it, and which format that was. */
export interface ParsedInventory {
  source: YamlSource;
  format: 'yaml' | 'ini';
}

/**
 * Inventory text recognised by its content as Ansible's plugins recognise it: a YAML mapping (for
 * names ending .yaml/.yml/.json or with no extension) is a YAML inventory; anything else is read
 * as INI. Plugin configurations are refused, never run.
 */
export function parseInventoryText(text: string, file: string, earlierGroups: ReadonlySet<string> = new Set()): ParsedInventory {
  const ext = path.extname(file).toLowerCase();
  if (!YAML_EXTS.includes(ext)) return { source: parseIniInventory(text, file, earlierGroups), format: 'ini' };
  let yaml: YamlSource | undefined;
  let yamlError: unknown;
  try {
    yaml = parseYaml(text, file);
  } catch (e) {
    yamlError = e;
  }
  const data = yaml?.data;
  // An empty (or comments-only) file: no hosts either way; reported as the empty inventory it is.
  if (yaml && data === null) return { source: yaml, format: 'yaml' };
  if (yaml && data !== null && typeof data === 'object' && !Array.isArray(data)) {
    if ('plugin' in data) {
      throw new EdgeError('CONFIG', `inventory ${file} configures the inventory plugin ${JSON.stringify((data as { plugin: unknown }).plugin)}: edge does not run inventory plugins`, { hint: convertHint(file), field: '-i' });
    }
    return { source: yaml, format: 'yaml' };
  }
  try {
    return { source: parseIniInventory(text, file, earlierGroups), format: 'ini' };
  } catch (iniError) {
    // Not YAML, not INI: report as the format the name says, or the one it is closer to.
    if (ext !== '' && yamlError) throw yamlError;
    throw withHint(iniError, yamlError ? `not a YAML inventory either (${firstMessage(yamlError)})` : 'not a YAML inventory either (not a mapping of groups)');
  }
}

function convertHint(file: string): string {
  return `convert it once with \`ansible-inventory -i ${file} --list --yaml --output inventory.yaml\` and use that file`;
}

/** One inventory file (see parseInventoryText). Scripts and TOML files are refused, never run. */
/** One inventory file; `groups` (the groups of the sources read before it) gains the groups it defines. */
export function readInventoryFile(file: string, abs: string, groups: Set<string> = new Set()): YamlSource {
  const text = readBoundedText(file, { what: 'inventory', maxBytes: FILE_CAPS.config, readFrom: abs });
  if ((statSync(abs).mode & 0o111) !== 0 && text.startsWith('#!')) {
    throw new EdgeError('CONFIG', `inventory ${file} is an executable script: edge does not run inventory scripts`, { hint: convertHint(file), field: '-i' });
  }
  if (path.extname(file).toLowerCase() === '.toml') {
    throw new EdgeError('CONFIG', `inventory ${file}: TOML inventories are not read by edge`, { hint: convertHint(file), field: '-i' });
  }
  const { source } = parseInventoryText(text, file, groups);
  for (const g of groupNames(source.data)) groups.add(g);
  return source;
}

/** Every group a source's data names: its top-level keys and, below them, every `children` key. */
function groupNames(data: unknown, into: string[] = []): string[] {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return into;
  for (const [name, body] of Object.entries(data)) {
    into.push(name);
    const children = body !== null && typeof body === 'object' ? (body as { children?: unknown }).children : undefined;
    groupNames(children, into);
  }
  return into;
}

function firstMessage(e: unknown): string {
  if (e instanceof EdgeErrors) return e.errors[0]?.message ?? e.message;
  return errorMessage(e);
}

function withHint(e: unknown, hint: string): unknown {
  if (!(e instanceof EdgeError)) return e;
  return new EdgeError(e.code, e.message, { pos: e.pos, field: e.field, host: e.host, hint: e.hint ? `${e.hint}; ${hint}` : hint });
}

/** `-i 'r1,r2:2222,'`: Ansible's host_list plugin — each name a host of `ungrouped`, no ranges. */
function hostListSource(value: string): YamlSource {
  const hosts: Record<string, null> = {};
  for (const item of value.split(',').map((s) => s.trim())) if (item) hosts[item] = null;
  return parseYaml(JSON.stringify({ ungrouped: { hosts } }), value);
}

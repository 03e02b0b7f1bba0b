import { randomBytes } from 'node:crypto';
import { chmodSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { FILE_CAPS, readBoundedText } from '../config/read-file.js';
import { isDeepStrictEqual } from 'node:util';
import { Document, isAlias, isCollection, isMap, isScalar, Scalar, visit, type Node, type Pair, type YAMLMap } from 'yaml';
import { EdgeError } from '../errors.js';
import type { YamlPath } from '../config/yaml-position.js';
import { parseYaml } from '../config/yaml-source.js';
import { readStructure } from './read-structure.js';

/**
 * Sets host variables in an inventory file in place, keeping everything else as it was written:
 * comments, key order, quoting, flow/block style, blank lines.
 *
 * The change is made twice. Once with yaml's Document API on the parsed file: that is the truth
 * of what the file must mean afterwards. Once as text edits at the positions of the nodes it
 * touches (a value replaced, lines inserted after a host's last variable): that is how the file
 * keeps its formatting, which re-printing the whole document would not (yaml normalises spacing
 * inside flow collections file-wide, e.g. `{ a: 1 }` → `{a: 1}`). The edited text is re-parsed and
 * must mean exactly what the Document says; if it ever does not, the Document is printed instead
 * (`exact: false`), so the content is right even if some formatting is lost.
 *
 * Where a variable goes, per host, so that it takes effect (host variables win over group ones,
 * and of a host's own listings the later wins — see inventory/precedence.ts):
 * - into the host's listing that sets it now (the last such), replacing the value;
 * - otherwise into the host's first listing; a bare `r1:` becomes a mapping;
 * - a host listed only through a range (`edge[01:02]:`) gets its own entry `edge01:` beside the
 *   range, since variables on the range key would apply to every host of it.
 * `undefined` removes the variable from every listing of the host (a group's value then applies).
 */

/** Per host: variable → value; undefined removes the host's own setting. */
export type HostVarUpdates = Record<string, Record<string, string | undefined>>;

export interface EditResult {
  text: string;
  /** False when the text edits could not be verified and the whole document was re-printed. */
  exact: boolean;
}

type Seg = PropertyKey;

function keyOf(p: Pair): string | undefined {
  return isScalar(p.key) ? String(p.key.value) : undefined;
}

function pairIn(map: YAMLMap, seg: Seg): Pair | undefined {
  return map.items.find((p) => keyOf(p as Pair) === String(seg)) as Pair | undefined;
}

/** The node at `path` (block or flow maps only; null for `key:` with no value); undefined when absent. */
function nodeAt(doc: Document, path: YamlPath): Node | null | undefined {
  let node: unknown = doc.contents;
  for (const seg of path) {
    if (!isMap(node)) return undefined;
    const p = pairIn(node, seg);
    if (!p) return undefined;
    node = p.value ?? null;
  }
  return node as Node | null;
}

function mapAt(doc: Document, path: YamlPath, host: string): YAMLMap {
  const n = nodeAt(doc, path);
  if (isMap(n)) return n;
  throw new EdgeError('CONFIG', `cannot edit ${path.map(String).join('.')}: not a mapping${isAlias(n) ? ' (a YAML alias)' : ''}`, {
    host,
    hint: 'set the interface variables of this host by hand',
  });
}

/** True when some alias (*name) refers to the anchor: editing the anchored node would change those too. */
function isAliased(doc: Document, anchor: string): boolean {
  let found = false;
  visit(doc, {
    Alias(_, node) {
      if (node.source === anchor) {
        found = true;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

function isNullValue(n: unknown): boolean {
  return n === null || n === undefined || (isScalar(n) && n.value === null);
}

/** A scalar as the loader reads it back: plain when that round-trips (YAML 1.1 rules), else double-quoted. */
export function renderScalar(value: string): string {
  try {
    const back = parseYaml(`k: ${value}\n`, 'value').data as Record<string, unknown>;
    if (back.k === value && !value.includes('#')) return value;
  } catch {
    // not plain-safe
  }
  return JSON.stringify(value);
}

/** A replacement value in the quoting style of the value it replaces (the loader reads quoted text as a string). */
function renderLike(old: Scalar, value: string): string {
  if (old.type === Scalar.QUOTE_SINGLE && !value.includes("'")) return `'${value}'`;
  if (old.type === Scalar.QUOTE_DOUBLE) return JSON.stringify(value);
  return renderScalar(value);
}

interface VarOp {
  /** Path of the host entry (…, 'hosts', key) the variable goes in or is removed from. */
  entry: YamlPath;
  key: string;
  value: string | undefined;
}

/** Decides, per host and variable, which listing of the host is edited (see the module comment). */
function planOps(text: string, file: string, updates: HostVarUpdates): VarOp[] {
  const structure = readStructure(parseYaml(text, file));
  const ops: VarOp[] = [];
  for (const [host, vars] of Object.entries(updates)) {
    const first = structure.hostFirst.get(host);
    if (!first) throw new EdgeError('USAGE', `no host ${host} in ${file}`, { host });
    const entries = structure.hostEntries.get(host) ?? [];
    for (const [key, value] of Object.entries(vars)) {
      const setting = entries.filter((e) => Object.hasOwn(e.vars, key));
      if (value === undefined) {
        for (const e of setting) ops.push({ entry: e.basePath, key, value });
        continue;
      }
      let entry = setting.at(-1)?.basePath ?? first.path;
      if (String(entry.at(-1)) !== host) entry = [...entry.slice(0, -1), host];
      ops.push({ entry, key, value });
    }
  }
  return ops;
}

/** The Document API edit: the meaning the file must have afterwards. */
function applyToDocument(doc: Document, ops: readonly VarOp[]): void {
  for (const op of ops) {
    const host = String(op.entry.at(-1));
    const hosts = mapAt(doc, op.entry.slice(0, -1), host);
    let pair = pairIn(hosts, host);
    if (!pair) {
      if (op.value === undefined) continue;
      pair = doc.createPair(host, null) as Pair;
      hosts.items.push(pair);
    }
    if (op.value === undefined) {
      if (!isMap(pair.value)) continue;
      const map = pair.value;
      map.items = map.items.filter((p) => keyOf(p as Pair) !== op.key);
      // an emptied block listing reads back as `r1:` (null), as the text edit leaves it
      if (map.items.length === 0 && !map.flow) pair.value = new Scalar(null);
      continue;
    }
    if (isNullValue(pair.value)) {
      const map = doc.createNode({}) as YAMLMap;
      pair.value = map;
    }
    if (!isMap(pair.value)) {
      throw new EdgeError('CONFIG', `cannot set ${op.key} on ${host}: its entry is not a mapping${isAlias(pair.value) ? ' (a YAML alias)' : ''}`, {
        host,
        hint: 'set the interface variables of this host by hand',
      });
    }
    if (pair.value.anchor && isAliased(doc, pair.value.anchor)) {
      throw new EdgeError('CONFIG', `cannot set ${op.key} on ${host}: its entry is the anchor &${pair.value.anchor}, which other entries share`, {
        host,
        hint: 'set the interface variables of this host by hand',
      });
    }
    const existing = pairIn(pair.value, op.key);
    if (existing) existing.value = new Scalar(op.value);
    else pair.value.items.push(doc.createPair(op.key, op.value) as Pair);
  }
}

// ---------------------------------------------------------------------------------------------
// Text edits

interface TextEdit {
  from: number;
  to: number;
  insert: string;
  /** Among inserts at the same offset, deeper ones (a host's variables) come before shallower ones (a new host). */
  depth: number;
}

function lineStart(text: string, at: number): number {
  return text.lastIndexOf('\n', at - 1) + 1;
}

function colOf(text: string, at: number): number {
  return at - lineStart(text, at);
}

/** Offset just after the line that holds offset `at` (its newline included). */
function afterLine(text: string, at: number): number {
  const nl = text.indexOf('\n', at);
  return nl === -1 ? text.length : nl + 1;
}

function rangeOf(n: unknown): [number, number, number] {
  const r = (n as { range?: [number, number, number] }).range;
  if (!r) throw new Error('internal: node without a source range');
  return r;
}

/** The outermost flow collection on the way to `path`, with its path; undefined when all are block. */
function flowAncestor(doc: Document, path: YamlPath): YamlPath | undefined {
  let node: unknown = doc.contents;
  for (let i = 0; i <= path.length; i++) {
    if (isCollection(node) && node.flow) return path.slice(0, i);
    if (i === path.length || !isMap(node)) return undefined;
    node = pairIn(node, path[i]!)?.value;
  }
  return undefined;
}

function renderFlow(node: unknown, padded: boolean): string {
  const d = new Document();
  d.contents = node as Node;
  return d.toString({ lineWidth: 0, flowCollectionPadding: padded }).replace(/\n$/, '');
}

/** Lines `key: value` at `indent`, one per set variable. */
function lines(indent: number, sets: readonly VarOp[]): string {
  return sets.map((op) => `${' '.repeat(indent)}${op.key}: ${renderScalar(op.value!)}\n`).join('');
}

function planTextEdits(text: string, orig: Document, edited: Document, ops: readonly VarOp[]): TextEdit[] {
  const edits: TextEdit[] = [];
  const flowDone = new Set<string>();
  const byEntry = new Map<string, VarOp[]>();
  for (const op of ops) {
    const k = JSON.stringify(op.entry.map(String));
    byEntry.set(k, [...(byEntry.get(k) ?? []), op]);
  }
  for (const group of byEntry.values()) {
    const entry = group[0]!.entry;
    const host = String(entry.at(-1));
    const depth = entry.length;

    // Inside a flow collection: print that collection again from the edited document.
    const flow = flowAncestor(orig, entry);
    if (flow) {
      const k = JSON.stringify(flow.map(String));
      if (flowDone.has(k)) continue;
      flowDone.add(k);
      const [from, to] = rangeOf(nodeAt(orig, flow));
      edits.push({ from, to, insert: renderFlow(nodeAt(edited, flow), text[from + 1] === ' '), depth });
      continue;
    }

    const hosts = mapAt(orig, entry.slice(0, -1), host);
    const hostPair = pairIn(hosts, host);
    const sets = group.filter((op) => op.value !== undefined);
    if (!hostPair) {
      // A new listing of the host beside the range it is listed under, at the end of that hosts map.
      if (sets.length === 0) continue;
      const first = hosts.items[0]!;
      const indent = colOf(text, rangeOf(first.key)[0]);
      const unit = hostIndentUnit(text, orig, entry);
      const at = afterLine(text, rangeOf(hosts)[1] - 1);
      const nl = at === text.length && !text.endsWith('\n') ? '\n' : '';
      edits.push({ from: at, to: at, insert: `${nl}${' '.repeat(indent)}${renderScalar(host)}:\n${lines(indent + unit, sets)}`, depth: depth - 1 });
      continue;
    }

    const keyStart = rangeOf(hostPair.key)[0];
    const value = hostPair.value;
    if (isNullValue(value)) {
      if (sets.length === 0) continue;
      // `r1:` / `r1: ~` / `r1: # comment` → the variables on the lines below the key.
      const colon = text.indexOf(':', rangeOf(hostPair.key)[1]);
      if (value && rangeOf(value)[1] > rangeOf(value)[0]) edits.push({ from: colon + 1, to: rangeOf(value)[1], insert: '', depth });
      const at = afterLine(text, colon);
      const nl = at === text.length && !text.endsWith('\n') ? '\n' : '';
      edits.push({ from: at, to: at, insert: nl + lines(colOf(text, keyStart) + hostIndentUnit(text, orig, entry), sets), depth });
      continue;
    }
    if (!isMap(value)) throw new EdgeError('CONFIG', `cannot edit the variables of ${host}: its entry is not a mapping`, { host });

    const missing: VarOp[] = [];
    for (const op of group) {
      const pair = pairIn(value, op.key);
      if (op.value === undefined) {
        if (!pair) continue;
        // remove the whole line(s) of `key: value  # comment`
        const end = pair.value ? rangeOf(pair.value)[1] : rangeOf(pair.key)[1];
        edits.push({ from: lineStart(text, rangeOf(pair.key)[0]), to: afterLine(text, Math.max(end - 1, rangeOf(pair.key)[0])), insert: '', depth });
      } else if (!pair) {
        missing.push(op);
      } else if (isNullValue(pair.value)) {
        const colon = text.indexOf(':', rangeOf(pair.key)[1]);
        const to = pair.value ? rangeOf(pair.value)[1] : colon + 1;
        edits.push({ from: colon + 1, to: Math.max(to, colon + 1), insert: ` ${renderScalar(op.value)}`, depth });
      } else if (isScalar(pair.value)) {
        const [from, to] = rangeOf(pair.value);
        edits.push({ from, to, insert: renderLike(pair.value, op.value), depth });
      } else {
        throw new EdgeError('CONFIG', `cannot set ${op.key} on ${host}: its current value is not a plain value`, { host });
      }
    }
    if (missing.length) {
      const indent = colOf(text, rangeOf(value.items[0]!.key)[0]);
      const at = afterLine(text, rangeOf(value)[1] - 1);
      const nl = at === text.length && !text.endsWith('\n') ? '\n' : '';
      edits.push({ from: at, to: at, insert: nl + lines(indent, missing), depth });
    }
  }
  return edits;
}

/** How far the file indents one level, measured where a host's variables go: host key column − `hosts` key column. */
function hostIndentUnit(text: string, orig: Document, entry: YamlPath): number {
  const group = nodeAt(orig, entry.slice(0, -2));
  const hostsPair = isMap(group) ? pairIn(group, 'hosts') : undefined;
  const hosts = hostsPair?.value;
  if (hostsPair && isMap(hosts) && hosts.items.length > 0) {
    const unit = colOf(text, rangeOf(hosts.items[0]!.key)[0]) - colOf(text, rangeOf(hostsPair.key)[0]);
    if (unit > 0) return unit;
  }
  return 2;
}

function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  // Last first, so earlier offsets stay valid; at one offset the deeper insert ends up first in the text.
  const sorted = [...edits].sort((a, b) => b.from - a.from || a.depth - b.depth);
  let out = text;
  for (const e of sorted) out = out.slice(0, e.from) + e.insert + out.slice(e.to);
  return out;
}

function meaning(text: string, file: string): unknown {
  return parseYaml(text, file).doc.toJS({ maxAliasCount: 1000 });
}

/** The inventory text with the updates applied (see the module comment). Pure. */
export function setHostVarsInText(text: string, file: string, updates: HostVarUpdates): EditResult {
  const ops = planOps(text, file, updates);
  const orig = parseYaml(text, file).doc;
  const edited = parseYaml(text, file).doc;
  applyToDocument(edited, ops);
  const want = edited.toJS({ maxAliasCount: 1000 });
  const spliced = applyTextEdits(text, planTextEdits(text, orig, edited, ops));
  try {
    if (isDeepStrictEqual(meaning(spliced, file), want)) return { text: spliced, exact: true };
  } catch {
    // the text edit broke the file: fall back below
  }
  const printed = edited.toString({ lineWidth: 0 });
  if (!isDeepStrictEqual(meaning(printed, file), want)) {
    throw new EdgeError('CONFIG', `internal: could not write the variables into ${file} safely; nothing was written`);
  }
  return { text: printed, exact: false };
}

/**
 * Writes a file atomically (temporary file + rename), keeping its mode. The temporary name is
 * random and created exclusively (O_EXCL, 0600): a symlink planted at a fixed name would have
 * redirected the write.
 */
export function writeTextAtomic(file: string, text: string): void {
  const tmp = `${file}.edge-tmp-${randomBytes(8).toString('hex')}`;
  writeFileSync(tmp, text, { flag: 'wx', mode: 0o600 });
  chmodSync(tmp, statSync(file).mode & 0o7777);
  renameSync(tmp, file);
}

/** Reads the file, applies the updates, writes it back atomically (when anything changed). */
export function writeHostVars(file: string, updates: HostVarUpdates, display: string = file): EditResult {
  const text = readBoundedText(display, { what: 'inventory', maxBytes: FILE_CAPS.config, readFrom: file });
  const result = setHostVarsInText(text, display, updates);
  if (result.text !== text) writeTextAtomic(file, result.text);
  return result;
}

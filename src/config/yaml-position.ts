import { isAlias, isMap, isScalar, isSeq, type Node, type Pair, type YAMLMap } from 'yaml';
import type { SourcePos } from '../errors.js';
import { offsetPos, type YamlSource } from './yaml-source.js';

/** A path into a document, as in zod issues: mapping keys and sequence indices. */
export type YamlPath = readonly PropertyKey[];

interface Found {
  /** The deepest node reached. */
  node: Node | null;
  /** The key of the pair holding `node`, if it was reached through a mapping. */
  key: Node | null;
  /** True when the whole path exists. */
  complete: boolean;
}

function deref(source: YamlSource, node: unknown): Node | null {
  if (isAlias(node)) return (node.resolve(source.doc) as Node | undefined) ?? null;
  return (node as Node | null) ?? null;
}

const SCAN_UP_TO = 32;

/** A mapping's pairs by key as a path names it (String of the key's value), the first of each. */
const pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

/** The pair for `seg` among the mapping's own: indexed once, since a position asked for each of 10,000 hosts was a scan of all 10,000. */
function ownPair(map: YAMLMap, seg: PropertyKey): Pair | undefined {
  // A small mapping (a host's own variables) is scanned: an index each would cost more than it saves.
  if (map.items.length <= SCAN_UP_TO) return map.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg)) as Pair | undefined;
  let index = pairIndex.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) {
      const name = isScalar(p.key) ? String(p.key.value) : undefined;
      if (name !== undefined && !index.has(name)) index.set(name, p as Pair);
    }
    pairIndex.set(map, index);
  }
  return index.get(String(seg));
}

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (key.source === '<<' || key.value === '<<');
}

/** Finds the pair for `seg` in a mapping, looking through `<<` merge keys like toJS does. */
function findPair(source: YamlSource, map: Node, seg: PropertyKey, seen = new Set<Node>()): Pair | undefined {
  if (!isMap(map) || seen.has(map)) return undefined;
  seen.add(map);
  const own = ownPair(map, seg);
  if (own) return own;
  for (const p of map.items) {
    if (!isMergeKey(p.key)) continue;
    const v = deref(source, p.value);
    const sources = isSeq(v) ? v.items.map((i) => deref(source, i)) : [v];
    for (const s of sources) {
      const hit = s ? findPair(source, s, seg, seen) : undefined;
      if (hit) return hit;
    }
  }
  return undefined;
}

function walk(source: YamlSource, path: YamlPath): Found {
  let node = deref(source, source.doc.contents);
  let key: Node | null = null;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = findPair(source, node, seg);
      if (!pair) return { node, key, complete: false };
      key = pair.key as Node;
      node = deref(source, pair.value);
      // `key:` with nothing after it: the value has no place of its own, the key is where to look
      if (node === null) return { node: null, key, complete: true };
    } else if (isSeq(node) && Number.isInteger(Number(seg))) {
      const item = node.items[Number(seg)];
      if (item === undefined) return { node, key, complete: false };
      key = null;
      node = deref(source, item);
    } else {
      return { node, key, complete: false };
    }
  }
  return { node, key, complete: true };
}

function isEmptyScalar(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null && !node.source);
}

/**
 * Where a value is in the file: the value itself, or its key when asked (`at: 'key'`), when the
 * value is empty, or when the path does not exist (then the key of the nearest existing parent).
 */
export function positionOf(source: YamlSource, path: YamlPath, at: 'value' | 'key' = 'value'): SourcePos {
  const { node, key, complete } = walk(source, path);
  const useKey = key !== null && (!complete || at === 'key' || isEmptyScalar(node));
  const target = useKey ? key : node;
  const offset = target?.range?.[0];
  return offset === undefined ? { file: source.file, line: 1, col: 1 } : offsetPos(source, offset);
}

/** True when the path exists in the document (a key with an empty value counts). */
export function hasPath(source: YamlSource, path: YamlPath): boolean {
  return walk(source, path).complete;
}

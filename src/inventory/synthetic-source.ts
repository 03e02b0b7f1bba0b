import { Document, isMap, isNode, isScalar, LineCounter } from 'yaml';
import type { YamlSource } from '../config/yaml-source.js';
import { FLOAT_TAG } from './py-float.js';

/** Python's str.splitlines line breaks (INI inventories are split on these). */
export const LINE_BREAK = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/g;

/**
 * A YamlSource for data that did not come from YAML: the document is built from the data, and
 * each key (and value, at `path + '='`) gets the offset recorded for it, so positionOf finds
 * file:line:col in the original text.
 */
export function syntheticSource(file: string, text: string, data: object, positions: Map<string, number>, floats: ReadonlySet<string> = new Set()): YamlSource {
  const doc = new Document(data);
  const lineCounter = new LineCounter();
  lineCounter.addNewLine(0);
  for (const m of text.matchAll(LINE_BREAK)) lineCounter.addNewLine(m.index + m[0].length);
  const place = (node: unknown, offset: number | undefined) => {
    if (offset !== undefined && isNode(node)) node.range = [offset, offset, offset];
  };
  const walk = (node: unknown, path: string[]) => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      if (!isScalar(pair.key)) continue;
      const p = [...path, String(pair.key.value)];
      const keyAt = positions.get(JSON.stringify(p));
      place(pair.key, keyAt);
      place(pair.value, positions.get(JSON.stringify([...p, '='])) ?? keyAt);
      if (floats.has(JSON.stringify(p)) && isScalar(pair.value)) pair.value.tag = FLOAT_TAG;
      walk(pair.value, p);
    }
  };
  walk(doc.contents, []);
  return { file, doc: doc as unknown as YamlSource['doc'], lineCounter, data: JSON.parse(JSON.stringify(data)) as unknown };
}

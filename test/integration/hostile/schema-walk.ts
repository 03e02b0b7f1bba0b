import type { z } from 'zod';

/**
 * Every place a string can go in a document a zod schema describes, found by walking the schema
 * itself (so a field added later is walked too), and a way to put a value there in a document.
 *
 * A place is a path of steps: an object's property, a record's key (the value becomes the key),
 * one of a record's values, an array's item, or, in a loose object, an extra key or its value.
 */
export type Step =
  | { k: 'prop'; name: string }
  | { k: 'recordKey' }
  | { k: 'recordValue' }
  | { k: 'item' }
  | { k: 'extraKey' }
  | { k: 'extraValue' };

export type Place = Step[];

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  keyType?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  getter?: () => z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
  entries?: Record<string, unknown>;
  values?: unknown[];
}

const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'nonoptional', 'readonly', 'catch', 'success']);

export function placeName(p: Place): string {
  return p.map((s) => (s.k === 'prop' ? `.${s.name}` : s.k === 'item' ? '[0]' : `<${s.k}>`)).join('');
}

/** Every string-accepting place of `schema` (strings, string enums and literals, unknown values). */
export function stringPlaces(schema: z.ZodType): Place[] {
  const out = new Map<string, Place>();
  const onPath = new Set<z.ZodType>();
  const add = (p: Place) => out.set(placeName(p), p);
  const walk = (s: z.ZodType, path: Place): void => {
    if (onPath.has(s)) return; // recursive schemas (child groups) are walked once
    const d = defOf(s);
    onPath.add(s);
    try {
      if (WRAPPERS.has(d.type)) walk(d.innerType!, path);
      else if (d.type === 'pipe') walk(d.in!, path);
      else if (d.type === 'lazy') walk(d.getter!(), path);
      else if (d.type === 'union') for (const o of d.options!) walk(o, path);
      else if (d.type === 'intersection') [d.left!, d.right!].forEach((x) => walk(x, path));
      else if (d.type === 'string' || d.type === 'unknown' || d.type === 'any') add(path);
      else if (d.type === 'enum' && Object.values(d.entries!).some((v) => typeof v === 'string')) add(path);
      else if (d.type === 'literal' && d.values!.some((v) => typeof v === 'string')) add(path);
      else if (d.type === 'array') walk(d.element!, [...path, { k: 'item' }]);
      else if (d.type === 'record') {
        walk(d.keyType!, [...path, { k: 'recordKey' }]);
        walk(d.valueType!, [...path, { k: 'recordValue' }]);
      } else if (d.type === 'object') {
        for (const [name, v] of Object.entries(d.shape!)) walk(v, [...path, { k: 'prop', name }]);
        if (d.catchall && defOf(d.catchall).type !== 'never') {
          add([...path, { k: 'extraKey' }]);
          walk(d.catchall, [...path, { k: 'extraValue' }]);
        }
      }
    } finally {
      onPath.delete(s);
    }
  };
  walk(schema, []);
  return [...out.values()];
}

type Doc = unknown;
const isMap = (v: Doc): v is Record<string, Doc> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * `doc` with `value` at `place` (a copy). Steps go into what the document already has (a record's
 * first entry, an array's first item) and make what is missing; a record key renames the record's
 * first entry, so the document keeps its shape with the value as that name.
 */
export function putAt(doc: Doc, place: Place, value: string): Doc {
  const go = (node: Doc, steps: Place): Doc => {
    const [step, ...rest] = steps;
    if (!step) return value;
    // A property of a list (the playbook's one-play form) goes into its first item, as a play.
    if (step.k === 'prop' && Array.isArray(node) && node.length > 0) return [go(node[0], steps), ...node.slice(1)];
    if (step.k === 'item') {
      const arr = Array.isArray(node) ? [...node] : [];
      arr[0] = go(arr[0], rest);
      return arr;
    }
    const map: Record<string, Doc> = isMap(node) ? { ...node } : {};
    const first = Object.keys(map)[0];
    switch (step.k) {
      case 'prop':
        map[step.name] = go(map[step.name], rest);
        return map;
      case 'recordValue': {
        const key = first ?? 'walk';
        map[key] = go(map[key], rest);
        return map;
      }
      case 'recordKey':
      case 'extraKey': {
        if (step.k === 'extraKey' || first === undefined) return { ...map, [value]: step.k === 'extraKey' ? 'walk' : null };
        // rename the first entry, keeping the order of the rest
        return Object.fromEntries(Object.entries(map).map(([k, v]) => (k === first ? [value, v] : [k, v])));
      }
      case 'extraValue':
        map.walk_extra = go(map.walk_extra, rest);
        return map;
    }
  };
  return go(structuredClone(doc), place);
}

import path from 'node:path';
import { EdgeError } from '../errors.js';
import { parseYaml, type YamlSource } from '../config/yaml-source.js';
import type { VarSource } from './types.js';
import { syntheticSource } from './synthetic-source.js';
import { varSourcesOf } from './var-sources.js';
import { readVarsFile } from './vars-files.js';

/** `-e/--extra-vars`, merged in the order given (a later -e wins), with where each value came from. */
export interface ExtraVars {
  vars: Record<string, unknown>;
  sources: Record<string, VarSource>;
  files: YamlSource[];
}

export const NO_EXTRA_VARS: ExtraVars = { vars: {}, sources: {}, files: [] };

/**
 * Ansible's split_args for `key=value` words: whitespace separates words except inside quotes,
 * and the quotes stay in the word (the value is unquoted afterwards).
 */
function splitWords(text: string): { word: string; at: number }[] {
  const out: { word: string; at: number }[] = [];
  let start = -1;
  let quote: string | undefined;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === undefined || (!quote && /\s/.test(c))) {
      if (start >= 0) out.push({ word: text.slice(start, i), at: start });
      start = -1;
      continue;
    }
    if (start < 0) start = i;
    if (quote) {
      if (c === quote && text[i - 1] !== '\\') quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
  }
  if (quote) throw new Error('unbalanced quotes');
  return out;
}

/** Ansible's unquote: one pair of matching outer quotes is removed. */
function unquote(v: string): string {
  return v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0] ? v.slice(1, -1) : v;
}

/** `k=v k2="a b"`: every value is a string, as in Ansible (parse_kv). */
function keyValueSource(text: string, name: string): YamlSource {
  const data: Record<string, string> = {};
  const positions = new Map<string, number>();
  let words: { word: string; at: number }[];
  try {
    words = splitWords(text);
  } catch {
    throw new EdgeError('USAGE', `-e ${JSON.stringify(text)}: unbalanced quotes`, { field: '--extra-vars' });
  }
  for (const { word, at } of words) {
    const eq = word.search(/(?<!\\)=/);
    if (eq <= 0) {
      throw new EdgeError('USAGE', `-e ${JSON.stringify(text)}: expected key=value, got ${JSON.stringify(word)}`, {
        field: '--extra-vars',
        hint: 'use -e key=value, -e \'{"key": value}\' (YAML or JSON) or -e @FILE',
      });
    }
    const key = word.slice(0, eq).trim();
    data[key] = unquote(word.slice(eq + 1).trim());
    positions.set(JSON.stringify([key]), at);
    positions.set(JSON.stringify([key, '=']), at + eq + 1);
  }
  return syntheticSource(name, text, data, positions);
}

function sourceOf(value: string, index: number, cwd: string): YamlSource | undefined {
  const name = `--extra-vars #${index + 1}`;
  if (value === '') return undefined;
  if (value.startsWith('@')) {
    const file = value.slice(1);
    const read = readVarsFile(file, path.resolve(cwd, file));
    return read?.source ?? { ...parseYaml('{}', file) };
  }
  if (value[0] === '/' || value[0] === '.') {
    throw new EdgeError('USAGE', `-e ${value}: a file name needs an @ in front: -e @${value}`, { field: '--extra-vars' });
  }
  if (value[0] === '[' || value[0] === '{') {
    return parseYaml(value, name);
  }
  return keyValueSource(value, name);
}

/**
 * Reads every `-e` as Ansible does: `@FILE` (YAML or JSON), inline YAML/JSON starting with `{`
 * (or `[`, which is refused: not a mapping), or `key=value` words. Each must give a mapping.
 */
export function readExtraVars(values: readonly string[], cwd: string = process.cwd()): ExtraVars {
  const out: ExtraVars = { vars: {}, sources: {}, files: [] };
  values.forEach((value, i) => {
    const source = sourceOf(value, i, cwd);
    if (!source) return;
    const data = source.data;
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new EdgeError('USAGE', `-e ${JSON.stringify(value)}: could not be made into a mapping of variables`, { field: '--extra-vars' });
    }
    const vars = data as Record<string, unknown>;
    out.files.push(source);
    Object.assign(out.vars, vars);
    Object.assign(out.sources, varSourcesOf(source, vars, [], 'extra'));
  });
  return out;
}

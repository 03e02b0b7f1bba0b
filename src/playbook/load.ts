import { readdirSync } from 'node:fs';
import path from 'node:path';
import { EdgeError, EdgeErrors } from '../errors.js';
import { isMissingFile } from '../config/read-file.js';
import { suggest } from '../config/suggest.js';
import { positionOf, type YamlPath } from '../config/yaml-position.js';
import { readYamlFile, type YamlSource } from '../config/yaml-source.js';
import { issuesToErrors, PARSE_PARAMS, placeIn } from '../config/zod-issues.js';
import { warn } from '../config/warnings.js';
import { unknownAnsibleVarWarnings } from '../inventory/var-names.js';
import { varSourcesOf } from '../inventory/var-sources.js';
import { PLAY_KEYS, playStructureSchema } from './play-schema.js';
import { WINDOW_KEYS } from './window-schema.js';
import { playVarErrors } from './play-vars.js';
import { parseTaskEntries } from './task-entries.js';
import type { Play, Playbook } from './types.js';

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parsePlay(source: YamlSource, data: unknown, path: YamlPath, index: number, errors: EdgeError[]): Play | undefined {
  if (!isMapping(data)) {
    errors.push(
      new EdgeError('CONFIG', 'expected a play (a mapping with hosts: and tasks:)', { pos: positionOf(source, path) }),
    );
    return undefined;
  }
  const before = errors.length;
  const result = playStructureSchema.safeParse(data, PARSE_PARAMS);
  if (!result.success) {
    errors.push(
      ...issuesToErrors(result.error.issues, {
        data,
        locate: placeIn(source, path),
        knownKeys: (p) => (p.length === 0 ? PLAY_KEYS : p[0] === 'window' ? WINDOW_KEYS : undefined),
      }),
    );
  }
  // Tasks and vars are checked even when other keys are wrong, so every problem shows at once.
  const tasks = Array.isArray(data.tasks) ? parseTaskEntries(source, data.tasks, [...path, 'tasks'], errors) : [];
  const vars = isMapping(data.vars) ? data.vars : {};
  errors.push(...playVarErrors(source, vars, [...path, 'vars']));
  for (const w of unknownAnsibleVarWarnings(vars, [...path, 'vars'], source)) warn(w);
  if (!result.success || errors.length > before) return undefined;
  const p = result.data;
  return {
    index,
    name: p.name ?? p.hosts,
    hosts: p.hosts,
    vars,
    varSources: varSourcesOf(source, vars, [...path, 'vars'], 'play'),
    tasks,
    serial: p.serial,
    max_fail_percentage: p.max_fail_percentage,
    window: p.window,
    pause_between_batches: p.pause_between_batches,
    confirm_timeout: p.confirm_timeout,
    confirm: p.confirm,
    pos: positionOf(source, path),
    hostsPos: positionOf(source, [...path, 'hosts']),
    yamlPath: path,
  };
}

/** A playbook from a parsed file: a list of plays, or one play as a mapping. All problems are thrown together. */
export function parsePlaybook(source: YamlSource): Playbook {
  const data = source.data;
  const top = { file: source.file, line: 1, col: 1 };
  if (data === null) throw new EdgeError('CONFIG', 'the playbook is empty', { pos: top, hint: 'add a play: - hosts: all, tasks: [...]' });
  const items: Array<[unknown, YamlPath]> = Array.isArray(data)
    ? data.map((d, i) => [d, [i]])
    : isMapping(data)
      ? [[data, []]]
      : [];
  if (items.length === 0) {
    throw new EdgeError('CONFIG', 'expected a list of plays (or one play)', { pos: positionOf(source, []) });
  }
  const errors: EdgeError[] = [];
  const plays = items.map(([d, path], i) => parsePlay(source, d, path, i, errors));
  if (errors.length > 0) throw new EdgeErrors(errors);
  return { file: source.file, plays: plays as Play[], source };
}

/** Reads a playbook file (a relative path is read against `cwd` and shown as given). */
export function loadPlaybook(file: string, cwd: string = process.cwd()): Playbook {
  try {
    return parsePlaybook(readYamlFile(file, path.resolve(cwd, file), 'playbook'));
  } catch (e) {
    if (!isMissingFile(e)) throw e;
    throw new EdgeError('USAGE', `playbook ${file}: no such file`, { hint: nearbyPlaybook(file, cwd) });
  }
}

/**
 * A missing playbook's likely meant name: the same name with the other YAML extension
 * (failover.yml for failover.yaml), else a YAML file of a close name in the same directory.
 */
function nearbyPlaybook(file: string, cwd: string): string | undefined {
  const dir = path.dirname(file);
  let names: string[];
  try {
    names = readdirSync(path.resolve(cwd, dir)).filter((n) => /\.ya?ml$/.test(n));
  } catch {
    return undefined;
  }
  const base = path.basename(file);
  const stem = base.replace(/\.ya?ml$/, '');
  const match = names.find((n) => n.replace(/\.ya?ml$/, '') === stem) ?? suggest(base, names);
  return match ? `did you mean ${path.join(dir, match)}?` : undefined;
}

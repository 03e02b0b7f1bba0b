import path from 'node:path';
import { EdgeErrors, type EdgeError } from '../errors.js';
import { warn } from '../config/warnings.js';
import { positionOf } from '../config/yaml-position.js';
import { readYamlFile, type YamlSource } from '../config/yaml-source.js';
import { hostGroups, mergeHostVars } from './precedence.js';
import { readStructure } from './read-structure.js';
import { resolveInventoryPath } from './resolve-path.js';
import type { Inventory, ResolvedHost } from './types.js';
import { mergeHostErrors, validateHostVars } from './validate-host-vars.js';

/**
 * Builds the inventory from a parsed file: structure, precedence, then every host's variables
 * validated. Every host is validated, not just the ones a run targets, so a broken inventory is
 * found on the first command that reads it. All problems are thrown together.
 */
export function parseInventory(source: YamlSource): Inventory {
  const structure = readStructure(source);
  for (const w of structure.warnings) warn(w);
  const errors: EdgeError[] = [...structure.errors];
  const hosts = new Map<string, ResolvedHost>();
  for (const name of structure.hosts) {
    const groups = hostGroups(structure, name);
    const { raw, sources } = mergeHostVars(structure, source, name, groups);
    const hostPath = structure.hostFirst.get(name)!;
    const result = validateHostVars({ host: name, raw, sources, hostSource: source, hostPath, files: [source] });
    if (result.errors) {
      errors.push(...result.errors);
      continue;
    }
    hosts.set(name, {
      name,
      groups,
      vars: result.vars,
      varSources: sources,
      rawVars: raw,
      pos: positionOf(source, hostPath, 'key'),
      yamlPath: hostPath,
    });
  }
  if (errors.length > 0) throw new EdgeErrors(mergeHostErrors(errors));
  return { file: source.file, hosts, groups: structure.groups, source };
}

/** Reads an inventory file by path (relative paths against `cwd`, and shown as given). */
export function readInventory(file: string, cwd: string = process.cwd()): Inventory {
  return parseInventory(readYamlFile(file, path.resolve(cwd, file), 'inventory'));
}

/** `-i NAME|PATH` → the loaded inventory (see resolveInventoryPath). */
export function loadInventory(nameOrPath: string, cwd: string = process.cwd()): Inventory {
  return readInventory(resolveInventoryPath(nameOrPath, cwd), cwd);
}

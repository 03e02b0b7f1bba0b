import { EdgeError, EdgeErrors, type SourcePos } from '../errors.js';
import { formatFieldPath } from '../config/field-path.js';
import { positionOf, type YamlPath } from '../config/yaml-position.js';
import { offsetPos, type YamlSource } from '../config/yaml-source.js';
import { visit as visitDoc } from 'yaml';
import { issuesToErrors, PARSE_PARAMS, placeIn } from '../config/zod-issues.js';
import { GROUP_KEYS, inventoryStructureSchema } from './file-schema.js';
import { checkHostLimit, expandHostRange } from './host-range.js';
import type { GroupInfo } from './types.js';
import { unknownAnsibleVarWarnings, unknownEdgeVarErrors } from './var-names.js';
import { varSourcesOf } from './var-sources.js';

type Vars = Record<string, unknown>;
type GroupDef = { hosts?: Record<string, Vars | null> | null; vars?: Vars | null; children?: Record<string, GroupDef | null> | null };

/** A host's own variables as written in one place (a host may be listed with variables several times). */
export interface HostEntry {
  vars: Vars;
  basePath: YamlPath;
}

/** The inventory's groups and hosts as written, before variables are merged. */
export interface InventoryStructure {
  groups: Map<string, GroupInfo>;
  /** Host names in order of first appearance. */
  hosts: string[];
  /** Where each host is first listed. */
  hostFirst: Map<string, YamlPath>;
  /** Each host's own variable entries, in file order. */
  hostEntries: Map<string, HostEntry[]>;
  /** Problems that do not stop the walk (unknown edge_ variables, bad ranges, cycles), reported with the rest. */
  errors: EdgeError[];
  /** Likely mistakes that are not errors (unknown ansible_ variables). */
  warnings: EdgeError[];
}

/**
 * An inventory without a single host is a mistake, not an empty fleet: a file cut off before its
 * `hosts:` would otherwise run nothing and report success. Points at the last key in the file.
 */
function noHostsError(source: YamlSource): EdgeError {
  let last: SourcePos = { file: source.file, line: 1, col: 1 };
  visitDoc(source.doc, {
    Pair(_, pair) {
      const at = (pair.key as { range?: [number, number, number] } | null)?.range?.[0];
      if (at !== undefined) last = offsetPos(source, at);
    },
  });
  return new EdgeError('CONFIG', 'the inventory lists no hosts (is the file cut off?)', {
    pos: last,
    hint: 'list hosts under a group\'s hosts:, e.g. all: { hosts: { r1: { ansible_host: 192.0.2.10 } } }',
  });
}

/**
 * Reads Ansible's YAML inventory structure: checks its shape, then walks it, recording groups
 * (merged when a group is defined in several places, as Ansible does), membership, and where
 * every variable is written. Throws when the shape is wrong (every shape error at once); other
 * problems are returned so they are reported together with the variable errors.
 */
export function readStructure(source: YamlSource): InventoryStructure {
  if (source.data === null) {
    throw new EdgeError('CONFIG', 'the inventory is empty', {
      pos: { file: source.file, line: 1, col: 1 },
      hint: 'start with `all:` and list hosts under `hosts:`',
    });
  }
  const shape = inventoryStructureSchema.safeParse(source.data, PARSE_PARAMS);
  if (!shape.success) {
    throw new EdgeErrors(
      issuesToErrors(shape.error.issues, {
        data: source.data,
        locate: placeIn(source),
        knownKeys: () => GROUP_KEYS,
      }).map((e) =>
        e.message.startsWith('unknown key') ? new EdgeError('CONFIG', e.message, { ...e, hint: 'group keys are hosts, vars and children; variables go under vars:' }) : e,
      ),
    );
  }

  const errors: EdgeError[] = [];
  const warnings: EdgeError[] = [];
  const checkNames = (vars: Vars, base: YamlPath) => {
    errors.push(...unknownEdgeVarErrors(vars, base, source));
    warnings.push(...unknownAnsibleVarWarnings(vars, base, source));
  };
  const groups = new Map<string, GroupInfo>();
  const hosts: string[] = [];
  const hostFirst = new Map<string, YamlPath>();
  const hostEntries = new Map<string, HostEntry[]>();

  const group = (name: string): GroupInfo => {
    let g = groups.get(name);
    if (!g) {
      g = { name, hosts: new Set(), children: new Set(), parents: new Set(), vars: {}, varSources: {}, depth: 0 };
      groups.set(name, g);
    }
    return g;
  };
  const isAncestor = (candidate: string, of: string, seen = new Set<string>()): boolean => {
    if (candidate === of) return true;
    if (seen.has(of)) return false;
    seen.add(of);
    return [...(groups.get(of)?.parents ?? [])].some((p) => isAncestor(candidate, p, seen));
  };
  const pos = (path: YamlPath, at: 'value' | 'key' = 'value'): SourcePos => positionOf(source, path, at);

  group('all');
  // Names listed so far (a host listed twice counts twice): the cap on range expansion covers the whole file.
  let listed = 0;
  const visit = (name: string, def: GroupDef | null, path: YamlPath, parent: string | undefined) => {
    if (parent !== undefined) {
      if (name === 'all') {
        errors.push(new EdgeError('CONFIG', 'all cannot be a child group', { pos: pos(path, 'key'), field: formatFieldPath(path) }));
        return;
      }
      if (isAncestor(name, parent)) {
        errors.push(
          new EdgeError('CONFIG', `group ${name} would contain itself (${parent} is inside ${name})`, {
            pos: pos(path, 'key'),
            field: formatFieldPath(path),
          }),
        );
        return;
      }
      group(parent).children.add(name);
      group(name).parents.add(parent);
    }
    const g = group(name);
    if (!def) return;
    if (def.vars) {
      const base = [...path, 'vars'];
      Object.assign(g.vars, def.vars);
      Object.assign(g.varSources, varSourcesOf(source, def.vars, base, 'group', name));
      checkNames(def.vars, base);
    }
    for (const [key, vars] of Object.entries(def.hosts ?? {})) {
      const hostPath = [...path, 'hosts', key];
      // Past the cap the walk stops: one error says it, and nothing is expanded or validated further.
      checkHostLimit(key, pos(hostPath, 'key'), listed);
      let names: string[];
      try {
        names = expandHostRange(key, pos(hostPath, 'key'));
      } catch (e) {
        errors.push(e as EdgeError);
        continue;
      }
      listed += names.length;
      for (const h of names) {
        if (!hostFirst.has(h)) {
          hosts.push(h);
          hostFirst.set(h, hostPath);
          hostEntries.set(h, []);
        }
        g.hosts.add(h);
        if (vars) hostEntries.get(h)!.push({ vars, basePath: hostPath });
      }
      if (vars) checkNames(vars, hostPath);
    }
    for (const [child, childDef] of Object.entries(def.children ?? {})) {
      visit(child, childDef, [...path, 'children', child], name);
    }
  };
  const top = source.data as Record<string, GroupDef | null>;
  for (const [name, def] of Object.entries(top)) visit(name, def, [name], undefined);
  if (hosts.length === 0 && errors.length === 0) throw noHostsError(source);

  // As in Ansible: groups nobody contains are children of all; hosts in no group but all are `ungrouped`.
  const ungrouped = group('ungrouped');
  for (const g of groups.values()) {
    if (g.name !== 'all' && g.parents.size === 0) {
      g.parents.add('all');
      group('all').children.add(g.name);
    }
  }
  const grouped = new Set([...groups.values()].filter((g) => g.name !== 'all').flatMap((g) => [...g.hosts]));
  for (const h of hosts) if (!grouped.has(h)) ungrouped.hosts.add(h);

  // Depth = longest path from all (Ansible's first sort key for variable precedence); cycles were refused above.
  const depth = new Map<string, number>([['all', 0]]);
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const d = Math.max(...[...groups.get(name)!.parents].map((p) => depthOf(p) + 1));
    depth.set(name, d);
    return d;
  };
  for (const g of groups.values()) g.depth = depthOf(g.name);

  for (const g of groups.values()) {
    const p = g.vars.ansible_group_priority;
    const src = g.varSources.ansible_group_priority;
    if (p !== undefined && !Number.isInteger(p) && src) {
      errors.push(
        new EdgeError('CONFIG', `expected a whole number, got ${JSON.stringify(p)}`, {
          pos: { file: src.file, line: src.line, col: src.col },
          field: src.path,
        }),
      );
    }
  }
  return { groups, hosts, hostFirst, hostEntries, errors, warnings };
}

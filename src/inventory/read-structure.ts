import { EdgeError, EdgeErrors, type SourcePos } from '../errors.js';
import { formatFieldPath } from '../config/field-path.js';
import { isMap, isScalar, visit as visitDoc } from 'yaml';
import { positionOf, type YamlPath } from '../config/yaml-position.js';
import { offsetPos, type YamlSource } from '../config/yaml-source.js';
import { issuesToErrors, PARSE_PARAMS, placeIn } from '../config/zod-issues.js';
import { GROUP_KEYS, inventoryStructureSchema } from './file-schema.js';
import { expandHostPattern } from './host-pattern.js';
import { checkHostLimit } from './host-range.js';
import type { GroupInfo } from './types.js';
import { unknownAnsibleVarWarnings, unknownEdgeVarErrors } from './var-names.js';
import { varSourcesOf } from './var-sources.js';

type Vars = Record<string, unknown>;
type GroupDef = { hosts?: Record<string, Vars | null> | null; vars?: Vars | null; children?: Record<string, GroupDef | null> | null };

/** A host's own variables as written in one place (a host may be listed with variables several times). */
export interface HostEntry {
  vars: Vars;
  basePath: YamlPath;
  source: YamlSource;
}

/** Where a host is first listed. */
export interface HostPlace {
  source: YamlSource;
  path: YamlPath;
}

/** The inventory's groups and hosts as written, before variables are merged. */
export interface InventoryStructure {
  groups: Map<string, GroupInfo>;
  /** Host names in order of first appearance. */
  hosts: string[];
  /** Where each host is first listed. */
  hostFirst: Map<string, HostPlace>;
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

function checkShape(source: YamlSource): void {
  const shape = inventoryStructureSchema.safeParse(source.data, PARSE_PARAMS);
  if (shape.success) return;
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

/** Host keys must be text: Ansible refuses `1:` or `true:` as a host name. */
function nonStringHostKeys(source: YamlSource, hostsPath: YamlPath): string[] {
  const node = source.doc.getIn(hostsPath, true);
  if (!isMap(node)) return [];
  return node.items.filter((p) => isScalar(p.key) && typeof p.key.value !== 'string').map((p) => String((p.key as { value: unknown }).value));
}

/** Python's int() on an ansible_group_priority value, or undefined where int() would fail. */
function groupPriority(v: unknown): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[+-]?[0-9]+\s*$/.test(v)) return Number(v.trim());
  return undefined;
}

/**
 * Reads Ansible inventories (YAML, or INI turned into the same shape) into one structure, in
 * the order given, as Ansible's inventory manager merges several sources: checks each one's
 * shape, then walks it, recording groups (merged when defined in several places), membership,
 * and where every variable is written. Throws when a shape is wrong (every shape error at once);
 * other problems are returned so they are reported together with the variable errors.
 */
export function readStructure(input: YamlSource | readonly YamlSource[], { allowNoHosts = false } = {}): InventoryStructure {
  const sources = (Array.isArray(input) ? input : [input]) as readonly YamlSource[];
  const only = sources.length === 1 ? sources[0] : undefined;
  const noHosts: EdgeError[] = [];
  // allowNoHosts (edge inventory --json, as ansible-inventory --list): the refusal becomes a warning
  const refuse = (e: EdgeError) => {
    if (!allowNoHosts) throw e;
    noHosts.push(e);
  };
  if (only && only.data === null) {
    refuse(
      new EdgeError('CONFIG', 'the inventory is empty', {
        pos: { file: only.file, line: 1, col: 1 },
        hint: 'start with `all:` and list hosts under `hosts:`',
      }),
    );
  }
  for (const source of sources) if (source.data !== null) checkShape(source);

  const walk = new InventoryWalk();
  for (const source of sources) if (source.data !== null) walk.readSource(source);
  const last = sources.at(-1);
  if (walk.hosts.length === 0 && walk.errors.length === 0 && last && noHosts.length === 0) refuse(noHostsError(last));
  walk.reconcile();
  walk.setDepths();
  const { groups, hosts, hostFirst, hostEntries, errors, warnings } = walk;
  return { groups, hosts, hostFirst, hostEntries, errors, warnings: [...noHosts, ...warnings] };
}

/** The walk over every source, building the structure as Ansible's InventoryData does. */
class InventoryWalk implements InventoryStructure {
  readonly groups = new Map<string, GroupInfo>();
  readonly hosts: string[] = [];
  readonly hostFirst = new Map<string, HostPlace>();
  readonly hostEntries = new Map<string, HostEntry[]>();
  readonly errors: EdgeError[] = [];
  readonly warnings: EdgeError[] = [];
  /** Names listed so far (a host listed twice counts twice): the cap on range expansion covers every source. */
  private listed = 0;

  constructor() {
    // As Ansible's InventoryData starts: all, and ungrouped as its first child.
    this.group('all');
    this.group('ungrouped').parents.add('all');
    this.group('all').children.add('ungrouped');
  }

  readSource(source: YamlSource): void {
    const top = source.data as Record<string, GroupDef | null>;
    for (const [name, def] of Object.entries(top)) this.visit(source, name, def, [name], undefined);
  }

  /**
   * As Ansible's reconcile_inventory: groups nobody contains are children of all; a host in no
   * group but all (or ungrouped) is in ungrouped, and only there.
   */
  reconcile(): void {
    for (const g of this.groups.values()) {
      if (g.name !== 'all' && g.parents.size === 0) {
        g.parents.add('all');
        this.group('all').children.add(g.name);
      }
    }
    const ungrouped = this.group('ungrouped');
    const grouped = new Set([...this.groups.values()].filter((g) => g.name !== 'all' && g.name !== 'ungrouped').flatMap((g) => [...g.hosts]));
    for (const h of this.hosts) {
      if (!grouped.has(h)) ungrouped.hosts.add(h);
      else ungrouped.hosts.delete(h);
    }
  }

  /** Depth = longest path from all (Ansible's first sort key for variable precedence); cycles were refused. */
  setDepths(): void {
    const depth = new Map<string, number>([['all', 0]]);
    const depthOf = (name: string): number => {
      const known = depth.get(name);
      if (known !== undefined) return known;
      const d = Math.max(...[...this.groups.get(name)!.parents].map((p) => depthOf(p) + 1));
      depth.set(name, d);
      return d;
    };
    for (const g of this.groups.values()) g.depth = depthOf(g.name);
  }

  private group(name: string): GroupInfo {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, hosts: new Set(), children: new Set(), parents: new Set(), vars: {}, varSources: {}, depth: 0, priority: 1 };
      this.groups.set(name, g);
    }
    return g;
  }

  private isAncestor(candidate: string, of: string, seen = new Set<string>()): boolean {
    if (candidate === of) return true;
    if (seen.has(of)) return false;
    seen.add(of);
    return [...(this.groups.get(of)?.parents ?? [])].some((p) => this.isAncestor(candidate, p, seen));
  }

  private visit(source: YamlSource, name: string, def: GroupDef | null, path: YamlPath, parent: string | undefined): void {
    if (parent !== undefined && !this.link(source, name, path, parent)) return;
    const g = this.group(name);
    if (def?.vars) this.readGroupVars(source, g, def.vars, [...path, 'vars']);
    this.readHosts(source, g, def?.hosts ?? {}, path);
    for (const [child, childDef] of Object.entries(def?.children ?? {})) this.visit(source, child, childDef, [...path, 'children', child], name);
  }

  /** Makes `name` a child of `parent`, unless that is all or would make a cycle (an error then). */
  private link(source: YamlSource, name: string, path: YamlPath, parent: string): boolean {
    const at = { pos: positionOf(source, path, 'key'), field: formatFieldPath(path) };
    if (name === 'all') {
      this.errors.push(new EdgeError('CONFIG', 'all cannot be a child group', at));
      return false;
    }
    if (this.isAncestor(name, parent)) {
      this.errors.push(new EdgeError('CONFIG', `group ${name} would contain itself (${parent} is inside ${name})`, at));
      return false;
    }
    this.group(parent).children.add(name);
    this.group(name).parents.add(parent);
    return true;
  }

  private readGroupVars(source: YamlSource, g: GroupInfo, all: Vars, base: YamlPath): void {
    const { ansible_group_priority: priority, ...vars } = all;
    if (priority !== undefined) {
      const p = groupPriority(priority);
      const at = [...base, 'ansible_group_priority'];
      if (p === undefined) this.errors.push(new EdgeError('CONFIG', `expected a whole number, got ${JSON.stringify(priority)}`, { pos: positionOf(source, at), field: formatFieldPath(at) }));
      else g.priority = p;
    }
    Object.assign(g.vars, vars);
    Object.assign(g.varSources, varSourcesOf(source, vars, base, 'group', g.name));
    this.checkNames(source, vars, base);
  }

  private readHosts(source: YamlSource, g: GroupInfo, hosts: Record<string, Vars | null>, groupPath: YamlPath): void {
    for (const bad of nonStringHostKeys(source, [...groupPath, 'hosts'])) {
      const at = [...groupPath, 'hosts', bad];
      this.errors.push(
        new EdgeError('CONFIG', `host name ${bad} must be a string: quote it`, {
          pos: positionOf(source, at, 'key'),
          field: formatFieldPath(at),
          hint: 'Ansible refuses it too ("Enclose integers/floats in quotation marks")',
        }),
      );
    }
    for (const [key, vars] of Object.entries(hosts)) {
      const hostPath = [...groupPath, 'hosts', key];
      const keyPos = positionOf(source, hostPath, 'key');
      // Past the cap the walk stops: one error says it, and nothing is expanded or validated further.
      checkHostLimit(key, keyPos, this.listed);
      let expanded: { names: string[]; port?: number };
      try {
        expanded = expandHostPattern(key, keyPos);
      } catch (e) {
        this.errors.push(e as EdgeError);
        continue;
      }
      this.listed += expanded.names.length;
      for (const h of expanded.names) this.addHost(source, g, h, vars, hostPath, expanded.port);
      if (vars) this.checkNames(source, vars, hostPath);
    }
  }

  private addHost(source: YamlSource, g: GroupInfo, h: string, vars: Vars | null, hostPath: YamlPath, port: number | undefined): void {
    if (!this.hostFirst.has(h)) {
      this.hosts.push(h);
      this.hostFirst.set(h, { source, path: hostPath });
      // As Ansible's Host(name, port): a port in the key is set when the host is first seen.
      this.hostEntries.set(h, port === undefined ? [] : [{ vars: { ansible_port: port }, basePath: hostPath, source }]);
    }
    g.hosts.add(h);
    if (vars) this.hostEntries.get(h)!.push({ vars, basePath: hostPath, source });
  }

  private checkNames(source: YamlSource, vars: Vars, base: YamlPath): void {
    this.errors.push(...unknownEdgeVarErrors(vars, base, source));
    this.warnings.push(...unknownAnsibleVarWarnings(vars, base, source));
  }
}

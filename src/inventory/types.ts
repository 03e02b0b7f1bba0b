import type { SourcePos } from '../errors.js';
import type { YamlPath } from '../config/yaml-position.js';
import type { YamlSource } from '../config/yaml-source.js';
import type { HostVars } from './vars.js';

/** Where a variable's effective value was written. */
export interface VarSource extends SourcePos {
  /** Dotted path of the value in its file, e.g. `all.children.ams.vars.edge_window`. */
  path: string;
  /** The same path as keys and indices, to find nested values (list items) in the file. */
  yamlPath: YamlPath;
  /**
   * host: the host's own entry or its host_vars file; group: a group's `vars` or group_vars file;
   * play: a play's `vars`; extra: `-e/--extra-vars`.
   */
  scope: 'host' | 'group' | 'play' | 'extra';
  group?: string;
}

export interface GroupInfo {
  name: string;
  /** Hosts listed directly under the group (not via children), in inventory order. */
  hosts: Set<string>;
  children: Set<string>;
  parents: Set<string>;
  /** The group's own `vars` (later definitions of the same group win). */
  vars: Record<string, unknown>;
  varSources: Record<string, VarSource>;
  /** Longest path from `all` (all = 0); the first key of Ansible's precedence order. */
  depth: number;
  /** ansible_group_priority (default 1): the second key of the precedence order; not a variable. */
  priority: number;
}

export interface ResolvedHost {
  name: string;
  /** Every group the host is in, directly or through children, lowest precedence first (all first). */
  groups: string[];
  /** Validated, with edge's defaults applied; other variables kept as written. */
  vars: HostVars;
  /** Where each variable that was set came from (defaults have no entry). */
  varSources: Record<string, VarSource>;
  /** The merged variables as written, before validation and defaults (plays merge their vars onto these). */
  rawVars: Record<string, unknown>;
  /** Where the host is first listed, and in which file. */
  pos: SourcePos;
  source: YamlSource;
  /** Path of that first listing, e.g. ['all', 'children', 'ams', 'hosts', 'rtr-ams-1']. */
  yamlPath: YamlPath;
}

export interface Inventory {
  /** The first inventory file (the one `edge pick` writes to); `label` names every source. */
  file: string;
  /** The `-i` sources as given, comma-separated, for messages. */
  label: string;
  /** In inventory order (first appearance in the file). */
  hosts: Map<string, ResolvedHost>;
  /** In inventory order; always has `all` and `ungrouped`. */
  groups: Map<string, GroupInfo>;
  source: YamlSource;
  /** Every file read: inventory sources, group_vars / host_vars files, extra vars files. */
  sources: YamlSource[];
  /** `-e/--extra-vars`: applied over every other variable, including a play's vars. */
  extraVars: { vars: Record<string, unknown>; sources: Record<string, VarSource> };
}

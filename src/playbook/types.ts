import type { SourcePos } from '../errors.js';
import type { YamlPath } from '../config/yaml-position.js';
import type { YamlSource } from '../config/yaml-source.js';
import type { VarSource } from '../inventory/types.js';
import type { TaskName } from '../tasks/contract.js';
import type { SerialStep } from './serial.js';
import type { Window } from './window-schema.js';

/** One task of a play, params validated by the task's schema (undefined when none were given). */
export interface TaskEntry {
  task: TaskName;
  /** The entry's `name:`, or the task name. */
  name: string;
  params: unknown;
  pos: SourcePos;
}

/** A play with defaults applied. Keys keep the playbook's spelling so code and YAML grep alike. */
export interface Play {
  /** 0-based position in the playbook. */
  index: number;
  /** `name:`, or the hosts pattern as Ansible shows it. */
  name: string;
  hosts: string;
  /** Play variables as written; validated per host after merging onto the inventory's (resolvePlayHosts). */
  vars: Record<string, unknown>;
  varSources: Record<string, VarSource>;
  tasks: TaskEntry[];
  /** Absent: one batch with every host. */
  serial?: SerialStep[];
  max_fail_percentage: number;
  /** The play's window; a host's `edge_window` wins over it (see effectiveWindow). */
  window?: Window;
  /** Seconds. */
  pause_between_batches: number;
  /** Seconds. */
  confirm_timeout: number;
  confirm: 'auto' | 'manual';
  pos: SourcePos;
  /** Where `hosts:` is, for errors about the pattern. */
  hostsPos: SourcePos;
  yamlPath: YamlPath;
}

export interface Playbook {
  file: string;
  plays: Play[];
  source: YamlSource;
}

import type { HostStatus } from '../engine/status.js';
import type { FleetSummary } from '../engine/status-fleet.js';
import type { RunRow } from '../engine/run-rows.js';
import type { RunResult } from '../engine/types.js';
import type { AnsibleList } from '../inventory/ansible-list.js';

/**
 * The --json outputs of run, status, runs and inventory, as types. Each carries `schemaVersion`
 * (raised when a field changes meaning or goes away; new fields do not raise it). Their JSON
 * Schemas are generated from these very types (`npm run gen:schemas` →
 * output-schemas.json, checked fresh by test/unit/cli/output-schemas.test.ts) and written by
 * `edge schema`.
 */
export const OUTPUT_SCHEMA_VERSION = 1;

interface Versioned {
  /** Version of this output's shape (see `edge schema`). */
  schemaVersion: 1;
}

/** `edge run --json`. */
export interface RunJson extends RunResult, Versioned {}

/** `edge status --json` (with --watch: one per line per refresh). */
export interface StatusJson extends Versioned {
  /** When the answers were collected (ISO). */
  at: string;
  playbook: string;
  /** The fleet's figures (routers on each WAN, down, degraded, drifted, unreachable) and its routers worst first. */
  summary: FleetSummary;
  hosts: HostStatus[];
}

/** One run as `edge runs` lists it: the journal's facts and each host's state, each host once. */
export interface RunsRow extends RunRow {}

/** `edge runs --json`. */
export interface RunsJson extends Versioned {
  runs: RunsRow[];
}

/**
 * `edge inventory --json`: what `ansible-inventory --list` prints, with edge's version under
 * `_meta.edge` (Ansible's consumers ignore unknown `_meta` keys).
 */
export interface InventoryJson {
  _meta: AnsibleList['_meta'] & { edge: Versioned };
  /** Each group's direct hosts and child groups. */
  [group: string]: { hosts?: string[]; children?: string[] } | InventoryJson['_meta'];
}

export const OUTPUT_TYPES = { run: 'RunJson', status: 'StatusJson', runs: 'RunsJson', inventory: 'InventoryJson' } as const;
export type OutputName = keyof typeof OUTPUT_TYPES;

export function withSchemaVersion<T extends object>(_name: OutputName, doc: T): T & Versioned {
  return { schemaVersion: OUTPUT_SCHEMA_VERSION, ...doc };
}

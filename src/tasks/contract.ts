import type { z } from 'zod';
import type { Facts, FactNeeds } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import type { ChangeOp } from './change-ops.js';

/**
 * The task contract (shared/DESIGN.md):
 *  - needs(): which extra facts the task reads (files, sysctl keys, packages, units) — pure;
 *  - plan():  vars + facts → changes — pure, never runs a command;
 *  - each change is a list of typed ops (change-ops.ts: write file, remove file, sysctl, nft table,
 *    rules, routes, links, units, packages) with a summary and a diff for humans; its shell and its
 *    snapshot scope are derived from the ops, so what a rollback saves is what an apply touches.
 */

export const TASK_NAMES = [
  'inventory-check',
  'sysctl',
  'packages',
  'tables',
  'nftables',
  'persistence',
  'failover',
  'verify',
] as const;
export type TaskName = (typeof TASK_NAMES)[number];

/** What a change replaces, so the engine can save it first and restore it exactly on rollback. */
export interface SnapshotScope {
  /**
   * Files the change writes or removes, or may cause to appear (a file a service it starts writes by
   * itself): saved as the host finds them (content, or absence) and restored exactly.
   */
  files?: string[];
  sysctl?: string[];
  /** nft tables as "family name", e.g. "inet edge". */
  nftTables?: string[];
  /** ip rules with a priority in [from, to] (edge owns a range). */
  ruleRange?: [number, number];
  /** Routing table ids whose routes the change replaces. */
  routeTables?: number[];
  /** The same for IPv6 rules (`ip -6 rule`) and IPv6 routes of those tables. */
  ruleRange6?: [number, number];
  routeTables6?: number[];
  /** systemd units whose enabled/active state the change alters. */
  units?: string[];
  /** Network links the change may create (deleted on restore if they did not exist before the run). */
  links?: string[];
  /**
   * Packages the change asks apt for. What the restore undoes is what dpkg on the host says apt
   * added (dependencies included) and what that changed under /etc, recorded around apt
   * (src/router/pkg-state.sh); these names are for people (diff, manifest).
   */
  packages?: string[];
}

export interface Change {
  /** One line for humans: "net.ipv4.ip_forward: 0 → 1", "write /etc/nftables.d/edge.nft". */
  summary: string;
  /** Unified diff for files; "-/+" lines for runtime state. Always ends with a newline. */
  diff: string;
  /** What it does, in order: its shell (changeShell) and snapshot scope (changeScope) come from these. */
  ops: ChangeOp[];
}

export interface TaskContext<P = unknown> {
  host: string;
  vars: HostVars;
  facts: Facts;
  params: P;
}

export interface Plan {
  changes: Change[];
  /** Reasons the host must not be changed (inventory-check); the engine fails the host before applying anything. */
  failures?: string[];
  /**
   * Lockout preflight: why applying this plan would cut the SSH session edge is using (named rule
   * or route). The engine refuses the host unless --force-lockout-risk.
   */
  lockout?: string[];
  /** Notes shown with the task result (e.g. "package X held back"). */
  notes?: string[];
}

export interface Task<P = unknown> {
  name: TaskName;
  description: string;
  /** Validates the task's parameters in the playbook. */
  params: z.ZodType<P>;
  needs(vars: HostVars, params: P): Partial<FactNeeds>;
  plan(ctx: TaskContext<P>): Plan;
  /**
   * Shell that checks the result on the host; exits non-zero with a message on stderr if wrong.
   * Appended to the task's apply exec. Tasks with `alwaysVerify` run it as their own exec even when
   * nothing changed (the `verify` task).
   */
  verify?(ctx: TaskContext<P>): string | undefined;
  alwaysVerify?: boolean;
  /**
   * A task that always verifies and whose check needs no facts: the same script from vars and
   * params alone. The engine runs it inside the fact-gathering exec, so a host with nothing to
   * change is verified without a second exec.
   */
  verifyWithoutFacts?(vars: HostVars, params: P): string | undefined;
  /**
   * The files this task will want, as far as the vars alone say (pure, before facts). The probe
   * sends back just the hash of a file that already holds this content. A file whose content also
   * depends on facts is best left out: planning compares against the hash either way.
   */
  expectedFiles?(vars: HostVars, params: P): { path: string; content: string }[];
}

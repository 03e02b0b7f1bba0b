import { removeFileCommand, writeCheckedFileCommand, writeFileCommand } from '../render/shell.js';
import { shJoin, shQuote, sysctlKey, sysctlValue } from '../encode/index.js';
import type { Change, SnapshotScope } from './contract.js';
import { rulesApply, tableApply, type RuleLine } from './desired-routing.js';
import { createdByServices, linksCreatedByServices } from './paths.js';

/**
 * What a change does to a host, typed. A change is a list of these; its shell, its snapshot scope
 * and the engine's composition of one apply exec (one daemon-reload, each unit started once) are
 * all derived from them here, so a rollback covers what an apply touches by construction, and a
 * test can check every task's scope against the shell it runs (test/unit/tasks/change-scope.test.ts).
 */
export type ChangeOp =
  /** Write a file atomically; with `check`, the new content must pass that command (given the temp file) first. */
  | { kind: 'file'; path: string; content: string; mode: string; owner: string; group: string; check?: string }
  | { kind: 'remove'; path: string }
  /** Kernel values now (the file in /etc/sysctl.d is a `file` op). */
  | { kind: 'sysctl'; values: [key: string, value: string][] }
  /**
   * Load an nft table from a file edge wrote; then, if `sync.program` is installed, `PROGRAM sync`
   * puts back the live failover state (loading resets it), which rewrites a rule in `sync.ruleRange`.
   */
  | { kind: 'nft'; table: string; file: string; sync?: { program: string; ruleRange: [number, number] } }
  /** Make one routing table hold exactly `want` (or nothing); `flush` when it holds routes now. family 6: its IPv6 routes. */
  | { kind: 'routes'; table: number; flush: boolean; want?: string; family?: 6 }
  /** Replace edge's ip rules inside `range` (family 6: `ip -6 rule`). */
  | { kind: 'rules'; range: [number, number]; remove: RuleLine[]; add: RuleLine[]; family?: 6 }
  /** A router program run to create network links (`edge-failover link`). */
  | { kind: 'links'; names: string[]; argv: string[] }
  /** systemd: an optional daemon-reload, then each unit's action; `units` are all the units whose state the change owns. */
  | { kind: 'units'; daemonReload: boolean; actions: UnitAction[]; units: string[] }
  /**
   * apt, between two records the snapshot keeps (src/router/pkg-state.sh, put into the apply exec by
   * the engine): dpkg's state and /etc right before, and after, what dpkg did not have before and
   * what changed under /etc. A rollback purges those packages and puts /etc back; an upgrade of a
   * package that was there is kept (the old version is not kept to go back to).
   */
  | { kind: 'packages'; install: string[]; upgrade: string[] };

export interface UnitAction {
  unit: string;
  /** `disable` also stops the unit (`systemctl disable --now`). */
  action: 'enable' | 'start' | 'restart' | 'disable';
}

/** The records around apt (functions of src/router/pkg-state.sh, which the engine puts into an apply exec that runs apt). */
export const PKGS_BEFORE = 'edge_pkgs_before';
export const PKGS_AFTER = 'edge_pkgs_after';

const APT =
  'DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends';

export function unitActionShell(a: UnitAction): string {
  if (a.action === 'enable') return `systemctl enable --quiet ${shQuote(a.unit)}`;
  if (a.action === 'disable') return `systemctl disable --now --quiet ${shQuote(a.unit)}`;
  return `systemctl ${a.action} ${shQuote(a.unit)}`;
}

/** The shell of one op, run as root under `set -eu` after PREAMBLE. Idempotent. */
export function opShell(op: ChangeOp): string {
  switch (op.kind) {
    case 'file':
      return op.check
        ? writeCheckedFileCommand(op.path, op.content, op.mode, op.check, op.owner, op.group)
        : writeFileCommand(op.path, op.content, op.mode, op.owner, op.group);
    case 'remove':
      return removeFileCommand(op.path);
    case 'sysctl':
      return op.values.map(([k, v]) => `sysctl -q -w ${shQuote(`${sysctlKey(k)}=${sysctlValue(v)}`)}`).join('\n');
    case 'nft':
      return [`nft -f ${shQuote(op.file)}`, ...(op.sync ? [`if [ -x ${shQuote(op.sync.program)} ]; then ${shQuote(op.sync.program)} sync; fi`] : [])].join('\n');
    case 'routes':
      return tableApply(op.table, op.flush, op.want, op.family);
    case 'rules':
      return rulesApply(op.remove, op.add, op.family);
    case 'links':
      return shJoin(op.argv);
    case 'units':
      return [...(op.daemonReload ? ['systemctl daemon-reload'] : []), ...op.actions.map(unitActionShell)].join('\n');
    case 'packages':
      return [
        PKGS_BEFORE,
        'apt-get -q update',
        ...(op.install.length ? [`${APT} install ${shJoin(op.install)}`] : []),
        ...(op.upgrade.length ? [`${APT} --only-upgrade install ${shJoin(op.upgrade)}`] : []),
        PKGS_AFTER,
      ].join('\n');
  }
}

/** What one op replaces, for the snapshot. */
export function opScope(op: ChangeOp): SnapshotScope {
  switch (op.kind) {
    case 'file':
    case 'remove':
      return { files: [op.path] };
    case 'sysctl':
      return { sysctl: op.values.map(([k]) => k) };
    case 'nft':
      return op.sync ? { nftTables: [op.table], ruleRange: op.sync.ruleRange } : { nftTables: [op.table] };
    case 'routes':
      return op.family === 6 ? { routeTables6: [op.table] } : { routeTables: [op.table] };
    case 'rules':
      return op.family === 6 ? { ruleRange6: op.range } : { ruleRange: op.range };
    case 'links':
      return { links: op.names };
    case 'units': {
      // Starting a unit may make files and links of its own (paths.ts): those are saved too.
      const files = createdByServices(op.units);
      const links = linksCreatedByServices(op.units);
      return { units: op.units, ...(files.length ? { files } : {}), ...(links.length ? { links } : {}) };
    }
    case 'packages':
      return { packages: [...op.install, ...op.upgrade] };
  }
}

/** The union of scopes, each item once, in first-seen order. */
export function mergeScopes(scopes: readonly SnapshotScope[]): SnapshotScope {
  const out: SnapshotScope = {};
  const add = <K extends 'files' | 'sysctl' | 'nftTables' | 'units' | 'links' | 'routeTables' | 'routeTables6' | 'packages'>(k: K, v: SnapshotScope[K]) => {
    if (!v?.length) return;
    const cur = (out[k] ?? []) as unknown[];
    out[k] = [...cur, ...(v as unknown[]).filter((x) => !cur.includes(x))] as SnapshotScope[K];
  };
  for (const s of scopes) {
    add('files', s.files);
    add('sysctl', s.sysctl);
    add('nftTables', s.nftTables);
    add('routeTables', s.routeTables);
    add('routeTables6', s.routeTables6);
    add('units', s.units);
    add('links', s.links);
    add('packages', s.packages);
    for (const k of ['ruleRange', 'ruleRange6'] as const) {
      const r = s[k];
      if (!r) continue;
      const cur = out[k];
      if (cur && (cur[0] !== r[0] || cur[1] !== r[1])) throw new Error(`internal: two rule ranges in one scope (${cur.join('-')}, ${r.join('-')})`);
      out[k] = r;
    }
  }
  return out;
}

export function changeShell(c: Pick<Change, 'ops'>): string {
  return c.ops.map(opShell).join('\n');
}

export function changeScope(c: Pick<Change, 'ops'>): SnapshotScope {
  return mergeScopes(c.ops.map(opScope));
}

import type { Facts, RouteFact, RuleFact } from '../facts/types.js';
import { routeSpec, ruleSpec } from '../render/ip.js';
import { base64Heredoc } from '../render/shell.js';
import { shComment, shJoin, shQuote } from '../ssh/quote.js';
import type { SnapshotScope } from '../tasks/contract.js';

/**
 * A run's snapshot on one host: the pre-run state of everything the run changes, saved before the
 * first change that touches it. It lives in SNAPSHOT_ROOT/RUN_ID/ as a manifest, file copies, and a
 * self-contained restore.sh that edge (rollback) or the host itself (dead-man timer) can run.
 *
 * Runtime state comes from the facts gathered at the start of the run: nothing has changed on the
 * host before the first snapshot step, so the facts ARE the pre-run state. Files are copied on the
 * host (cp -a) so the restore is byte-exact whatever their encoding.
 */
export const SNAPSHOT_ROOT = '/var/lib/edge/snapshots';

export interface FileEntry {
  path: string;
  existed: boolean;
  copy?: string; // relative to the snapshot dir
}
export interface NftEntry {
  table: string; // "family name"
  existed: boolean;
  copy?: string;
}
export interface LinkEntry {
  name: string;
  existed: boolean;
}
export interface UnitEntry {
  name: string;
  enabled: boolean;
  active: boolean;
  known: boolean; // the unit existed before the run
}

export interface SnapshotManifest {
  version: 1;
  runId: string;
  host: string;
  createdAt: string;
  files: FileEntry[];
  sysctl: Record<string, string>;
  nftTables: NftEntry[];
  ruleRanges: { from: number; to: number; rules: string[] }[];
  routeTables: { id: number; routes: string[] }[];
  units: UnitEntry[];
  /** Network links the run may create (keepalived's private veth pair). */
  links: LinkEntry[];
}

export function snapshotDir(runId: string): string {
  return `${SNAPSHOT_ROOT}/${runId}`;
}

/** `ip rule add` arguments that recreate a rule; tables by number so names need not exist yet. */
export function ruleArgs(r: RuleFact, rtTables: Record<string, string>): string {
  const byName = Object.fromEntries(Object.entries(rtTables).map(([id, name]) => [name, id]));
  return `pref ${r.priority} ${ruleSpec(r, (t) => byName[t] ?? t)}`;
}

/** `ip route replace` arguments that recreate a route (without the table). */
export function routeArgs(r: RouteFact): string {
  return routeSpec(r, 'addable');
}

export function emptyManifest(runId: string, host: string, now = new Date()): SnapshotManifest {
  return { version: 1, runId, host, createdAt: now.toISOString(), files: [], sysctl: {}, nftTables: [], ruleRanges: [], routeTables: [], units: [], links: [] };
}

/**
 * Adds to the manifest what `scope` needs and is not saved yet, and returns the shell that saves it
 * on the host ('' if everything was already saved). Pure: the manifest is updated in place.
 */
export function extendSnapshot(m: SnapshotManifest, scope: SnapshotScope, facts: Facts): string {
  const dir = snapshotDir(m.runId);
  const sh: string[] = [];
  for (const path of scope.files ?? []) {
    if (m.files.some((f) => f.path === path)) continue;
    const fact = facts.files[path];
    const existed = fact?.exists === true && !fact.isDirectory;
    const entry: FileEntry = { path, existed };
    if (existed) {
      entry.copy = `files/${m.files.length}`;
      sh.push(`cp -a -- ${shQuote(path)} ${shQuote(`${dir}/${entry.copy}`)}`);
    }
    m.files.push(entry);
  }
  for (const key of scope.sysctl ?? []) {
    if (key in m.sysctl) continue;
    const v = facts.sysctl[key];
    if (v !== undefined) m.sysctl[key] = v;
  }
  for (const table of scope.nftTables ?? []) {
    if (m.nftTables.some((t) => t.table === table)) continue;
    const existed = facts.nftTables.some((t) => `${t.family} ${t.name}` === table);
    const entry: NftEntry = { table, existed };
    if (existed) {
      entry.copy = `nft/${table.replace(' ', '-')}.nft`;
      sh.push(`nft list table ${table.split(' ').map(shQuote).join(' ')} > ${shQuote(`${dir}/${entry.copy}`)}`);
    }
    m.nftTables.push(entry);
  }
  if (scope.ruleRange) {
    const [from, to] = scope.ruleRange;
    if (!m.ruleRanges.some((r) => r.from === from && r.to === to)) {
      const rules = facts.rules.filter((r) => r.priority >= from && r.priority <= to).map((r) => ruleArgs(r, facts.rtTables));
      m.ruleRanges.push({ from, to, rules });
    }
  }
  for (const id of scope.routeTables ?? []) {
    if (m.routeTables.some((t) => t.id === id)) continue;
    const name = facts.rtTables[String(id)];
    const routes = facts.routes.filter((r) => r.table === String(id) || (name !== undefined && r.table === name)).map(routeArgs);
    m.routeTables.push({ id, routes });
  }
  for (const name of scope.units ?? []) {
    if (m.units.some((u) => u.name === name)) continue;
    const u = facts.units[name];
    const known = u !== undefined && u.load !== 'not-found';
    m.units.push({ name, known, enabled: u?.enabled === 'enabled', active: u?.active === 'active' });
  }
  for (const name of scope.links ?? []) {
    if (m.links.some((l) => l.name === name)) continue;
    m.links.push({ name, existed: facts.interfaces.some((i) => i.name === name) });
  }
  return sh.join('\n');
}

export function snapshotMkdir(runId: string): string {
  const dir = snapshotDir(runId);
  return `mkdir -p ${shQuote(`${dir}/files`)} ${shQuote(`${dir}/nft`)} && chmod 0700 ${shQuote(SNAPSHOT_ROOT)} ${shQuote(dir)}`;
}

/** Shell that writes the manifest and restore.sh into the snapshot dir (sent again as it grows). */
export function writeManifestScript(m: SnapshotManifest): string {
  const dir = snapshotDir(m.runId);
  return [
    `base64 -d > ${shQuote(`${dir}/manifest.json`)} ${base64Heredoc(JSON.stringify(m, null, 2) + '\n')}`,
    `base64 -d > ${shQuote(`${dir}/restore.sh`)} ${base64Heredoc(restoreScript(m))}`,
    `chmod 0700 ${shQuote(`${dir}/restore.sh`)}`,
  ].join('\n');
}

/**
 * The restore script: puts back every saved item exactly, in an order that works. The run's units
 * are stopped first, so no daemon (the edge-routes monitor, keepalived and its notify script) acts
 * on a half-restored host, and units that did not exist before the run are disabled while their
 * unit files are still there (no dangling .wants links). Then files, nftables, rules and routes
 * (tables before rules that point at them), sysctl, links the run created; last, the units that were
 * running are started again on the restored configuration. Running it twice is harmless.
 */
export function restoreScript(m: SnapshotManifest): string {
  const dir = snapshotDir(m.runId);
  const q = shQuote;
  const out: string[] = [
    '#!/bin/bash',
    `# ${shComment(`edge snapshot of run ${m.runId} on ${m.host}, taken ${m.createdAt}`)}. Restores the pre-run state.`,
    'set -u',
    'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    `D=${q(dir)}`,
    'rc=0',
    'try() { "$@" || { echo "edge restore: failed: $*" >&2; rc=1; }; }',
  ];
  for (const u of m.units) {
    out.push(`systemctl stop ${q(u.name)} 2>/dev/null || true`);
    if (!u.known) out.push(`systemctl disable --quiet ${q(u.name)} 2>/dev/null || true`);
  }
  for (const f of m.files) {
    if (f.existed && f.copy) {
      // Copy to a temp name beside the target, then rename: the target is never half-written.
      out.push(`t=$(mktemp ${q(`${f.path}.edge-restore.XXXXXX`)} 2>/dev/null || mktemp) && cp -a -- "$D"/${q(f.copy)} "$t" && mv -f -- "$t" ${q(f.path)} || { echo edge restore: failed: ${q(f.path)} >&2; rc=1; }`);
    } else out.push(`try rm -f -- ${q(f.path)}`);
  }
  if (m.units.length || m.files.some((f) => f.path.startsWith('/etc/systemd/'))) out.push('systemctl daemon-reload 2>/dev/null || true');
  for (const t of m.nftTables) {
    const [family, name] = t.table.split(' ');
    out.push(`nft list table ${q(family!)} ${q(name!)} >/dev/null 2>&1 && try nft delete table ${q(family!)} ${q(name!)}`);
    if (t.existed && t.copy) out.push(`try nft -f "$D"/${q(t.copy)}`);
  }
  for (const r of m.ruleRanges) {
    out.push(
      `ip rule show | awk -F: -v lo=${r.from} -v hi=${r.to} '$1+0>=lo && $1+0<=hi {print $1}' | while read -r p; do ip rule del pref "$p" 2>/dev/null || true; done`,
    );
    // Rules and routes come from the host's facts as space-separated words; each word is quoted.
    for (const rule of r.rules) out.push(`try ip rule add ${shJoin(rule.split(' ').filter(Boolean))}`);
  }
  for (const t of m.routeTables) {
    out.push(`ip route flush table ${t.id} 2>/dev/null || true`);
    for (const route of t.routes) out.push(`try ip route replace table ${t.id} ${shJoin(route.split(' ').filter(Boolean))}`);
  }
  for (const [k, v] of Object.entries(m.sysctl)) out.push(`try sysctl -q -w ${q(`${k}=${v}`)}`);
  // Links the run created (keepalived's veth pair: deleting one end deletes both).
  for (const l of m.links ?? []) {
    if (!l.existed) out.push(`if ip link show dev ${q(l.name)} >/dev/null 2>&1; then try ip link del dev ${q(l.name)}; fi`);
  }
  for (const u of m.units) {
    if (!u.known) {
      // Disabled above; again now that the unit file is gone (systemctl removes dangling links too).
      out.push(`systemctl disable --quiet ${q(u.name)} 2>/dev/null || true`, `systemctl reset-failed ${q(u.name)} 2>/dev/null || true`);
      continue;
    }
    out.push(`try systemctl ${u.enabled ? 'enable' : 'disable'} --quiet ${q(u.name)}`);
    // (Re)start an active unit so it runs on the configuration restored above; it was stopped first.
    if (u.active) out.push(`try systemctl restart ${q(u.name)}`);
  }
  // Once restored, the dead-man timer (if armed) has nothing left to do.
  out.push(`systemctl stop ${q(`edge-confirm-${m.runId}.timer`)} 2>/dev/null || true`);
  out.push('[ "$rc" = 0 ] && echo rolled-back > "$D/state"', 'exit "$rc"');
  return `${out.join('\n')}\n`;
}

/** Removes all but the newest `keep` snapshots (run ids sort by time). */
export function pruneScript(keep: number, currentRunId: string): string {
  return `ls -1 ${SNAPSHOT_ROOT} 2>/dev/null | grep -v -x ${shQuote(currentRunId)} | sort -r | tail -n +${keep} | while read -r d; do rm -rf -- ${SNAPSHOT_ROOT}/"$d"; done`;
}

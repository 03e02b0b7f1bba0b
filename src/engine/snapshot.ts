import { ifaceSettingId, ifaceSettings, type IfaceSetting } from '../facts/iface-sysctl.js';
import type { Facts, RouteFact, RuleFact } from '../facts/types.js';
import { routeSpec, ruleSpec } from '../render/ip.js';
import { base64Heredoc } from '../render/shell.js';
import { shComment, shJoin, shQuote } from '../encode/index.js';
import type { SnapshotScope } from '../tasks/contract.js';
import { deadmanUnit, LEASE_LIB } from './deadman.js';
import { PKG_DIR, PKG_RESTORE, pkgStateLib } from './pkg-snapshot.js';
import { BASELINE_DIR, BASELINE_ID, BOOT_GENERATOR, EDGE_VAR, HOST_LIB, LOCK_FILE, PENDING_FILE, SNAPSHOT_ROOT, snapshotDir } from './host-layout.js';

export { SNAPSHOT_ROOT, snapshotDir };

/**
 * A run's snapshot on one host: the pre-run state of everything the run changes, saved before the
 * first change that touches it. It lives in SNAPSHOT_ROOT/RUN_ID/ as a manifest, file copies, and a
 * self-contained restore.sh that edge (rollback) or the host itself (dead-man timer) can run.
 *
 * Runtime state comes from the facts gathered at the start of the run: nothing has changed on the
 * host before the first snapshot step, so the facts ARE the pre-run state. Files are copied on the
 * host (cp -a) so the restore is byte-exact whatever their encoding.
 */
export interface FileEntry {
  path: string;
  /** What the facts said; the restore goes by what the host saved (COPY, or COPY.absent). */
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
/** A per-interface setting behind an `all`/`default` key the run changes (iface-sysctl.ts): every interface's value. */
export interface IfaceSysctlEntry extends IfaceSetting {
  values: Record<string, string>;
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
  /** Absent in a manifest written before it existed. */
  ifaceSysctl?: IfaceSysctlEntry[];
  nftTables: NftEntry[];
  /** family 6: the IPv6 rules and routes of the range or table (`ip -6`); absent: IPv4. */
  ruleRanges: { from: number; to: number; rules: string[]; family?: 6 }[];
  routeTables: { id: number; routes: string[]; family?: 6 }[];
  units: UnitEntry[];
  /** Network links the run may create (keepalived's private veth pair). */
  links: LinkEntry[];
  /**
   * Present when the run may run apt: what it asks apt for (for people). The restore purges what the
   * host recorded around apt (pkg-snapshot.ts), whatever these names say. Absent in older manifests.
   */
  packages?: string[];
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
  return { version: 1, runId, host, createdAt: now.toISOString(), files: [], sysctl: {}, ifaceSysctl: [], nftTables: [], ruleRanges: [], routeTables: [], units: [], links: [] };
}

/** One item of the baseline, as stored in BASELINE_DIR/items/KEY (a JSON line). */
export type BaselineItem =
  | { kind: 'file'; path: string }
  | { kind: 'sysctl'; key: string; value: string }
  | ({ kind: 'ifsysctl' } & IfaceSysctlEntry)
  | { kind: 'nft'; table: string; existed: boolean }
  | { kind: 'rules'; from: number; to: number; rules: string[]; family?: 6 }
  | { kind: 'routes'; id: number; routes: string[]; family?: 6 }
  | ({ kind: 'unit' } & UnitEntry)
  | ({ kind: 'link' } & LinkEntry)
  /** Some run recorded packages apt added: the baseline's restore purges them (its pkgs record). */
  | { kind: 'packages' };

/** The baseline's file name for an item: hex of its identity, so any path is a safe name. */
export function baselineKey(item: BaselineItem): string {
  const id =
    item.kind === 'file' ? item.path
    : item.kind === 'sysctl' ? item.key
    : item.kind === 'ifsysctl' ? ifaceSettingId(item)
    : item.kind === 'nft' ? item.table
    : item.kind === 'rules' ? `${item.from}-${item.to}${item.family ? '-6' : ''}`
    : item.kind === 'routes' ? `${item.id}${item.family ? '-6' : ''}`
    : item.kind === 'packages' ? 'apt'
    : item.name;
  return Buffer.from(`${item.kind}:${id}`).toString('hex');
}

const baselineCall = (item: BaselineItem, saved = '') =>
  `edge_baseline ${baselineKey(item)} ${shQuote(JSON.stringify(item))}${saved ? ` ${saved}` : ''}`;

/**
 * Host-side helpers of the snapshot step ($D is the run's snapshot dir). What was saved is decided
 * on the host, at the moment of saving: COPY for an item that exists, COPY.absent for one that does
 * not, nothing for one never reached (its change never ran either). Parent directories that do not
 * exist are recorded (the run may create them; the restore removes them again). The first save of
 * an item by any run is also the baseline's: the state before edge ever touched it.
 */
export const SNAPSHOT_LIB = `edge_note_dirs() {
  local d; d=$(dirname -- "$1")
  while [ "$d" != / ] && [ ! -e "$d" ]; do printf '%s\\n' "$d" >> "$D/dirs"; printf '%s\\n' "$d" >> ${BASELINE_DIR}/dirs; d=$(dirname -- "$d"); done
}
edge_save_file() {
  if [ -d "$1" ] && [ ! -L "$1" ]; then edge_fail "$1 is a directory, not a file edge can manage"; fi
  edge_note_dirs "$1"
  if [ -e "$1" ] || [ -L "$1" ]; then cp -a -- "$1" "$D/$2.tmp" && mv -f -- "$D/$2.tmp" "$D/$2"; else : > "$D/$2.absent"; fi
}
edge_baseline() {
  [ -e ${BASELINE_DIR}/items/"$1" ] && return 0
  if [ -n "\${3:-}" ]; then
    if [ -e "$3" ] || [ -L "$3" ]; then cp -a -- "$3" ${BASELINE_DIR}/saved/"$1"; elif [ -e "$3.absent" ]; then : > ${BASELINE_DIR}/saved/"$1".absent; fi
  fi
  printf '%s\\n' "$2" > ${BASELINE_DIR}/items/"$1".tmp && mv -f -- ${BASELINE_DIR}/items/"$1".tmp ${BASELINE_DIR}/items/"$1"
}
`;

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
    const entry: FileEntry = { path, existed: fact?.exists === true && !fact.isDirectory, copy: `files/${m.files.length}` };
    sh.push(`edge_save_file ${shQuote(path)} ${shQuote(entry.copy!)}`, baselineCall({ kind: 'file', path }, shQuote(`${dir}/${entry.copy}`)));
    m.files.push(entry);
  }
  for (const key of scope.sysctl ?? []) {
    if (key in m.sysctl) continue;
    const v = facts.sysctl[key];
    if (v === undefined) continue;
    m.sysctl[key] = v;
    sh.push(baselineCall({ kind: 'sysctl', key, value: v }));
  }
  for (const setting of ifaceSettings(scope.sysctl ?? [])) {
    const id = ifaceSettingId(setting);
    if ((m.ifaceSysctl ??= []).some((e) => ifaceSettingId(e) === id)) continue;
    const entry: IfaceSysctlEntry = { ...setting, values: { ...(facts.ifaceSysctl?.[id] ?? {}) } };
    m.ifaceSysctl.push(entry);
    sh.push(baselineCall({ kind: 'ifsysctl', ...entry }));
  }
  for (const table of scope.nftTables ?? []) {
    if (m.nftTables.some((t) => t.table === table)) continue;
    const existed = facts.nftTables.some((t) => `${t.family} ${t.name}` === table);
    const entry: NftEntry = { table, existed };
    const copy = `nft/${table.replace(' ', '-')}.nft`;
    if (existed) {
      entry.copy = copy;
      sh.push(`nft list table ${table.split(' ').map(shQuote).join(' ')} > ${shQuote(`${dir}/${copy}`)}`);
    }
    sh.push(baselineCall({ kind: 'nft', table, existed }, existed ? shQuote(`${dir}/${copy}`) : ''));
    m.nftTables.push(entry);
  }
  const saveRules = (range: [number, number] | undefined, all: RuleFact[], family?: 6) => {
    if (!range) return;
    const [from, to] = range;
    if (m.ruleRanges.some((r) => r.from === from && r.to === to && r.family === family)) return;
    const rules = all.filter((r) => r.priority >= from && r.priority <= to).map((r) => ruleArgs(r, facts.rtTables));
    const entry = { from, to, rules, ...(family ? { family } : {}) };
    m.ruleRanges.push(entry);
    sh.push(baselineCall({ kind: 'rules', ...entry }));
  };
  const saveRoutes = (ids: number[] | undefined, all: RouteFact[], family?: 6) => {
    for (const id of ids ?? []) {
      if (m.routeTables.some((t) => t.id === id && t.family === family)) continue;
      const name = facts.rtTables[String(id)];
      const routes = all.filter((r) => r.table === String(id) || (name !== undefined && r.table === name)).map(routeArgs);
      const entry = { id, routes, ...(family ? { family } : {}) };
      m.routeTables.push(entry);
      sh.push(baselineCall({ kind: 'routes', ...entry }));
    }
  };
  saveRules(scope.ruleRange, facts.rules);
  saveRules(scope.ruleRange6, facts.rules6 ?? [], 6);
  saveRoutes(scope.routeTables, facts.routes);
  saveRoutes(scope.routeTables6, facts.routes6 ?? [], 6);
  for (const name of scope.units ?? []) {
    if (m.units.some((u) => u.name === name)) continue;
    const u = facts.units[name];
    const known = u !== undefined && u.load !== 'not-found';
    const entry: UnitEntry = { name, known, enabled: u?.enabled === 'enabled', active: u?.active === 'active' };
    m.units.push(entry);
    sh.push(baselineCall({ kind: 'unit', ...entry }));
  }
  for (const name of scope.links ?? []) {
    if (m.links.some((l) => l.name === name)) continue;
    const entry: LinkEntry = { name, existed: facts.interfaces.some((i) => i.name === name) };
    m.links.push(entry);
    sh.push(baselineCall({ kind: 'link', ...entry }));
  }
  // What apt adds is recorded around apt itself (the change's own shell): here, only that there is a record.
  if (scope.packages?.length) {
    const fresh = !m.packages;
    m.packages = [...(m.packages ?? []), ...scope.packages.filter((p) => !m.packages?.includes(p))];
    if (fresh) sh.push(baselineCall({ kind: 'packages' }));
  }
  return sh.join('\n');
}

/** The baseline's items (as read back from the host) as a manifest its restore script is made from. */
export function baselineManifest(items: BaselineItem[], host: string, now = new Date()): SnapshotManifest {
  const m = emptyManifest(BASELINE_ID, host, now);
  for (const it of items) {
    const copy = `saved/${baselineKey(it)}`;
    if (it.kind === 'file') m.files.push({ path: it.path, existed: true, copy });
    else if (it.kind === 'sysctl') m.sysctl[it.key] = it.value;
    else if (it.kind === 'ifsysctl') m.ifaceSysctl!.push({ family: it.family, name: it.name, values: it.values });
    else if (it.kind === 'nft') m.nftTables.push(it.existed ? { table: it.table, existed: true, copy } : { table: it.table, existed: false });
    else if (it.kind === 'rules') m.ruleRanges.push({ from: it.from, to: it.to, rules: it.rules, ...(it.family ? { family: it.family } : {}) });
    else if (it.kind === 'routes') m.routeTables.push({ id: it.id, routes: it.routes, ...(it.family ? { family: it.family } : {}) });
    else if (it.kind === 'unit') m.units.push({ name: it.name, known: it.known, enabled: it.enabled, active: it.active });
    else if (it.kind === 'packages') m.packages = [];
    else m.links.push({ name: it.name, existed: it.existed });
  }
  return m;
}

/**
 * The first exec of a run on a host makes its snapshot dir afresh (a resumed run's earlier attempt
 * was rolled back: its saved items are stale) and, once per host, the baseline. It also lists the
 * directories of /etc/systemd/system, so the restore can remove the ones enabling units made.
 */
export function snapshotMkdir(runId: string, first: boolean): string {
  const dir = shQuote(snapshotDir(runId));
  return [
    first ? `rm -rf -- ${dir}/files ${dir}/nft ${dir}/dirs ${dir}/sd-dirs ${dir}/${PKG_DIR}` : '',
    `mkdir -p ${dir}/files ${dir}/nft ${BASELINE_DIR}/items ${BASELINE_DIR}/saved && chmod 0700 ${EDGE_VAR} ${SNAPSHOT_ROOT} ${dir} ${BASELINE_DIR}`,
    first ? `find /etc/systemd/system -mindepth 1 -maxdepth 1 -type d > ${dir}/sd-dirs 2>/dev/null || true` : '',
    first ? `[ -e ${BASELINE_DIR}/sd-dirs ] || cp ${dir}/sd-dirs ${BASELINE_DIR}/sd-dirs` : '',
    `D=${dir}`,
  ]
    .filter(Boolean)
    .join('\n');
}

/** Shell that writes the manifest and restore.sh into the snapshot dir (sent again as it grows). */
export function writeManifestScript(m: SnapshotManifest): string {
  const dir = snapshotDir(m.runId);
  return [
    `base64 -d > ${shQuote(`${dir}/manifest.json`)} ${base64Heredoc(JSON.stringify(m, null, 2) + '\n')}`,
    `base64 -d > ${shQuote(`${dir}/restore.sh.tmp`)} ${base64Heredoc(restoreScript(m))}`,
    `chmod 0700 ${shQuote(`${dir}/restore.sh.tmp`)} && mv -f -- ${shQuote(`${dir}/restore.sh.tmp`)} ${shQuote(`${dir}/restore.sh`)}`,
  ].join('\n');
}

/**
 * The restore script: puts back every saved item exactly, resumable and idempotent. It first makes
 * itself the host's pending work (so a reboot part-way finishes it at boot) and records "restoring";
 * a restore of a run already rolled back does nothing and says so (rollbacks never bring back a
 * configuration that was superseded). The run's units are stopped first, so no daemon acts on a
 * half-restored host; then files, nftables, rules and routes, sysctl, links, unit states, and the
 * directories the run created. At boot (EDGE_BOOT=1, from the boot hook, before the network and
 * edge's units start) the kernel is fresh: only what persists is restored, and units are queued
 * (--no-block) rather than waited for. Each step is logged in restore.log. Last, the boot hook
 * itself goes back to its saved state and the pending mark is cleared.
 */
export function restoreScript(m: SnapshotManifest): string {
  const dir = snapshotDir(m.runId);
  const q = shQuote;
  const runtime = (line: string) => `[ -n "$BOOT" ] || ${line}`;
  const files = m.files.filter((f) => f.path !== BOOT_GENERATOR);
  const hook = m.files.find((f) => f.path === BOOT_GENERATOR);
  const out: string[] = [
    '#!/bin/bash',
    `# ${shComment(`edge snapshot of run ${m.runId} on ${m.host}, taken ${m.createdAt}`)}. Restores the pre-run state.`,
    'set -u',
    'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOST_LIB,
    `D=${q(dir)}`,
    `R=${q(m.runId)}`,
    'BOOT=${EDGE_BOOT:-}',
    'BY=${EDGE_RESTORED_BY:-timer}',
    'rc=0',
    'try() { "$@" || { echo "edge restore: failed: $*" >&2; rc=1; }; }',
    'n=0',
    `step() { n=$((n+1)); edge_hold "restore-$n"; printf '%s %s %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$n" "$*" >> "$D/restore.log"; }`,
    restoreFileFunction(),
    ...(m.packages ? [pkgStateLib()] : []),
    IFACE_RESTORE_FUNCTION,
    RULE_RESTORE_FUNCTION,
    // Directories the run created, deepest first, if nothing else lives in them now.
    'edge_rm_dirs() {',
    '  [ ! -f "$D/dirs" ] || sort -u -r "$D/dirs" | while read -r d; do rmdir -- "$d" 2>/dev/null || true; done',
    '  [ ! -f "$D/sd-dirs" ] || find /etc/systemd/system -mindepth 1 -maxdepth 1 -type d | grep -vxF -f "$D/sd-dirs" | while read -r d; do rmdir -- "$d" 2>/dev/null || true; done',
    '}',
    finishFunction(m, hook),
    LEASE_LIB,
    // One restore at a time (the timer, a rollback and the boot hook may meet here), and none while
    // an exec of the run is live (its lease; at boot no exec of before the boot can be).
    'exec 8>"$D/.restore.lock"; flock 8',
    '[ -n "$BOOT" ] || edge_lease_wait',
    'state=$(cat "$D/state" 2>/dev/null || true)',
    m.runId === BASELINE_ID
      ? ''
      : 'if [ "$state" = rolled-back ]; then edge_finish; echo "edge restore: run $R is already rolled back; nothing to do" >&2; exit 0; fi',
    `[ "$(cat ${PENDING_FILE} 2>/dev/null)" = "$R" ] || edge_put ${PENDING_FILE} "$R"`,
    '[ "$state" = restoring ] || { edge_put "$D/state" restoring; edge_event "$D" "restoring (by $BY${BOOT:+, at boot})"; }',
    'echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) - restore by $BY${BOOT:+ at boot}" >> "$D/restore.log"',
  ];
  out.push('step stop units');
  for (const u of m.units) {
    out.push(`if [ -n "$BOOT" ]; then systemctl stop --no-block ${q(u.name)} 2>/dev/null || true; else systemctl stop ${q(u.name)} 2>/dev/null || true; fi`);
    if (!u.known) out.push(`systemctl disable --quiet ${q(u.name)} 2>/dev/null || true`);
  }
  out.push('step files');
  for (const f of files) out.push(`edge_restore_file ${q(f.path)} ${q(f.copy ?? '')}`);
  // After edge's own files (a package's maintainer scripts then meet the pre-run configuration),
  // before the reload (the purged units are gone) and the unit states.
  if (m.packages) out.push('step packages', PKG_RESTORE);
  if (m.units.length || m.packages || m.files.some((f) => f.path.startsWith('/etc/systemd/'))) out.push('systemctl daemon-reload 2>/dev/null || true');
  out.push('step runtime state');
  for (const t of m.nftTables) {
    const [family, name] = t.table.split(' ');
    out.push(runtime(`{ nft list table ${q(family!)} ${q(name!)} >/dev/null 2>&1 && try nft delete table ${q(family!)} ${q(name!)}; }`));
    if (t.existed && t.copy) out.push(runtime(`try nft -f "$D"/${q(t.copy)}`));
  }
  const ip = (family?: 6) => (family === 6 ? 'ip -6' : 'ip');
  for (const r of m.ruleRanges) {
    out.push(
      runtime(`{ ${ip(r.family)} rule show | awk -F: -v lo=${r.from} -v hi=${r.to} '$1+0>=lo && $1+0<=hi {print $1}' | while read -r p; do ${ip(r.family)} rule del pref "$p" 2>/dev/null || true; done; }`),
    );
    // Rules and routes come from the host's facts as space-separated words; each word is quoted.
    for (const rule of r.rules) out.push(runtime(`edge_rule_add ${r.family === 6 ? '-6' : '-4'} ${shJoin(rule.split(' ').filter(Boolean))}`));
  }
  for (const t of m.routeTables) {
    out.push(runtime(`{ ${ip(t.family)} route flush table ${t.id} 2>/dev/null || true; }`));
    for (const route of t.routes) out.push(runtime(`try ${ip(t.family)} route replace table ${t.id} ${shJoin(route.split(' ').filter(Boolean))}`));
  }
  for (const [k, v] of Object.entries(m.sysctl)) out.push(runtime(`try sysctl -q -w ${q(`${k}=${v}`)}`));
  // After all/default (ip_forward rewrites every interface): each interface's own value.
  for (const e of m.ifaceSysctl ?? []) out.push(runtime(ifaceRestoreCall(e, m.sysctl)));
  // Links the run created (keepalived's veth pair: deleting one end deletes both).
  for (const l of m.links ?? []) {
    if (!l.existed) out.push(runtime(`{ if ip link show dev ${q(l.name)} >/dev/null 2>&1; then try ip link del dev ${q(l.name)}; fi; }`));
  }
  out.push('step unit states');
  for (const u of m.units) {
    if (!u.known) {
      // Disabled above; again now that the unit file is gone (systemctl removes dangling links too).
      out.push(`systemctl disable --quiet ${q(u.name)} 2>/dev/null || true`, `systemctl reset-failed ${q(u.name)} 2>/dev/null || true`);
      continue;
    }
    out.push(`try systemctl ${u.enabled ? 'enable' : 'disable'} --quiet ${q(u.name)}`);
    // (Re)start an active unit so it runs on the configuration restored above; it was stopped first.
    if (u.active) out.push(`if [ -n "$BOOT" ]; then try systemctl start --no-block ${q(u.name)}; else try systemctl restart ${q(u.name)}; fi`);
  }
  out.push(
    'step directories',
    'edge_rm_dirs',
    // Once restored, the dead-man timer (if armed) has nothing left to do.
    runtime(`systemctl stop ${q(`${deadmanUnit(m.runId)}.timer`)} 2>/dev/null || true`),
    'if [ "$rc" != 0 ]; then edge_event "$D" "restore failed (by $BY${BOOT:+, at boot}); see restore.log"; exit "$rc"; fi',
    'edge_put "$D/restored-by" "$BY"',
    'edge_put "$D/state" rolled-back',
    'edge_event "$D" "rolled-back (by $BY${BOOT:+, at boot})"',
    'edge_finish',
    'exit 0',
  );
  return `${out.join('\n')}\n`;
}

/**
 * edge_rule_add -4|-6 ARGS: \`ip rule add ARGS\`, where "File exists" is success. The kernel says so
 * only for a rule identical in every field, preference included: a daemon the run did not restart
 * (edge-routes, the switcher) may put a rule back between the range's deletion and this add.
 */
export const RULE_RESTORE_FUNCTION = `edge_rule_add() {
  local fam=$1 err; shift
  err=$(ip "$fam" rule add "$@" 2>&1) && return 0
  case $err in *'File exists'*) return 0 ;; esac
  echo "edge restore: failed: ip $fam rule add $* ($err)" >&2; rc=1
}`;

/**
 * edge_ifconf FAMILY NAME DEFAULT [IFACE VALUE]...: every interface's conf/IFACE/NAME back to its
 * saved VALUE; an interface not saved (it appeared after the snapshot: at a boot, say) takes
 * DEFAULT, the pre-run `default` that the kernel would have given it (none: left as it is).
 */
const IFACE_RESTORE_FUNCTION = `edge_ifconf() {
  local fam=$1 name=$2 def=$3 p i v j; shift 3
  local -a s=("$@")
  for p in /proc/sys/net/"$fam"/conf/*/"$name"; do
    [ -f "$p" ] || continue
    i=\${p%/*}; i=\${i##*/}
    case $i in all|default) continue ;; esac
    v=$def
    for ((j = 0; j + 1 < \${#s[@]}; j += 2)); do [ "\${s[j]}" != "$i" ] || v=\${s[j+1]}; done
    [ -n "$v" ] || continue
    [ "$(cat "$p" 2>/dev/null)" = "$v" ] || printf '%s\\n' "$v" > "$p" || { echo "edge restore: failed: $p = $v" >&2; rc=1; }
  done
}`;

function ifaceRestoreCall(e: IfaceSysctlEntry, sysctl: Record<string, string>): string {
  const def = sysctl[`net.${e.family}.conf.default.${e.name}`] ?? '';
  const pairs = Object.entries(e.values).flatMap(([i, v]) => [i, v]);
  return `edge_ifconf ${shJoin([e.family, e.name, def, ...pairs])}`;
}

/** edge_restore_file PATH COPY: back to the saved copy, or removed if it was absent; stray temp files of a cut write go too. */
function restoreFileFunction(): string {
  return `edge_restore_file() {
  local dir; dir=$(dirname -- "$1")
  if [ -e "$D/$2" ] || [ -L "$D/$2" ]; then
    [ -d "$dir" ] || (umask 022 && mkdir -p -- "$dir")
    t="$dir/.edge-restore.$$"
    { cp -a -- "$D/$2" "$t" && { sync "$t" 2>/dev/null || true; } && mv -f -- "$t" "$1"; } || { echo "edge restore: failed: $1" >&2; rc=1; }
  elif [ -e "$D/$2.absent" ]; then
    try rm -f -- "$1"
  fi
  rm -f -- "$dir"/.edge.?????? "$dir"/.edge-restore.* 2>/dev/null || true
}`;
}

/**
 * edge_finish: the end of a restore. The boot hook goes back to its saved state only now (a restore
 * cut before this point is finished at boot), then the pending mark is cleared and a lock held by
 * the restored run is released. A baseline restore also marks every run rolled back.
 */
function finishFunction(m: SnapshotManifest, hook: FileEntry | undefined): string {
  const lines = ['edge_finish() {'];
  if (m.runId === BASELINE_ID) {
    lines.push(
      `  for s in ${SNAPSHOT_ROOT}/*/state; do [ -f "$s" ] || continue; case "$(cat "$s")" in rolled-back|pruned) ;; *) edge_put "$(dirname "$s")/restored-by" baseline; edge_put "$s" rolled-back; edge_event "$(dirname "$s")" "rolled-back (baseline restore)" ;; esac; done`,
    );
  }
  // The hook's own unit is forgotten by systemd at the next reload (at boot: once it has run).
  if (hook) lines.push(`  edge_restore_file ${shQuote(hook.path)} ${shQuote(hook.copy ?? '')}`, '  systemctl daemon-reload 2>/dev/null || true', '  edge_rm_dirs');
  lines.push(
    `  [ "$(cat ${PENDING_FILE} 2>/dev/null)" = "$R" ] && rm -f ${PENDING_FILE}`,
    `  grep -qx "run=$R" ${LOCK_FILE} 2>/dev/null && rm -f ${LOCK_FILE}`,
    '  sync 2>/dev/null || true',
    '}',
  );
  return lines.join('\n');
}

/**
 * Removes all but the newest `keep` snapshots, newest by the host's own order of runs (run-order.ts).
 * A pruned run leaves a tombstone (state "pruned"), so a rollback of it can say why it cannot be
 * done. A run that is not settled (pending) is never pruned; the baseline lives elsewhere and is
 * never pruned. Needs ORDER_LIB.
 */
export function pruneScript(keep: number, currentRunId: string): string {
  return `ls -1 ${SNAPSHOT_ROOT} 2>/dev/null | grep -v -x ${shQuote(currentRunId)} | grep -v -x -F "$(cat ${PENDING_FILE} 2>/dev/null || echo -)" | while read -r d; do [ "$(cat ${SNAPSHOT_ROOT}/"$d"/state 2>/dev/null)" = pruned ] || edge_order ${SNAPSHOT_ROOT}/"$d"; done | sort -r | cut -d' ' -f2- | tail -n +${keep} | while read -r d; do find ${SNAPSHOT_ROOT}/"$d" -mindepth 1 -maxdepth 1 ! -name events ! -name order -exec rm -rf -- {} +; echo pruned > ${SNAPSHOT_ROOT}/"$d"/state; edge_event ${SNAPSHOT_ROOT}/"$d" "pruned (edge_snapshots_keep ${keep})"; done`;
}

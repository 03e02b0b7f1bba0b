/**
 * The script cache of bench:scale's hosts (src/engine/script-cache.ts), in the state a fleet is in
 * after edge has been there: each router holds the facts script under /var/lib/edge/cache/HASH,
 * and the controller's record (.edge/cache/NAME%20HOSTKEYFP) lists that hash. Everything is
 * computed with edge's own code (the inventory and playbook as `edge run` loads them, the probe
 * body as gather.ts builds it, the hash and record as script-cache.ts writes them): nothing here
 * knows a hash.
 *
 *   run   each host holds what `edge run` stored, the probe a --check sends too (the verify checks
 *         travel in both, skipped on the host in check mode): it goes by reference, the steady
 *         state of a fleet edge has run on
 *   cold  nothing cached anywhere (a fleet edge has never run on)
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { expectedHashes, probeChecks } from '../../src/engine/gather.js';
import type { PlannedTask } from '../../src/engine/host-run.js';
import { LOCK_LIB, SETTLE_LIB } from '../../src/engine/host-lock.js';
import { plannedTasks, resolvePlays } from '../../src/engine/run-playbook.js';
import { cacheHost, cachedScript, CacheRecord } from '../../src/engine/script-cache.js';
import { contentHash } from '../../src/facts/content-hash.js';
import { probeScript } from '../../src/facts/probe.js';
import { mergeNeeds } from '../../src/facts/types.js';
import type { HostVars } from '../../src/inventory/vars.js';
import { loadInventory } from '../../src/inventory/load.js';
import { loadPlaybook } from '../../src/playbook/load.js';

export type CacheMode = 'run' | 'cold';

export const CACHE_MODES: Record<CacheMode, string> = {
  run: 'each host holds the probe `edge run` stored, which this --check sends by reference',
  cold: 'nothing cached (the probe sent whole)',
};

export function cacheMode(value: string | undefined): CacheMode {
  const mode = value ?? 'run';
  if (mode in CACHE_MODES) return mode as CacheMode;
  throw new Error(`BENCH_CACHE=${mode}: expected ${Object.keys(CACHE_MODES).join(', ')}`);
}

/**
 * The facts exec's definitions exactly as takeHost (host-run.ts) hands them to gatherAndPlan and
 * gatherAndPlan to execProbe (gather.ts): the lock and settle libraries, then edge_facts; the same
 * for a run and a --check.
 */
export function probeBody(vars: HostVars, tasks: readonly PlannedTask[]): string {
  const needs = mergeNeeds(...tasks.map((t) => t.task.needs(vars, t.params)));
  const opts = { expect: expectedHashes(vars, tasks), checks: probeChecks(vars, tasks), compress: true };
  return `${LOCK_LIB}${SETTLE_LIB}edge_facts() {\n${probeScript(needs, opts)}\n}\n`;
}

/**
 * The bytes installScript leaves in the router's file: the body through `$(cat <<'END' ...)` (which
 * drops its trailing newlines) and `printf '%s\n'` (which adds one). The router runs a cached file
 * only if these bytes hash to its name, so a body that would not survive the trip is an error here.
 */
export function storedBytes(body: string, hash: string): string {
  const text = body.endsWith('\n') ? body : `${body}\n`;
  const stored = `${text.replace(/\n+$/, '')}\n`;
  if (contentHash(stored) !== hash) throw new Error(`the probe would not be stored as ${hash} (its trailing newlines?)`);
  return stored;
}

export interface FleetCache {
  /** Router files: hash → content, the same in every host's cache (one sshd serves all). */
  files: Map<string, string>;
  /**
   * For the check after the run: the facts exec's bytes with its probe by reference (the largest
   * over the hosts) and whole (the smallest): a host that sent less than wholeBytes used a reference.
   */
  referenceBytes: number;
  wholeBytes: number;
}

/**
 * The hosts of `inventory` in `mode`: writes the controller's records under `recordDir` (emptied
 * first; the edge under test runs where this is its .edge/cache) and returns what the routers hold.
 */
export function fleetCache(mode: CacheMode, inventory: string, playbook: string, hostKeyFingerprint: string, recordDir: string): FleetCache {
  rmSync(recordDir, { recursive: true, force: true });
  const files = new Map<string, string>();
  const record = new CacheRecord(recordDir);
  let referenceBytes = 0;
  let wholeBytes = Infinity;
  const sentBytes = (script: string) => Buffer.byteLength(`${script}edge_facts\n`);
  // Hosts whose vars render the same probe share one; keyed by the body itself, so none is assumed.
  const hashes = new Map<string, string>();
  const hashOf = (body: string) => {
    let hash = hashes.get(body);
    if (hash === undefined) hashes.set(body, (hash = cachedScript(body, () => false, false).hash));
    return hash;
  };
  const measured = new Set<string>();
  for (const rp of resolvePlays(loadInventory(inventory, { playbookDir: dirname(playbook) }), loadPlaybook(playbook))) {
    const tasks = plannedTasks(rp.play);
    for (const h of rp.hosts) {
      const sent = probeBody(h.vars, tasks);
      if (!measured.has(sent)) {
        measured.add(sent);
        referenceBytes = Math.max(referenceBytes, sentBytes(cachedScript(sent, () => true, false).script));
        wholeBytes = Math.min(wholeBytes, sentBytes(cachedScript(sent, () => false, false).script));
      }
      if (mode === 'cold') continue;
      const hash = hashOf(sent);
      if (!files.has(hash)) files.set(hash, storedBytes(sent, hash));
      record.add(cacheHost(h.name, hostKeyFingerprint), hash);
    }
  }
  return { files, referenceBytes, wholeBytes };
}

import { EdgeError } from '../errors.js';
import { contentHash } from '../facts/content-hash.js';
import { FACTS_MAX_CHARS, parseChecks, parseFacts, parseFiles, type CheckResult } from '../facts/parse.js';
import { filesScript, NO_CHECKS_VAR, probeScript, type ProbeOptions } from '../facts/probe.js';
import { mergeNeeds, type Facts } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import type { SshConnection } from '../ssh/connection.js';
import type { ExecResult } from '../ssh/types.js';
import { changeScope } from '../tasks/change-ops.js';
import type { Plan } from '../tasks/contract.js';
import { ContentNeeded } from '../tasks/file-change.js';
import { LOCKED_EXIT, lockRefusal } from './host-lock.js';
import type { PlannedTask } from './host-run.js';
import { cacheHost, cacheMiss, cachedScript, SCRIPT_CACHE, type CachedScript, type CacheRecord } from './script-cache.js';
import { verifyScript } from './task-script.js';

/**
 * Facts and plans of one host in as few execs as the host's state allows. The probe is told what
 * the run expects (each file's hash, from the vars alone) and sends back only the hashes of files
 * that hold it; when nothing is to change that one exec is the whole run, verify included (run
 * inside the probe, see preVerified in host-run.ts). Only when a file differs in a way the vars did
 * not foresee does its diff need content that was not sent: one more exec fetches it.
 */

export interface Planned {
  entry: PlannedTask;
  plan: Plan;
}

export interface Gathered {
  facts: Facts;
  planned: Planned[];
  /** Verify scripts run inside the probe, by task position (checkKey); none in check mode. */
  checks: Record<string, CheckResult>;
  /** What the exec wrote on stderr (the prelude's words). */
  stderr: string;
  /** What is worth telling about how the facts were gathered (a cached script sent again). */
  notes: string[];
}

export interface GatherInput {
  host: string;
  vars: HostVars;
  tasks: PlannedTask[];
  check: boolean;
  timeoutMs: number;
  /**
   * Run first in the same exec (a run takes the host's lock there, so the facts it plans from are
   * the state it changes): `lib` only defines (it travels with the probe, cached on the host),
   * `call` acts. It writes only to stderr, never into the probe's (gzipped) stdout; a prelude that
   * refuses exits LOCKED_EXIT with the reason as its last line.
   */
  prelude?: { lib: string; call: string };
  /** Which scripts the host holds in its cache (script-cache.ts); without it, all travel whole. */
  cache?: CacheRecord;
}

/** The key of the i-th task's verify inside the probe. */
export const checkKey = (i: number) => `task-${i}`;

/** sha256 of each file as the tasks will want it, where the vars alone say. */
export function expectedHashes(vars: HostVars, tasks: readonly PlannedTask[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tasks) for (const f of t.task.expectedFiles?.(vars, t.params) ?? []) out[f.path] = contentHash(f.content);
  return out;
}

/**
 * The verify checks that need no facts, by task position. In the probe whatever the mode, so that
 * --check and a run share one cached script; check mode skips them on the host (it verifies nothing).
 */
export function probeChecks(vars: HostVars, tasks: readonly PlannedTask[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, t] of tasks.entries()) {
    const script = t.task.alwaysVerify ? t.task.verifyWithoutFacts?.(vars, t.params) : undefined;
    if (script) out[checkKey(i)] = verifyScript(script);
  }
  return out;
}

export function planAll(host: string, vars: HostVars, tasks: readonly PlannedTask[], facts: Facts): Planned[] {
  return tasks.map((entry) => ({ entry, plan: refuseLinkedDirs(entry.task.plan({ host, vars, facts, params: entry.params }), facts) }));
}

/**
 * No write through a directory that is a symbolic link: edge creates none, so it is someone
 * else's, and a write would land wherever it points (the same rule as for a file edge did not
 * write: refused before anything changes, saying what was found).
 */
function refuseLinkedDirs(plan: Plan, facts: Facts): Plan {
  const linked = Object.entries(facts.linkedDirs ?? {});
  if (!linked.length) return plan;
  const refusals = new Set<string>();
  for (const c of plan.changes) {
    for (const path of changeScope(c).files ?? []) {
      for (const [dir, target] of linked) {
        if (path.startsWith(`${dir}/`)) refusals.add(`${dir} is a symbolic link to ${target}, which edge did not create: it does not write ${path} through it (make ${dir} a directory, or remove the link)`);
      }
    }
  }
  return refusals.size ? { ...plan, failures: [...(plan.failures ?? []), ...refusals] } : plan;
}

/** Files whose content some task's plan needs and the facts have only the hash of (one per task at most). */
function contentNeeded(host: string, vars: HostVars, tasks: readonly PlannedTask[], facts: Facts): string[] {
  const paths = new Set<string>();
  for (const entry of tasks) {
    try {
      entry.task.plan({ host, vars, facts, params: entry.params });
    } catch (e) {
      if (!(e instanceof ContentNeeded)) throw e;
      paths.add(e.path);
    }
  }
  return [...paths];
}

export async function gatherAndPlan(conn: SshConnection, input: GatherInput): Promise<Gathered> {
  const { host, vars, tasks } = input;
  const needs = mergeNeeds(...tasks.map((t) => t.task.needs(vars, t.params)));
  const opts: ProbeOptions = { expect: expectedHashes(vars, tasks), checks: probeChecks(vars, tasks), compress: true };
  const { res, notes } = await execProbe(conn, input, `${input.prelude?.lib ?? ''}edge_facts() {\n${probeScript(needs, opts)}\n}\n`);
  if (res.code === LOCKED_EXIT) throw new EdgeError('LOCKED', lockRefusal(res.stderr), { host });
  if (res.code !== 0 && !res.stdout.includes('@@EDGE@@ end')) {
    throw new EdgeError('EXEC', `fact gathering failed (exit ${res.code}): ${res.stderr.trim().slice(0, 500)}`, { host });
  }
  let facts = parseFacts(host, res.stdout, needs);
  const checks = parseChecks(res.stdout);
  // Each round brings content that was missing, so this ends; it is one round unless a task
  // needs several such files.
  for (let paths = contentNeeded(host, vars, tasks, facts); paths.length; paths = contentNeeded(host, vars, tasks, facts)) {
    facts = await withContents(conn, host, facts, paths, input.timeoutMs);
  }
  return { facts, planned: planAll(host, vars, tasks, facts), checks, stderr: res.stderr, notes };
}

/**
 * The probe's exec: its definitions by reference where the host holds them, else whole (and kept
 * there, outside --check). A reference the host cannot honour (its copy is gone or altered) is
 * sent again whole at once, and said.
 */
async function execProbe(conn: SshConnection, input: GatherInput, body: string): Promise<{ res: ExecResult; notes: string[] }> {
  const { cache } = input;
  const host = cacheHost(input.host, conn.hostKeyFingerprint);
  // A facts document over FACTS_MAX_CHARS is refused anyway: a host that floods it is cut off there.
  const exec = (sent: CachedScript) =>
    conn.exec(`${sent.script}${input.prelude?.call ?? ''}${input.check ? `${NO_CHECKS_VAR}=1\n` : ''}edge_facts\n`, { timeoutMs: input.timeoutMs, decompress: true, maxOutputBytes: FACTS_MAX_CHARS });
  const notes: string[] = [];
  // Stored only where a record will remember it, never by --check.
  const store = cache !== undefined && !input.check;
  let sent = cachedScript(body, (h) => cache?.has(host, h) ?? false, store);
  let res = await exec(sent);
  const miss = cacheMiss(res.code, res.stderr);
  if (miss) {
    cache?.forget(host, sent.hash);
    notes.push(
      `the facts script edge keeps on this host (${SCRIPT_CACHE}/${sent.hash.slice(0, 12)}…) was ${miss === 'missing' ? 'missing' : 'altered (its content no longer matched its hash)'}: sent it again${store ? ' and replaced it' : ''}`,
    );
    sent = cachedScript(body, () => false, store);
    res = await exec(sent);
  }
  // Stored at the exec's start: kept in mind once the exec got past it.
  if (sent.use === 'installed' && (res.code === LOCKED_EXIT || res.stdout.includes('@@EDGE@@ end'))) cache?.add(host, sent.hash);
  return { res, notes };
}

/** The facts with the content of `paths` read from the host. */
async function withContents(conn: SshConnection, host: string, facts: Facts, paths: string[], timeoutMs: number): Promise<Facts> {
  const res = await conn.exec(filesScript(paths), { timeoutMs, decompress: true });
  if (res.code !== 0) throw new EdgeError('EXEC', `reading ${paths.join(', ')} failed (exit ${res.code}): ${res.stderr.trim().slice(0, 500)}`, { host });
  const files = parseFiles(res.stdout, paths);
  const still = paths.filter((p) => files[p]!.exists && files[p]!.content === undefined);
  if (still.length) throw new EdgeError('EXEC', `the content of ${still.join(', ')} could not be read`, { host });
  return { ...facts, files: { ...facts.files, ...files } };
}

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { gatherAndPlan } from '../../../src/engine/gather.js';
import type { PlannedTask } from '../../../src/engine/host-run.js';
import { contentHash } from '../../../src/facts/content-hash.js';
import { parseChecks, parseFacts } from '../../../src/facts/parse.js';
import { probeScript } from '../../../src/facts/probe.js';
import { mergeNeeds } from '../../../src/facts/types.js';
import type { SshConnection } from '../../../src/ssh/connection.js';
import type { ExecOptions } from '../../../src/ssh/types.js';
import type { Task } from '../../../src/tasks/contract.js';
import { ContentNeeded, fileChange } from '../../../src/tasks/file-change.js';
import { labVars } from '../../fixtures/facts.js';

/**
 * The probe on this machine (it is read-only): files that hold what the run expects come back as a
 * hash, others with content; planning compares by hash and asks for content only for a diff.
 */

const dir = mkdtempSync(join(tmpdir(), 'edge-probe-'));
const owner = userInfo().username;
const group = spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim();

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, 0o644);
  return p;
}

/** Runs a script with bash here, as the SSH layer would on a host (gzip output decompressed). */
function localConnection(): SshConnection & { scripts: string[] } {
  const conn = {
    name: 'local',
    execs: 0,
    bytesSent: 0,
    bytesReceived: 0,
    isAlive: true,
    scripts: [] as string[],
    async exec(script: string, opts: ExecOptions = {}) {
      conn.execs++;
      conn.scripts.push(script);
      const r = spawnSync('bash', ['-s'], { input: script });
      conn.bytesReceived += r.stdout.length;
      const gz = opts.decompress && r.stdout[0] === 0x1f && r.stdout[1] === 0x8b;
      return { code: r.status, stdout: (gz ? gunzipSync(r.stdout) : r.stdout).toString('utf8'), stderr: r.stderr.toString('utf8'), durationMs: 0 };
    },
    close() {},
  };
  return conn as unknown as SshConnection & { scripts: string[] };
}

/** A task that wants `path` to hold `want`, and tells the probe it expects `expected` there. */
function fileTask(path: string, expected: string, want: string): PlannedTask {
  const task: Task<unknown> = {
    name: 'persistence',
    description: 'test',
    params: undefined as never,
    needs: () => ({ files: [path] }),
    expectedFiles: () => [{ path, content: expected }],
    plan: ({ facts }) => {
      const c = fileChange(facts, { path, content: want, mode: '0644', owner, group });
      return { changes: c ? [c] : [] };
    },
  };
  return { task, params: undefined };
}

describe('probe: hashes for what the run expects, content otherwise', () => {
  it('sends the hash alone for a file that holds the expected content, content for the rest', () => {
    const same = file('same', 'line 1\n');
    const other = file('other', 'something else\n');
    const empty = file('empty', '');
    const needs = mergeNeeds({ files: [same, other, empty, join(dir, 'absent')] });
    const out = spawnSync('bash', ['-s'], { input: probeScript(needs, { expect: { [same]: contentHash('line 1\n'), [other]: contentHash('line 1\n') }, compress: true }) });
    expect(out.status).toBe(0);
    expect([out.stdout[0], out.stdout[1]]).toEqual([0x1f, 0x8b]);
    const f = parseFacts('local', gunzipSync(out.stdout).toString('utf8'), needs);
    expect(f.files[same]).toMatchObject({ exists: true, sha256: contentHash('line 1\n'), mode: '0644' });
    expect(f.files[same]!.content).toBeUndefined();
    expect(f.files[other]).toMatchObject({ content: 'something else\n', sha256: contentHash('something else\n') });
    expect(f.files[empty]).toMatchObject({ content: '', sha256: contentHash('') });
    expect(f.files[join(dir, 'absent')]).toEqual({ path: join(dir, 'absent'), exists: false });
  });

  it('planning compares by hash, and a diff that needs content not sent says so', () => {
    const p = file('planned', 'old\n');
    const needs = mergeNeeds({ files: [p] });
    const out = spawnSync('bash', ['-s'], { input: probeScript(needs, { expect: { [p]: contentHash('old\n') } }), encoding: 'utf8' });
    const facts = parseFacts('local', out.stdout, needs);
    expect(fileChange(facts, { path: p, content: 'old\n', mode: '0644', owner, group })).toBeNull();
    expect(() => fileChange(facts, { path: p, content: 'new\n', mode: '0644', owner, group })).toThrow(ContentNeeded);
  });

  it('runs read-only checks inside the probe and reports their status and stderr', () => {
    const out = spawnSync('bash', ['-s'], {
      input: probeScript(mergeNeeds({}), { checks: { good: 'echo fine >&2; exit 0', bad: 'echo "@@EDGE@@ end" >&2; echo "edge: broken" >&2; exit 1' } }),
      encoding: 'utf8',
    });
    expect(parseChecks(out.stdout)).toEqual({ good: { code: 0, stderr: 'fine' }, bad: { code: 1, stderr: '@@EDGE@@ end\nedge: broken' } });
  });
});

describe('gatherAndPlan: one exec unless a diff needs content the vars did not foresee', () => {
  const vars = labVars();
  const input = (tasks: PlannedTask[]) => ({ host: 'local', vars, tasks, check: true, timeoutMs: 10_000 });

  it('a file as expected and as wanted: one exec, no content, no change', async () => {
    const p = file('noop', 'as expected\n');
    const conn = localConnection();
    const g = await gatherAndPlan(conn, input([fileTask(p, 'as expected\n', 'as expected\n')]));
    expect(conn.execs).toBe(1);
    expect(g.facts.files[p]!.content).toBeUndefined();
    expect(g.planned[0]!.plan.changes).toEqual([]);
  });

  it('a file other than expected: its content comes in the same exec and the diff is exact', async () => {
    const p = file('drifted', 'edited by hand\n');
    const conn = localConnection();
    const g = await gatherAndPlan(conn, input([fileTask(p, 'as expected\n', 'as expected\n')]));
    expect(conn.execs).toBe(1);
    expect(g.planned[0]!.plan.changes[0]!.diff).toContain('-edited by hand\n+as expected\n');
  });

  it('a file as expected but the plan wants other content: a second exec fetches it for the diff', async () => {
    const p = file('foreseen', 'as expected\n');
    const conn = localConnection();
    const g = await gatherAndPlan(conn, input([fileTask(p, 'as expected\n', 'from facts\n')]));
    expect(conn.execs).toBe(2);
    expect(conn.scripts[1]).not.toContain('ip -j');
    expect(g.planned[0]!.plan.changes[0]!.diff).toContain('-as expected\n+from facts\n');
    expect(statSync(p).size).toBe('as expected\n'.length);
  });
});

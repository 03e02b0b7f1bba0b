import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { foldJournal, readJournal } from '../../../src/engine/journal.js';
import { resolvePlays, runPlaybook, type ResolvedPlay } from '../../../src/engine/run-playbook.js';
import type { RunHost } from '../../../src/engine/run.js';
import { silentReporter, type RunResult } from '../../../src/engine/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import type { SshConnection } from '../../../src/ssh/connection.js';

/**
 * runPlaybook's rollout bookkeeping end to end, without SSH: hosts either answer the facts probe
 * (no tasks: nothing to change, so they pass) or cannot be reached (they fail). What is checked is
 * the journal's rollout state across a stop and resumes, including a resume narrowed by --limit.
 */

const INVENTORY = parseInventory(parseYaml('all:\n  hosts:\n    r1:\n    r2:\n    r3:\n', 'inv.yaml'));
const PLAYBOOK = parsePlaybook(parseYaml('- name: p\n  hosts: all\n  serial: 1\n  tasks:\n    - verify\n', 'pb.yaml'));

function fakeConnection(name: string): SshConnection {
  const conn = {
    name,
    execs: 0,
    bytesSent: 0,
    bytesReceived: 0,
    isAlive: true,
    async exec() {
      conn.execs++;
      return { code: 0, stdout: `@@EDGE@@ hostname\n${name}\n@@EDGE@@ ip-link\n[]\n@@EDGE@@ end\n`, stderr: '' };
    },
    close() {},
  };
  return conn as unknown as SshConnection;
}

/** Hosts in `down` cannot be reached; the others pass (no tasks to run). */
const hostsOf = (down: Set<string>) => (rp: ResolvedPlay): RunHost[] =>
  rp.hosts.map((h) => ({
    name: h.name,
    vars: h.vars,
    tasks: [],
    connect: async () => {
      if (down.has(h.name)) throw new Error('connect ECONNREFUSED');
      return fakeConnection(h.name);
    },
  }));

async function run(
  down: string[],
  opts: { limit?: string; resume?: RunResult; journalDir: string; beforeBatch?: (hosts: string[]) => void },
): Promise<RunResult> {
  return runPlaybook(INVENTORY, PLAYBOOK, resolvePlays(INVENTORY, PLAYBOOK, opts.limit), {
    runId: 'RUN1',
    check: false,
    noRollback: false,
    forks: 5,
    connection: { acceptNewHostKeys: false, connectTimeoutMs: 1000, commandTimeoutMs: 1000 },
    journalDir: opts.journalDir,
    signal: new AbortController().signal,
    resume: opts.resume,
    say: () => {},
    reporterFor: (_play, hosts) => {
      opts.beforeBatch?.(hosts.map((h) => h.name));
      return { reporter: silentReporter };
    },
    hostsOf: hostsOf(new Set(down)),
  });
}

const states = (r: RunResult) => Object.fromEntries(r.rollout![0]!.hosts.map((h) => [h.name, h.state]));

describe('runPlaybook: rollout state in the journal', () => {
  it('serial 1: the second host fails, the third is not started; resume finishes both', async () => {
    const journalDir = mkdtempSync(join(tmpdir(), 'edge-rollout-'));
    const first = await run(['r2'], { journalDir });
    expect(first.status).toBe('failed');
    expect(states(first)).toEqual({ r1: 'done', r2: 'failed', r3: 'not-started' });
    expect(first.rollout![0]!.stop?.reason).toBe('batch-failed');
    expect(first.hosts.map((h) => h.host)).toEqual(['r1', 'r2']);
    const journal = (await readJournal('RUN1', journalDir))!;
    expect(states(journal)).toEqual(states(first));

    const second = await run([], { resume: journal, journalDir });
    expect(second.status).toBe('ok');
    expect(states(second)).toEqual({ r1: 'done', r2: 'done', r3: 'done' });
    expect(second.rollout![0]).toMatchObject({ finished: true });
    expect(second.rollout![0]!.stop).toBeUndefined();
    expect(second.hosts.map((h) => [h.host, h.status])).toEqual([
      ['r1', 'ok'],
      ['r2', 'ok'],
      ['r3', 'ok'],
    ]);
  });

  it('between batches the journal says the run is still running', async () => {
    const journalDir = mkdtempSync(join(tmpdir(), 'edge-rollout-'));
    const seen: string[] = [];
    const final = await run([], {
      journalDir,
      beforeBatch: (hosts) => {
        if (hosts[0] === 'r1') return;
        const j = foldJournal(readFileSync(join(journalDir, 'RUN1.jsonl'), 'utf8'))!;
        seen.push(`${hosts[0]}: ${j.status} ${j.finishedAt ?? '-'} ${states(j).r1}`);
      },
    });
    expect(seen).toEqual(['r2: running - done', 'r3: running - done']);
    expect(final.status).toBe('ok');
    expect(final.finishedAt).toBeDefined();
  });

  it('a resume narrowed by --limit keeps the hosts it leaves out, so the next resume still runs them', async () => {
    const journalDir = mkdtempSync(join(tmpdir(), 'edge-rollout-'));
    const first = await run(['r2'], { journalDir });
    expect(states(first)).toEqual({ r1: 'done', r2: 'failed', r3: 'not-started' });

    const onlyR2 = await run([], { resume: first, limit: 'r2', journalDir });
    expect(states(onlyR2)).toEqual({ r1: 'done', r2: 'done', r3: 'not-started' });
    expect(onlyR2.rollout![0]!.finished).toBe(false);
    expect(onlyR2.hosts.map((h) => [h.host, h.status])).toEqual([
      ['r1', 'ok'],
      ['r2', 'ok'],
    ]);

    const rest = await run([], { resume: (await readJournal('RUN1', journalDir))!, journalDir });
    expect(states(rest)).toEqual({ r1: 'done', r2: 'done', r3: 'done' });
    expect(rest.rollout![0]!.finished).toBe(true);
    expect(rest.hosts.map((h) => h.host)).toEqual(['r1', 'r2', 'r3']);
  });
});

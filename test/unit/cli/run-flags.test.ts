import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { resolvePlays, runPlaybook, type ResolvedPlay } from '../../../src/engine/run-playbook.js';
import { silentReporter } from '../../../src/engine/types.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { resolveInventoryPath } from '../../../src/inventory/resolve-path.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { selectTasks } from '../../../src/playbook/tags.js';
import type { SshConnection } from '../../../src/ssh/connection.js';
import { execLine, redact, sshTrace } from '../../../src/ui/trace.js';
import { edge, REPO } from '../../integration/edge-cli.js';
import { has } from '../../fixtures/host-tools.js';

const PB = parsePlaybook(parseYaml('- name: p\n  hosts: all\n  tasks:\n    - inventory-check\n    - packages\n    - sysctl\n    - tables\n    - nftables\n    - persistence\n    - name: keepalived\n      failover:\n    - verify\n', 'pb.yaml'));
const play = PB.plays[0]!;
const names = (sel: Parameters<typeof selectTasks>[1]) => selectTasks(play, sel).tasks.map((t) => t.name);

describe('--tags / --skip-tags on task names', () => {
  it('selects by task or by name:, in playbook order, bringing along what a task needs and saying so', () => {
    expect(names({ tags: ['sysctl'] })).toEqual(['inventory-check', 'sysctl']);
    expect(selectTasks(play, { tags: ['sysctl'] }).notes).toEqual(['also running inventory-check: sysctl needs it']);
    expect(names({ tags: ['keepalived'] })).toEqual(['inventory-check', 'packages', 'tables', 'nftables', 'keepalived']);
    expect(names({ tags: ['all'], skipTags: ['verify', 'persistence'] })).toEqual(['inventory-check', 'packages', 'sysctl', 'tables', 'nftables', 'keepalived']);
  });

  it('refuses to skip what a selected task needs, and unknown names, saying which', () => {
    expect(() => selectTasks(play, { skipTags: ['tables'] })).toThrow('persistence needs tables, which --skip-tags skips');
    expect(() => selectTasks(play, { tags: ['keepalived'], skipTags: ['packages'] })).toThrow('keepalived needs packages');
    expect(() => selectTasks(play, { tags: ['nftabels'] })).toThrow('no task of play "p" is called nftabels (did you mean nftables?)');
  });
});

describe('-v .. -vvvv', () => {
  it('redacts known secrets and credential-looking values from scripts', () => {
    const script = "echo s3cret | sudo -S true\nauth_pass hunter2\npassword='x y'\n-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n";
    const out = redact(script, ['s3cret']);
    for (const secret of ['s3cret', 'hunter2', "'x y'", 'abc']) expect(out).not.toContain(secret);
    expect(out).toContain('auth_pass «redacted»');
  });

  it('each level adds to the one before', () => {
    const lines = (v: number) => {
      const out: string[] = [];
      const t = sshTrace(v, (l) => out.push(l));
      t?.exec?.({ host: 'r1', script: 'echo hi\n', command: ['bash', '-s'], durationMs: 12, code: 0, bytesSent: 8, bytesReceived: 3 });
      t?.debug?.('r1', 'Outbound: KEXINIT');
      return out;
    };
    expect(lines(0)).toEqual([]);
    expect(lines(1)).toEqual(['r1: exec 12 ms, exit 0, 8 B sent, 3 B received']);
    expect(lines(2)).toHaveLength(2);
    expect(lines(3)).toEqual([...lines(2), 'r1:   | echo hi']);
    expect(lines(4)).toEqual([...lines(3), 'r1: ssh: Outbound: KEXINIT']);
  });

  it('-v says wire bytes, as --json counts them, and what gzipped output came to beside them', () => {
    expect(execLine({ host: 'r1', script: '', command: [], durationMs: 5, code: 0, bytesSent: 900, bytesReceived: 7443, bytesDecompressed: 28_672 })).toBe(
      'r1: exec 5 ms, exit 0, 900 B sent, 7.3 KiB received (28.0 KiB decompressed)',
    );
  });
});

describe('an interrupted batch', () => {
  it('stops the rollout as interrupted, not as a failed batch', async () => {
    const inv = parseInventory(parseYaml('all:\n  hosts:\n    r1:\n    r2:\n', 'inv.yaml'));
    const pb = parsePlaybook(parseYaml('- name: p\n  hosts: all\n  tasks:\n    - verify\n', 'pb.yaml'));
    const ac = new AbortController();
    const conn = { name: 'x', execs: 0, bytesSent: 0, bytesReceived: 0, isAlive: true, close() {} };
    const hostsOf = (rp: ResolvedPlay) =>
      rp.hosts.map((h) => ({
        name: h.name,
        vars: h.vars,
        tasks: [],
        // Ctrl-C arrives while the hosts connect.
        connect: async () => {
          ac.abort();
          return conn as unknown as SshConnection;
        },
      }));
    const run = await runPlaybook(inv, pb, resolvePlays(inv, pb), {
      runId: 'RUN-INT',
      check: false,
      noRollback: false,
      forks: 5,
      connection: { acceptNewHostKeys: false, connectTimeoutMs: 1000, commandTimeoutMs: 1000 },
      journalDir: mkdtempSync(path.join(tmpdir(), 'edge-int-')),
      signal: ac.signal,
      say: () => {},
      reporterFor: () => ({ reporter: silentReporter }),
      hostsOf,
    });
    expect(run.status).toBe('interrupted');
    expect(run.rollout?.[0]?.stop).toMatchObject({ reason: 'interrupted' });
    expect(run.rollout?.[0]?.stop?.message).not.toMatch(/every host of the batch failed/);
  });
});

describe('-i lab', () => {
  it('is the lab EDGE_LAB_INSTANCE selects', () => {
    const saved = process.env.EDGE_LAB_INSTANCE;
    try {
      process.env.EDGE_LAB_INSTANCE = '8';
      expect(resolveInventoryPath('lab', REPO)).toBe('/var/lib/edge-lab-8/lab.yaml');
      delete process.env.EDGE_LAB_INSTANCE;
      const dir = mkdtempSync(path.join(tmpdir(), 'edge-lab-inv-'));
      writeFileSync(path.join(dir, 'x'), '');
      spawnSync('mkdir', ['-p', path.join(dir, 'inventories')]);
      writeFileSync(path.join(dir, 'inventories', 'lab.yaml'), 'all: {}\n');
      expect(resolveInventoryPath('lab', dir)).toBe(path.join('inventories', 'lab.yaml'));
    } finally {
      if (saved === undefined) delete process.env.EDGE_LAB_INSTANCE;
      else process.env.EDGE_LAB_INSTANCE = saved;
    }
  });
});

describe('exit code 5: bad options or input, nothing touched', () => {
  it('an unknown flag, a missing inventory, a bad --tags, a broken playbook', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-exit5-'));
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, '- hosts: all\n  tasks:\n    - sysctll\n');
    const home = { HOME: dir, ANSIBLE_CONFIG: path.join(dir, 'none.cfg') };
    const runs = await Promise.all([
      edge(['run', 'playbooks/failover.yaml', '--bogus'], { env: home }),
      edge(['run', 'playbooks/failover.yaml'], { env: home, cwd: dir }),
      edge(['run', `${REPO}playbooks/failover.yaml`, '-i', `${REPO}inventories/prod.yaml`, '--tags', 'nftabels', '--list-tasks'], { env: home }),
      edge(['run', bad, '-i', 'inventories/prod.yaml', '--check'], { env: home }),
      // An empty or invalid --resume is refused, never taken for a fresh full rollout.
      edge(['run', 'playbooks/failover.yaml', '-i', 'inventories/prod.yaml', '--resume', ''], { env: home }),
      edge(['run', 'playbooks/failover.yaml', '-i', 'inventories/prod.yaml', '--resume', 'latest'], { env: home }),
    ]);
    for (const r of runs) expect(r.code, r.stderr).toBe(5);
    expect(runs[4]!.stderr).toContain('"" is not a run id');
    expect(runs[5]!.stderr).toContain('"latest" is not a run id');
    expect(runs[1]!.stderr).toContain('-i: no inventory given');
    expect(runs[2]!.stderr).toContain('did you mean nftables?');
    expect(runs[3]!.stderr).toMatch(/bad\.yaml:3:7/);
  }, 60_000);
});

describe.skipIf(!has('ansible'))('--list-hosts', () => {
  it('lists the hosts `ansible --list-hosts` lists for the same pattern and --limit', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-list-'));
    const inv = `${REPO}inventories/example-ansible.yaml`;
    const cases = [['all', 'edge0*'], ['routers:!branch', undefined], ['routers', 'all:&branch']] as const;
    const ansible = (pattern: string, limit?: string) =>
      new Promise<string[]>((resolve, reject) =>
        execFile('ansible', ['-i', inv, pattern, '--list-hosts', ...(limit ? ['--limit', limit] : [])], (err, out) =>
          err ? reject(err) : resolve(out.split('\n').slice(1).map((l) => l.trim()).filter(Boolean)),
        ),
      );
    await Promise.all(
      cases.map(async ([pattern, limit], i) => {
        const pb = path.join(dir, `pb${i}.yaml`);
        writeFileSync(pb, `- hosts: "${pattern}"\n  tasks:\n    - verify\n`);
        const [r, theirs] = await Promise.all([edge(['run', pb, '-i', inv, '--list-hosts', ...(limit ? ['--limit', limit] : [])]), ansible(pattern, limit)]);
        expect(r.code, r.stderr).toBe(0);
        const ours = r.stdout.split('\n').filter((l) => l.startsWith('      ')).map((l) => l.trim());
        expect(ours, `${pattern} --limit ${limit}`).toEqual(theirs);
      }),
    );
  }, 60_000);
});

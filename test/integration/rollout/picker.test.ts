import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickInterfaces, sshFactsGatherer } from '../../../src/commands/pick.js';
import type { RunResult } from '../../../src/engine/types.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { ScriptedPrompter } from '../../../src/ui/prompts.js';
import { edge } from '../edge-cli.js';
import { ensureLab, isRoot, labDown, type Lab } from '../lab-fixture.js';

/**
 * The interface picker driven programmatically (scripted answers, real SSH facts) against a lab
 * router whose interface variables are missing from a commented inventory: it writes them in
 * place, every comment and line of the file stays, and the playbook then applies cleanly.
 */

const INSTANCE = 4;
const HOST = 'r3';
const INTERFACE_VAR = /^\s*edge_(wan1|wan2|lan|mgmt)_interface:/;

describe.skipIf(!isRoot)('interface picker on a lab router', () => {
  let lab: Lab;

  beforeAll(async () => {
    await labDown({ instance: INSTANCE });
    lab = await ensureLab(3, { instance: INSTANCE });
  });

  afterAll(async () => {
    await labDown({ instance: INSTANCE });
  });

  it('writes the picked interfaces into the inventory, keeps its comments, and the playbook applies', async () => {
    // The lab inventory without interface variables, with comments of an operator's own.
    const lines = readFileSync(lab.inventory, 'utf8').split('\n');
    expect(lines.filter((l) => INTERFACE_VAR.test(l))).toHaveLength(4);
    const before = lines
      .filter((l) => !INTERFACE_VAR.test(l))
      .join('\n')
      .replace('all:\n', '# rack 4, row B -- ask Sam before changing anything\nall:\n')
      .replace(`        ${HOST}:\n`, `        # the new one, arrived Tuesday\n        ${HOST}:  # not wired to the console server yet\n`)
      .replace(`          ansible_host: ${lab.router(HOST).mgmt.address}\n`, `          ansible_host: ${lab.router(HOST).mgmt.address}   # DHCP reservation\n`);
    const comments = before.split('\n').filter((l) => l.includes('#'));
    expect(comments.length).toBeGreaterThanOrEqual(7);
    const file = join(mkdtempSync(join(tmpdir(), 'edge-pick-')), 'site.yaml');
    writeFileSync(file, before);
    expect(loadInventory(file).hosts.get(HOST)!.vars.edge_wan1_interface).toBeUndefined();

    const settings = { acceptNewHostKeys: false, connectTimeoutMs: 10_000, commandTimeoutMs: 60_000 };
    const prompter = new ScriptedPrompter(['wan1', 'wan2', 'lan0', 'mgmt0', true]);
    const out: string[] = [];
    const result = await pickInterfaces({ inventory: file, limit: HOST, gather: sshFactsGatherer(settings), write: (s) => out.push(s) }, prompter);
    expect(result.failed).toEqual([]);
    expect(result.written).toBe(true);
    expect(result.picked).toEqual([{ host: HOST, roles: { wan1: 'wan1', wan2: 'wan2', lan: 'lan0', mgmt: 'mgmt0' }, updates: expect.any(Object) }]);
    // The real router's facts preselected exactly what the lab wires: the answers were all defaults.
    expect(prompter.asked.map((q) => [q.kind, q.default])).toEqual([
      ['select', 'wan1'],
      ['select', 'wan2'],
      ['select', 'lan0'],
      ['select', 'mgmt0'],
      ['confirm', true],
    ]);
    expect(prompter.remaining).toBe(0);
    expect(out.join('')).toContain(`wrote ${file}`);

    // Written in place: the four variables added under r3, every other line (comments included) as it was.
    const after = readFileSync(file, 'utf8');
    const added = after.split('\n').filter((l) => INTERFACE_VAR.test(l));
    expect(added.map((l) => l.trim()).sort()).toEqual([
      'edge_lan_interface: lan0',
      'edge_mgmt_interface: mgmt0',
      'edge_wan1_interface: wan1',
      'edge_wan2_interface: wan2',
    ]);
    expect(after.split('\n').filter((l) => !INTERFACE_VAR.test(l)).join('\n')).toBe(before);
    for (const c of comments) expect(after).toContain(c);
    const inv = loadInventory(file);
    expect(inv.hosts.get(HOST)!.varSources.edge_wan1_interface?.scope).toBe('host');
    expect(inv.hosts.get('r1')!.vars.edge_wan1_interface).toBeUndefined();

    // The playbook applies cleanly on the picked router with that inventory, and is then idempotent.
    const run = await edge(['run', 'playbooks/failover.yaml', '-i', file, '--limit', HOST, '--json']);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const res = JSON.parse(run.stdout) as RunResult;
    expect(res.hosts.map((h) => [h.host, h.status, h.state])).toEqual([[HOST, 'changed', 'confirmed']]);
    const again = await edge(['run', 'playbooks/failover.yaml', '-i', file, '--limit', HOST, '--check', '--detailed-exitcode']);
    expect(again.code, again.stdout.slice(-2000)).toBe(0);
  }, 180_000);
});

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { emptyManifest } from '../../../src/engine/snapshot.js';
import { applyScript } from '../../../src/engine/task-script.js';
import type { Facts } from '../../../src/facts/types.js';
import type { HostVars } from '../../../src/inventory/vars.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import { taskParamSchemas } from '../../../src/playbook/task-params.js';
import { TASK_NAMES } from '../../../src/tasks/contract.js';
import { TASKS } from '../../../src/tasks/registry.js';
import { configure, freshRouter, labVars } from '../../fixtures/facts.js';

const ORDER = ['inventory-check', 'packages', 'sysctl', 'tables', 'nftables', 'persistence', 'failover', 'verify'];

function planAll(facts: Facts, vars: HostVars) {
  return ORDER.map((name) => ({ name, plan: TASKS[name as keyof typeof TASKS]!.plan({ host: 'r1', vars, facts, params: undefined }) }));
}

describe('the failover playbook', () => {
  it('is one play on all hosts with the eight tasks in order, and loads', () => {
    expect(readFileSync('playbooks/failover.yaml', 'utf8').split('\n')[0]).toBe('# yaml-language-server: $schema=./playbook.schema.json');
    const pb = loadPlaybook('playbooks/failover.yaml');
    expect(pb.plays).toHaveLength(1);
    expect(pb.plays[0]!.hosts).toBe('all');
    expect(pb.plays[0]!.tasks.map((t) => t.task)).toEqual(ORDER);
  });

  it('every task is registered under its name', () => {
    expect(Object.keys(TASKS).sort()).toEqual([...TASK_NAMES].sort());
    for (const [name, t] of Object.entries(TASKS)) expect(t!.name).toBe(name);
  });

  it("the tasks' parameters agree with what the playbook loader accepts", () => {
    const cases: [string, unknown][] = [
      ['packages', { upgrade: true }],
      ['verify', { probes: false }],
      ['tables', undefined],
      ['packages', { bogus: 1 }],
      ['tables', { x: 1 }],
    ];
    for (const [name, p] of cases) {
      const mine = TASKS[name as keyof typeof TASKS]!.params.safeParse(p).success;
      expect(mine, `${name} ${JSON.stringify(p)}`).toBe(taskParamSchemas[name as keyof typeof taskParamSchemas].safeParse(p).success);
    }
  });

  it('on a fresh router: no refusal, every change shows a diff, the one apply exec is valid bash', () => {
    const vars = labVars();
    const facts = freshRouter();
    const manifest = emptyManifest('20261123T000000Z-7e57', 'r1');
    const tasks = [];
    for (const { name, plan } of planAll(facts, vars)) {
      expect(plan.failures ?? [], name).toEqual([]);
      expect(plan.lockout ?? [], name).toEqual([]);
      for (const c of plan.changes) {
        expect(c.diff.length, `${name}: ${c.summary}`).toBeGreaterThan(0);
        expect(c.diff.endsWith('\n')).toBe(true);
      }
      const verify = TASKS[name as keyof typeof TASKS]!.verify?.({ host: 'r1', vars, facts, params: undefined });
      tasks.push({ name, changes: plan.changes, ...(verify ? { verify } : {}) });
    }
    const script = applyScript({ manifest, facts, tasks, keepSnapshots: 10, confirmSeconds: 90, leaseSeconds: 606 });
    expect(spawnSync('bash', ['-n'], { input: script }).status).toBe(0);
    const changed = planAll(facts, vars).filter((p) => p.plan.changes.length).map((p) => p.name);
    expect(changed).toEqual(['packages', 'sysctl', 'tables', 'nftables', 'persistence', 'failover']);
  });

  it.each([
    ['the lab router', freshRouter(), labVars()],
    ['an ifupdown router', freshRouter({ networkManager: 'ifupdown' }), labVars()],
    ['WAN1 down at apply time', freshRouter({ wan1Carrier: false }), labVars()],
    [
      'custom marks, tables, priority, gateways',
      freshRouter(),
      labVars({ edge_wan1_mark: '0x100', edge_wan2_mark: 512, edge_wan1_table: 201, edge_wan2_table: 202, edge_wan1_table_name: 'isp_a', edge_wan2_table_name: 'isp-b', edge_rule_priority: 5000, edge_wan2_gateway: '203.0.113.9', edge_conntrack_flush: false }),
    ],
  ])('a second run on %s changes nothing', (_what, fresh, vars) => {
    const configured = configure(fresh, vars);
    for (const { name, plan } of planAll(configured, vars)) expect(plan.changes.map((c) => c.summary), name).toEqual([]);
  });
});

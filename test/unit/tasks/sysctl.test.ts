import { spawnSync } from 'node:child_process';
import { changeScope, changeShell } from '../../../src/tasks/change-ops.js';
import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import { edgeVarsSchema, type HostVars } from '../../../src/inventory/vars.js';
import { ROUTER_SYSCTL, SYSCTL_FILE, renderSysctlFile, sysctlTask } from '../../../src/tasks/sysctl.js';

const vars = edgeVarsSchema.parse({}) as HostVars;
function facts(sysctl: Record<string, string>, file?: string): Facts {
  return {
    files: { [SYSCTL_FILE]: file === undefined ? { path: SYSCTL_FILE, exists: false } : { path: SYSCTL_FILE, exists: true, content: file, mode: '0644', owner: 'root', group: 'root' } },
    sysctl,
  } as unknown as Facts;
}

describe('sysctl task', () => {
  it('asks for exactly the keys and file it manages', () => {
    const n = sysctlTask.needs(vars, undefined);
    expect(n.sysctl).toEqual(Object.keys(ROUTER_SYSCTL));
    expect(n.files).toEqual([SYSCTL_FILE]);
  });
  it('on a fresh host: writes the file and sets only the differing values', () => {
    const current = { ...ROUTER_SYSCTL, 'net.ipv4.ip_forward': '0', 'net.ipv4.conf.all.rp_filter': '1' };
    const plan = sysctlTask.plan({ host: 'r1', vars, facts: facts(current), params: undefined });
    expect(plan.changes).toHaveLength(2);
    expect(plan.changes[0]!.summary).toBe(`create ${SYSCTL_FILE}`);
    const rt = plan.changes[1]!;
    expect(rt.summary).toBe('net.ipv4.ip_forward: 0 → 1, net.ipv4.conf.all.rp_filter: 1 → 2');
    const many = sysctlTask.plan({ host: 'r1', vars, facts: facts({}), params: undefined }).changes[1]!;
    expect(many.summary).toMatch(/^set 7 kernel values \(ipv4.ip_forward, all.rp_filter/);
    expect(rt.diff).toContain('-net.ipv4.ip_forward = 0\n-net.ipv4.conf.all.rp_filter = 1\n+net.ipv4.ip_forward = 1\n');
    expect(changeScope(rt!).sysctl).toEqual(['net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter']);
    expect(changeShell(rt!)).toBe('sysctl -q -w net.ipv4.ip_forward=1\nsysctl -q -w net.ipv4.conf.all.rp_filter=2');
  });
  it('on a configured host: nothing to do', () => {
    const plan = sysctlTask.plan({ host: 'r1', vars, facts: facts({ ...ROUTER_SYSCTL }, renderSysctlFile(ROUTER_SYSCTL)), params: undefined });
    expect(plan.changes).toEqual([]);
  });
  it('takes overrides from edge_sysctl and verifies every value', () => {
    const v = edgeVarsSchema.parse({ edge_sysctl: { 'net.netfilter.nf_conntrack_max': 262144 } }) as HostVars;
    expect(renderSysctlFile({ 'net.core.somaxconn': '4096' })).toContain('net.core.somaxconn = 4096\n');
    // The planner's second line of defence: a key the inventory schema would refuse is refused here too.
    expect(() => renderSysctlFile({ 'kernel.core_pattern': '|/tmp/x' })).toThrow(/families edge sets/);
    const verify = sysctlTask.verify!({ host: 'r1', vars: v, facts: facts({}), params: undefined })!;
    expect(verify).toContain('net.netfilter.nf_conntrack_max');
    expect(spawnSync('bash', ['-n'], { input: verify }).status).toBe(0);
  });
});

import { z } from 'zod';
import type { HostVars } from '../inventory/vars.js';
import { runtimeDiff } from '../render/diff.js';
import { shQuote, sysctlKey, sysctlLine } from '../encode/index.js';
import type { Change, Task, TaskContext } from './contract.js';
import { fileChange } from './file-change.js';
import { taskParams } from './params.js';

export const SYSCTL_FILE = '/etc/sysctl.d/90-edge.conf';

/**
 * Kernel settings a dual-WAN router needs. rp_filter is loose (2): with policy routing a reply may
 * legitimately arrive on the other WAN during failover, and strict mode would drop it. Redirects
 * are off so LAN clients never learn a path that is about to change.
 */
export const ROUTER_SYSCTL: Record<string, string> = {
  'net.ipv4.ip_forward': '1',
  'net.ipv4.conf.all.rp_filter': '2',
  'net.ipv4.conf.default.rp_filter': '2',
  'net.ipv4.conf.all.accept_redirects': '0',
  'net.ipv4.conf.default.accept_redirects': '0',
  'net.ipv4.conf.all.send_redirects': '0',
  'net.ipv4.conf.default.send_redirects': '0',
};

export function desiredSysctl(vars: HostVars): Record<string, string> {
  const out = { ...ROUTER_SYSCTL };
  for (const [k, v] of Object.entries(vars.edge_sysctl)) out[k] = String(v);
  return out;
}

export function renderSysctlFile(values: Record<string, string>): string {
  const lines = Object.entries(values).map(([k, v]) => sysctlLine(k, v));
  return `# Managed by edge: dual-WAN router kernel settings. Local changes are overwritten.\n${lines.join('\n')}\n`;
}

const params = taskParams.sysctl;

export const sysctlTask: Task<z.infer<typeof params>> = {
  name: 'sysctl',
  description: 'kernel forwarding, loose reverse-path filter, no redirects (now and at boot)',
  params,
  needs(vars) {
    return { sysctl: Object.keys(desiredSysctl(vars)), files: [SYSCTL_FILE] };
  },
  plan({ vars, facts }: TaskContext) {
    const want = desiredSysctl(vars);
    const changes: Change[] = [];
    const file = fileChange(facts, { path: SYSCTL_FILE, content: renderSysctlFile(want), mode: '0644' });
    if (file) changes.push(file);
    const differing = Object.entries(want).filter(([k, v]) => facts.sysctl[k] !== v);
    if (differing.length) {
      changes.push({
        summary:
          differing.length <= 2
            ? differing.map(([k, v]) => `${k}: ${facts.sysctl[k] ?? '(unset)'} → ${v}`).join(', ')
            : `set ${differing.length} kernel values (${differing.map(([k]) => k.split('.').slice(-2).join('.')).join(', ')})`,
        diff: runtimeDiff(
          'sysctl',
          differing.map(([k]) => `${k} = ${facts.sysctl[k] ?? '(unset)'}`),
          differing.map(([k, v]) => `${k} = ${v}`),
        ),
        ops: [{ kind: 'sysctl', values: differing }],
      });
    }
    return { changes };
  },
  verify({ vars }) {
    return Object.entries(desiredSysctl(vars))
      .map(([k, v]) => `[ "$(sysctl -n ${shQuote(sysctlKey(k))} | tr -s "\\t " "  ")" = ${shQuote(v)} ] || edge_fail ${shQuote(`sysctl ${k} is not ${v}`)}`)
      .join('\n');
  },
};

import { z } from 'zod';
import type { Facts } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import { resolveIpv6 } from './ipv6.js';
import { resolveTopology } from './wan.js';
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

export function desiredSysctl(vars: HostVars, facts: Facts): Record<string, string> {
  const out = { ...ROUTER_SYSCTL, ...ipv6Sysctl(vars, facts) };
  for (const [k, v] of Object.entries(vars.edge_sysctl)) out[k] = String(v);
  return out;
}

const WAN_VARS = ['edge_wan1_interface', 'edge_wan2_interface'] as const;
const acceptRaKey = (ifname: string) => `net.ipv6.conf.${ifname}.accept_ra`;

/**
 * Translated IPv6 forwards, and a forwarding kernel ignores router advertisements unless accept_ra
 * is 2: a WAN whose kernel takes RAs (accept_ra 1, as ifupdown and the kernel leave it) gets 2, so it
 * keeps its default route. A WAN whose RAs a daemon reads (networkd, dhcpcd: accept_ra 0) is left alone.
 */
function ipv6Sysctl(vars: HostVars, facts: Facts): Record<string, string> {
  const r = resolveTopology(vars, facts);
  if (!r.ok || resolveIpv6(vars, facts, r.topology).mode === 'off') return {};
  const out: Record<string, string> = { 'net.ipv6.conf.all.forwarding': '1' };
  for (const w of r.topology.wans) {
    const now = facts.sysctl[acceptRaKey(w.ifname)];
    if (now === '1' || now === '2') out[acceptRaKey(w.ifname)] = '2';
  }
  return out;
}

/** Every key the plan may want: the IPv6 ones are decided from facts, so all of them are gathered. */
function sysctlNeeds(vars: HostVars): string[] {
  const wans = WAN_VARS.flatMap((k) => (vars[k] ? [acceptRaKey(vars[k])] : []));
  return [...Object.keys(ROUTER_SYSCTL), 'net.ipv6.conf.all.forwarding', ...wans, ...Object.keys(vars.edge_sysctl)];
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
    return { sysctl: sysctlNeeds(vars), files: [SYSCTL_FILE] };
  },
  plan({ vars, facts }: TaskContext) {
    const want = desiredSysctl(vars, facts);
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
  verify({ vars, facts }) {
    return Object.entries(desiredSysctl(vars, facts))
      .map(([k, v]) => `[ "$(sysctl -n ${shQuote(sysctlKey(k))} | tr -s "\\t " "  ")" = ${shQuote(v)} ] || edge_fail ${shQuote(`sysctl ${k} is not ${v}`)}`)
      .join('\n');
  },
};

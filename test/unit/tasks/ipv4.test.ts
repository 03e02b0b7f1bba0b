import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { renderFailoverConf, renderRoutingConf } from '../../../src/render/conf.js';
import { KA_LINK } from '../../../src/tasks/paths.js';
import { containsAddress, minimalPrefixes, networkOf, parsePrefix } from '../../../src/ipv4.js';

describe('ipv4 helpers', () => {
  it('prefixes and containment', () => {
    expect(networkOf('10.1.0.1', 24)).toBe('10.1.0.0/24');
    expect(networkOf('198.51.100.10', 29)).toBe('198.51.100.8/29');
    expect(parsePrefix('300.1.1.1/8')).toBeUndefined();
    expect(parsePrefix('10.0.0.0/33')).toBeUndefined();
    expect(containsAddress('203.0.113.8/29', '203.0.113.9')).toBe(true);
    expect(containsAddress('203.0.113.8/29', '203.0.113.16')).toBe(false);
    expect(containsAddress('0.0.0.0/0', '192.0.2.1')).toBe(true);
  });

  it('minimalPrefixes drops duplicates and prefixes covered by others (nft interval sets refuse overlaps)', () => {
    expect(minimalPrefixes(['10.1.0.1/24', '10.0.0.0/8', '198.18.0.0/24', '198.18.0.0/24', '192.0.2.7'])).toEqual([
      '10.0.0.0/8',
      '198.18.0.0/24',
      '192.0.2.7/32',
    ]);
  });
});

describe('configuration files read by the scripts', () => {
  it('source back to exactly the values rendered, with nothing expanded', () => {
    const routing = renderRoutingConf({
      wan1If: 'eth0.20',
      wan2If: 'wan2',
      lanIf: 'lan0',
      mark1: '0x100',
      mark2: '0x2',
      table1: 201,
      table2: 202,
      table1Name: 'isp-a',
      table2Name: 'isp_b',
      priority: 5000,
      gateway1: '198.51.100.9',
    });
    const failover = renderFailoverConf({ targets1: ['192.0.2.1', '192.0.2.2'], targets2: ['192.0.2.3'], targets1v6: ['2001:0db8:0:0::1'], targets2v6: ['2001:db8::2'], timeout: 0.5, threshold: 2, rise: 8, interval: 0.1, quality: { window: 10, degradedLoss: 30, recoveryLoss: 10, degradedRtt: 1, recoveryRtt: 0.5, recoveryHold: 30 }, flush: false, tcpReset: true, switchLog: '/var/lib/edge/failover/switches', kaLink: KA_LINK });
    const out = spawnSync('bash', ['-c', `set -u; ${routing}\n${failover}\nprintf '%s|' "$WAN1_IF" "$M1" "$T1_NAME" "$PRIO" "$WAN1_GW" "$WAN2_GW" "$WAN1_TARGETS" "$WAN1_TARGETS6" "$PROBE_TIMEOUT" "$FLUSH_CONNTRACK" "$DEGRADED_RTT"`], {
      encoding: 'utf8',
    });
    expect(out.stdout).toBe('eth0.20|0x100|isp-a|5000|198.51.100.9||192.0.2.1 192.0.2.2|2001:db8::1|0.5|no|1|');
    expect(routing.split('\n')[0]).toMatch(/^# Managed by edge/);
  });
});

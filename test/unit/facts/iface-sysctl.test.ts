import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { baselineManifest, emptyManifest, extendSnapshot, restoreScript, type BaselineItem } from '../../../src/engine/snapshot.js';
import { ifaceSettingOf, ifaceSettings, ifaceSysctlProbe, parseIfaceSysctl } from '../../../src/facts/iface-sysctl.js';
import { NO_FACTS, type Facts } from '../../../src/facts/types.js';

describe('per-interface settings behind all/default keys', () => {
  it('maps all/default keys and ip_forward, nothing else', () => {
    expect(ifaceSettingOf('net.ipv4.conf.default.rp_filter')).toEqual({ family: 'ipv4', name: 'rp_filter' });
    expect(ifaceSettingOf('net.ipv6.conf.all.forwarding')).toEqual({ family: 'ipv6', name: 'forwarding' });
    expect(ifaceSettingOf('net.ipv4.ip_forward')).toEqual({ family: 'ipv4', name: 'forwarding' });
    expect(ifaceSettingOf('net.ipv4.conf.wan1.rp_filter')).toBeUndefined();
    expect(ifaceSettingOf('net.core.rmem_max')).toBeUndefined();
    expect(ifaceSettings(['net.ipv4.conf.all.rp_filter', 'net.ipv4.conf.default.rp_filter', 'net.ipv4.ip_forward'])).toEqual([
      { family: 'ipv4', name: 'rp_filter' },
      { family: 'ipv4', name: 'forwarding' },
    ]);
    expect(ifaceSysctlProbe(['net.core.rmem_max'])).toBe('');
  });

  it('the probe is valid shell and its lines parse (names with dots kept, all/default skipped by the probe)', () => {
    const sh = ifaceSysctlProbe(['net.ipv4.conf.default.rp_filter', 'net.ipv4.ip_forward']);
    expect(spawnSync('bash', ['-n'], { input: sh }).status).toBe(0);
    expect(spawnSync('shellcheck', ['-s', 'sh', '-S', 'warning', '-'], { input: `#!/bin/sh\n${sh}\n` }).status).toBe(0);
    expect(parseIfaceSysctl('ipv4/rp_filter\twan1\t0\nipv4/rp_filter\teth0.100\t2\ngarbage\n')).toEqual({
      'ipv4/rp_filter': { wan1: '0', 'eth0.100': '2' },
    });
  });

  it('a run that changes default.rp_filter saves every interface and restores each, new ones to the old default', () => {
    const facts: Facts = {
      ...NO_FACTS,
      sysctl: { 'net.ipv4.conf.default.rp_filter': '0' },
      ifaceSysctl: { 'ipv4/rp_filter': { wan1: '0', lo: '1' } },
    };
    const m = emptyManifest('20261206T000000Z-aaaaaaaa', 'r1');
    const sh = extendSnapshot(m, { sysctl: ['net.ipv4.conf.default.rp_filter'] }, facts);
    expect(m.ifaceSysctl).toEqual([{ family: 'ipv4', name: 'rp_filter', values: { wan1: '0', lo: '1' } }]);
    expect(sh).toContain('"kind":"ifsysctl"');
    const restore = restoreScript(m);
    expect(restore).toContain("[ -n \"$BOOT\" ] || edge_ifconf ipv4 rp_filter 0 wan1 0 lo 1\n");
    // after the default itself
    expect(restore.indexOf('edge_ifconf ipv4')).toBeGreaterThan(restore.indexOf('net.ipv4.conf.default.rp_filter=0'));
    expect(spawnSync('bash', ['-n'], { input: restore }).status).toBe(0);
    // The baseline keeps it too.
    const item: BaselineItem = { kind: 'ifsysctl', family: 'ipv4', name: 'rp_filter', values: { wan1: '0' } };
    expect(baselineManifest([item], 'r1').ifaceSysctl).toEqual([{ family: 'ipv4', name: 'rp_filter', values: { wan1: '0' } }]);
  });
});

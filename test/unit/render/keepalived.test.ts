import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keepalivedTiming, renderKeepalivedConf, type KeepalivedModel } from '../../../src/render/keepalived.js';
import { KA_INSTANCES } from '../../../src/tasks/failover.js';
import { KA_LINK } from '../../../src/tasks/paths.js';
import { canNetns, has, inNetns } from '../../fixtures/host-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-ka-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model(failover = '/usr/local/sbin/edge-failover'): KeepalivedModel {
  return {
    link: KA_LINK.a,
    instances: KA_INSTANCES.map((i) => ({ ...i })),
    runDir: '/run/edge',
    failoverScript: failover,
  };
}

describe('keepalived timing', () => {
  it('defaults: down within timeout + one probe interval, back after the rise period + one interval, 20 probes/s per WAN', () => {
    expect(keepalivedTiming({ interval: 0.15, timeout: 1.2, rise: 8, targets: 3 })).toEqual({
      fallWindow: 1.35,
      riseWindow: 8.15,
      packetsPerSecond: 20,
      advertInt: 1,
      masterDown: 3.609,
    });
  });

  it('the probe rate follows targets and interval', () => {
    expect(keepalivedTiming({ interval: 0.1, timeout: 1, rise: 5, targets: 3 }).packetsPerSecond).toBe(30);
    expect(keepalivedTiming({ interval: 1, timeout: 3, rise: 5, targets: 2 }).packetsPerSecond).toBe(2);
  });
});

describe('keepalived.conf', () => {
  const text = renderKeepalivedConf(model());

  it("one BACKUP instance per WAN on edge's private link, never lo (defect 3), tracking edge-probe's file for it", () => {
    expect(text).not.toMatch(/interface lo\b/);
    expect(text.match(/interface edge-ka0/g)).toHaveLength(2);
    expect(text.match(/state BACKUP/g)).toHaveLength(2);
    expect(text).toContain('virtual_router_id 51');
    expect(text).toContain('virtual_router_id 52');
    expect(text).toContain('track_file edge_wan1 {\n    file "/run/edge/wan1.track"');
    expect(text).toContain('track_file edge_wan2 {\n    file "/run/edge/wan2.track"');
    expect(text).toContain('track_file {\n        edge_wan1\n    }');
    expect(text.match(/notify "\/usr\/local\/sbin\/edge-failover notify"/g)).toHaveLength(2);
    expect(text).toContain('enable_script_security\n    script_user root');
    expect(text).not.toMatch(/vrrp_script|track_script/);
  });

  it('weight 0 on each track file: a non-zero value means FAULT, not a lower priority (defect 5)', () => {
    expect(text.match(/^\s*weight\b.*$/gm)).toEqual(['    weight 0', '    weight 0']);
    expect(text).not.toMatch(/notify_(backup|master|fault)/);
  });

  it('holds no health timing (a new timing never restarts keepalived), and says where it is', () => {
    expect(text).toContain('advert_int 1');
    expect(text).toContain('Timing is edge-probe\'s (PROBE_INTERVAL, PROBE_TIMEOUT, RISE');
    expect(text).not.toMatch(/1\.2|0\.15/);
  });

  it.skipIf(!(canNetns && has('keepalived')))('passes keepalived --config-test (with its link and notify script in place)', () => {
    const failover = join(dir, 'edge-failover');
    writeFileSync(failover, '#!/bin/sh\nexit 0\n');
    chmodSync(failover, 0o750);
    const file = join(dir, 'keepalived.conf');
    writeFileSync(file, renderKeepalivedConf(model(failover)));
    const link = `ip link add ${KA_LINK.a} type veth peer name ${KA_LINK.b} && ip addr add ${KA_LINK.addrA} dev ${KA_LINK.a} && ip link set ${KA_LINK.a} up && ip link set ${KA_LINK.b} up`;
    const ok = inNetns(`${link} && keepalived --config-test -f ${file}`);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    // the test does catch what matters: an instance on an interface that does not exist is an error
    writeFileSync(file, renderKeepalivedConf({ ...model(failover), link: 'edge-nope0' }));
    expect(inNetns(`${link} && keepalived --config-test -f ${file}`).status).not.toBe(0);
  });
});

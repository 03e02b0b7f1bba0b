import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KA_PRIORITY, keepalivedTiming, renderKeepalivedConf, type KeepalivedModel } from '../../../src/render/keepalived.js';
import { KA_INSTANCES } from '../../../src/tasks/failover.js';
import { KA_LINK } from '../../../src/tasks/paths.js';
import { canNetns, has, inNetns } from '../../fixtures/host-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-ka-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function model(scripts = { health: '/usr/local/sbin/edge-health', failover: '/usr/local/sbin/edge-failover' }): KeepalivedModel {
  return {
    link: KA_LINK.a,
    instances: KA_INSTANCES.map((i) => ({ ...i })),
    interval: 2,
    fall: 3,
    rise: 5,
    timing: keepalivedTiming({ interval: 2, probeTimeout: 1, fall: 3, rise: 5 }),
    healthScript: scripts.health,
    failoverScript: scripts.failover,
  };
}

describe('keepalived timing', () => {
  it('defaults: 2 s checks with a 1 s probe → script timeout 2, fall window 8, advert_int 3, master down 9.609', () => {
    expect(keepalivedTiming({ interval: 2, probeTimeout: 1, fall: 3, rise: 5 })).toEqual({
      scriptTimeout: 2,
      fallWindow: 8,
      riseWindow: 10,
      advertInt: 3,
      masterDown: 9.609,
    });
  });

  it('always picks the smallest advert_int whose master down interval exceeds the fall window', () => {
    const skew = (256 - KA_PRIORITY) / 256;
    for (const interval of [1, 1.5, 2, 5, 10, 60])
      for (const probeTimeout of [0.2, 0.5, 1, 2.5, 9])
        for (const fall of [1, 2, 3, 5, 10]) {
          const t = keepalivedTiming({ interval, probeTimeout, fall, rise: 2 });
          expect(t.masterDown).toBeGreaterThan(t.fallWindow);
          expect(3 * (t.advertInt - 1) + skew).toBeLessThanOrEqual(t.fallWindow);
          // the probes run in parallel: one probe timeout plus margin fits in the script timeout (defect 9)
          expect(t.scriptTimeout).toBeGreaterThanOrEqual(probeTimeout + 0.5);
          expect(Number.isInteger(t.advertInt)).toBe(true);
        }
  });

  it('refuses timings VRRPv2 cannot express', () => {
    expect(() => keepalivedTiming({ interval: 60, probeTimeout: 1, fall: 100, rise: 1 })).toThrow(/advert_int/);
  });
});

describe('keepalived.conf', () => {
  const text = renderKeepalivedConf(model());

  it('one BACKUP instance per WAN on edge\'s private link, never lo (defect 3), tracking its own script', () => {
    expect(text).not.toMatch(/interface lo\b/);
    expect(text.match(/interface edge-ka0/g)).toHaveLength(2);
    expect(text.match(/state BACKUP/g)).toHaveLength(2);
    expect(text).toContain('virtual_router_id 51');
    expect(text).toContain('virtual_router_id 52');
    expect(text).toContain('script "/usr/local/sbin/edge-health wan1"');
    expect(text).toContain('script "/usr/local/sbin/edge-health wan2"');
    expect(text).toContain('track_script {\n        edge_health_wan1\n    }');
    expect(text.match(/notify "\/usr\/local\/sbin\/edge-failover notify"/g)).toHaveLength(2);
    expect(text).toContain('enable_script_security\n    script_user root');
  });

  it('no weight anywhere: a failing check means FAULT, not a lower priority (defect 5)', () => {
    expect(text).not.toMatch(/^\s*weight\b/m);
    expect(text).not.toMatch(/notify_(backup|master|fault)/);
  });

  it('explains the timing it uses', () => {
    expect(text).toContain('advert_int 3');
    expect(text).toContain('fall window    = fall x interval + script timeout = 3 x 2 + 2 = 8');
    expect(text).toContain('master down    = 3 x advert_int + (256 - priority) / 256 = 3 x 3 + 0.609 = 9.609');
    expect(text).toContain('timeout 2\n    fall 3\n    rise 5');
  });

  it.skipIf(!(canNetns && has('keepalived')))('passes keepalived --config-test (with its link and scripts in place)', () => {
    const health = join(dir, 'edge-health');
    const failover = join(dir, 'edge-failover');
    for (const s of [health, failover]) {
      writeFileSync(s, '#!/bin/sh\nexit 0\n');
      chmodSync(s, 0o750);
    }
    const file = join(dir, 'keepalived.conf');
    writeFileSync(file, renderKeepalivedConf(model({ health, failover })));
    const link = `ip link add ${KA_LINK.a} type veth peer name ${KA_LINK.b} && ip addr add ${KA_LINK.addrA} dev ${KA_LINK.a} && ip link set ${KA_LINK.a} up && ip link set ${KA_LINK.b} up`;
    const ok = inNetns(`${link} && keepalived --config-test -f ${file}`);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    // the test does catch what matters: a missing script is an error
    rmSync(health);
    expect(inNetns(`${link} && keepalived --config-test -f ${file}`).status).not.toBe(0);
  });
});

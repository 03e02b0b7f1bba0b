import { spawnSync } from 'node:child_process';
import { changeScope, changeShell } from '../../../src/tasks/change-ops.js';
import { describe, expect, it } from 'vitest';
import { PREAMBLE } from '../../../src/render/shell.js';
import { failoverTask } from '../../../src/tasks/failover.js';
import { PATHS, UNITS } from '../../../src/tasks/paths.js';
import { configure, freshRouter, labVars } from '../../fixtures/facts.js';

const vars = labVars();
const plan = (facts = freshRouter(), v = vars) => failoverTask.plan({ host: 'r1', vars: v, facts, params: undefined });

describe('failover task', () => {
  it('on a fresh router: conf, scripts, probe unit, drop-in, keepalived.conf (tested before install), then edge-probe and keepalived start', () => {
    const p = plan();
    expect(p.changes.map((c) => c.summary)).toEqual([
      `create ${PATHS.failoverConf}`,
      `create ${PATHS.edgeHealth}`,
      `create ${PATHS.edgeProbe}`,
      `create ${PATHS.edgeProbeAwk}`,
      `create ${PATHS.edgeProbeUnit}`,
      `create ${PATHS.edgeFailover}`,
      `create ${PATHS.keepalivedDropIn}`,
      `create ${PATHS.keepalivedConf}`,
      `create ${PATHS.metricsConf}`,
      `create ${PATHS.edgeMetrics}`,
      `create ${PATHS.edgeMetricsUnit}`,
      'systemd: enable + start edge-probe.service, start keepalived.service, enable + start edge-metrics.service',
    ]);
    expect(p.changes[0]!.diff).toContain(
      "+WAN1_TARGETS='192.0.2.1 192.0.2.2 192.0.2.3'\n+WAN2_TARGETS='192.0.2.1 192.0.2.2 192.0.2.3'\n+WAN1_TARGETS6='2001:db8:ffff::1 2001:db8:ffff::2 2001:db8:ffff::3'\n+WAN2_TARGETS6='2001:db8:ffff::1 2001:db8:ffff::2 2001:db8:ffff::3'\n+PROBE_INTERVAL=0.15\n+PROBE_TIMEOUT=1.2\n+RISE=8\n+SUCCESS_THRESHOLD=1\n+QUALITY_WINDOW=10\n+DEGRADED_LOSS=30\n+RECOVERY_LOSS=10\n+DEGRADED_RTT=1\n+RECOVERY_RTT=0.5\n+RECOVERY_HOLD=30\n+FLUSH_CONNTRACK=yes\n+TCP_RESET=yes\n+SWITCH_LOG=/var/lib/edge/failover/switches\n+KA_A=edge-ka0\n",
    );
    const ka = changeShell(p.changes[7]!);
    expect(ka.split('\n')[0]).toBe('/usr/local/sbin/edge-failover link');
    expect(ka).toContain('if ! keepalived --config-test -f "$edge_t"');
    const units = p.changes[11]!;
    expect(changeShell(units)).toBe(
      'systemctl daemon-reload\nsystemctl enable --quiet edge-probe.service\nsystemctl start edge-probe.service\nsystemctl start keepalived.service\n' +
        'systemctl enable --quiet edge-metrics.service\nsystemctl start edge-metrics.service',
    );
    // keepalived's private link is created by the change; a restore deletes it (it did not exist).
    // keepalived 2.3 registers its route protocol with iproute2 when it starts: a rollback removes that too;
    // edge-metrics writes its metrics and the applied run's hashes: a rollback removes them too.
    expect(changeScope(units)).toEqual({
      units: [UNITS.edgeProbe, UNITS.keepalived, UNITS.edgeMetrics],
      files: ['/etc/iproute2/rt_addrprotos.d/keepalived.conf', PATHS.metricsTextfile, PATHS.metricsApplied],
      links: ['edge-ka0', 'edge-ka1'],
    });
    expect(changeScope(p.changes[7]!)).toEqual({ files: [PATHS.keepalivedConf], links: ['edge-ka0', 'edge-ka1'] });
    expect(p.changes[4]!.diff).toContain('+ExecStart=/usr/local/sbin/edge-probe run\n');
    expect(p.changes[4]!.diff).toContain('+WatchdogSec=10\n+NotifyAccess=all\n');
    expect(p.changes[4]!.diff).toContain('+Restart=always\n');
    expect(p.notes?.[0]).toContain('down within 1.35s (no answer from any of the 3 targets for 1.2s)');
    expect(p.notes?.[0]).toContain('20 probes/s per WAN');
    for (const c of p.changes) expect(spawnSync('bash', ['-n'], { input: `${PREAMBLE}\n${changeShell(c)}` }).status).toBe(0);
  });

  it('on a configured router: nothing to do', () => {
    expect(plan(configure(freshRouter(), vars)).changes).toEqual([]);
  });

  it('new timing or targets restart edge-probe only (keepalived.conf does not hold them)', () => {
    const f = configure(freshRouter(), vars);
    for (const v of [labVars({ edge_health_timeout: 2 }), labVars({ edge_wan2_targets: ['192.0.2.9'] })]) {
      const p = plan(f, v);
      expect(p.changes.map((c) => c.summary)).toEqual([`update ${PATHS.failoverConf}`, 'systemd: restart edge-probe.service']);
      expect(changeShell(p.changes[1]!)).toBe('systemctl restart edge-probe.service');
    }
  });

  it('keepalived disabled by someone: enabled again, not restarted', () => {
    const f = configure(freshRouter(), vars);
    f.units[UNITS.keepalived]!.enabled = 'disabled';
    const p = plan(f);
    expect(p.changes.map((c) => changeShell(c))).toEqual(['systemctl enable --quiet keepalived.service']);
  });

  it('scripts are 0750, configuration 0644', () => {
    const applies = plan().changes.map((c) => changeShell(c));
    expect(applies[1]).toMatch(/^edge_write_file \/usr\/local\/sbin\/edge-health 0750 root root /);
    expect(applies[2]).toMatch(/^edge_write_file \/usr\/local\/sbin\/edge-probe 0750 root root /);
    expect(applies[3]).toMatch(/^edge_write_file \/usr\/local\/lib\/edge\/edge-probe.awk 0644 root root /);
    expect(applies[5]).toMatch(/^edge_write_file \/usr\/local\/sbin\/edge-failover 0750 root root /);
    expect(applies[0]).toMatch(/^edge_write_file \/etc\/edge\/failover.conf 0644 /);
  });
});

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PREAMBLE } from '../../../src/render/shell.js';
import { failoverTask } from '../../../src/tasks/failover.js';
import { PATHS, UNITS } from '../../../src/tasks/paths.js';
import { configure, freshRouter, labVars } from '../../fixtures/facts.js';

const vars = labVars();
const plan = (facts = freshRouter(), v = vars) => failoverTask.plan({ host: 'r1', vars: v, facts, params: undefined });

describe('failover task', () => {
  it('on a fresh router: conf, scripts, drop-in, keepalived.conf (tested before install), then keepalived starts', () => {
    const p = plan();
    expect(p.changes.map((c) => c.summary)).toEqual([
      `create ${PATHS.failoverConf}`,
      `create ${PATHS.edgeHealth}`,
      `create ${PATHS.edgeFailover}`,
      `create ${PATHS.keepalivedDropIn}`,
      `create ${PATHS.keepalivedConf}`,
      'systemd: start keepalived.service',
    ]);
    expect(p.changes[0]!.diff).toContain("+WAN1_TARGETS='192.0.2.1 192.0.2.2 192.0.2.3'\n+WAN2_TARGETS='192.0.2.1 192.0.2.2 192.0.2.3'\n+PROBE_TIMEOUT=1\n+SUCCESS_THRESHOLD=1\n+FALL=3\n+INTERVAL=2\n+FLUSH_CONNTRACK=yes\n");
    const ka = p.changes[4]!.apply;
    expect(ka.split('\n')[0]).toBe('/usr/local/sbin/edge-failover link');
    expect(ka).toContain('if ! keepalived --config-test -f "$edge_t"');
    const units = p.changes[5]!;
    expect(units.apply).toBe('systemctl daemon-reload\nsystemctl start keepalived.service');
    // keepalived's private link is created by the change; a restore deletes it (it did not exist).
    expect(units.snapshot).toEqual({ units: [UNITS.keepalived], links: ['edge-ka0', 'edge-ka1'], appears: [PATHS.keepalivedRtProtos] });
    expect(p.changes[4]!.snapshot).toEqual({ files: [PATHS.keepalivedConf], links: ['edge-ka0', 'edge-ka1'] });
    expect(p.changes[3]!.diff).toContain('+ExecStartPre=/usr/local/sbin/edge-failover prepare\n+Restart=on-failure\n+RestartSec=2\n');
    expect(p.notes?.[0]).toContain('advert_int 3s');
    for (const c of p.changes) expect(spawnSync('bash', ['-n'], { input: `${PREAMBLE}\n${c.apply}` }).status).toBe(0);
  });

  it('on a configured router: nothing to do', () => {
    expect(plan(configure(freshRouter(), vars)).changes).toEqual([]);
  });

  it('new timing restarts keepalived; new targets do not (the scripts read their conf at every check)', () => {
    const f = configure(freshRouter(), vars);
    const timing = plan(f, labVars({ edge_health_fall: 4 }));
    expect(timing.changes.map((c) => c.summary)).toEqual([`update ${PATHS.failoverConf}`, `update ${PATHS.keepalivedConf}`, 'systemd: restart keepalived.service']);
    expect(timing.changes[2]!.apply).toBe('systemctl restart keepalived.service');
    const targets = plan(f, labVars({ edge_wan2_targets: ['192.0.2.9'] }));
    expect(targets.changes.map((c) => c.summary)).toEqual([`update ${PATHS.failoverConf}`]);
  });

  it('keepalived disabled by someone: enabled again, not restarted', () => {
    const f = configure(freshRouter(), vars);
    f.units[UNITS.keepalived]!.enabled = 'disabled';
    const p = plan(f);
    expect(p.changes.map((c) => c.apply)).toEqual(['systemctl enable --quiet keepalived.service']);
  });

  it('scripts are 0750, configuration 0644', () => {
    const applies = plan().changes.map((c) => c.apply);
    expect(applies[1]).toMatch(/^edge_write_file \/usr\/local\/sbin\/edge-health 0750 root root /);
    expect(applies[2]).toMatch(/^edge_write_file \/usr\/local\/sbin\/edge-failover 0750 root root /);
    expect(applies[0]).toMatch(/^edge_write_file \/etc\/edge\/failover.conf 0644 /);
  });
});

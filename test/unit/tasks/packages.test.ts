import { spawnSync } from 'node:child_process';
import { changeScope, changeShell } from '../../../src/tasks/change-ops.js';
import { describe, expect, it } from 'vitest';
import { PREAMBLE } from '../../../src/render/shell.js';
import { packagesTask, REQUIRED_PACKAGES } from '../../../src/tasks/packages.js';
import { UNITS } from '../../../src/tasks/paths.js';
import { configure, freshRouter, labVars } from '../../fixtures/facts.js';

const vars = labVars();
const plan = (facts = freshRouter(), params?: { upgrade?: boolean }, v = vars) => packagesTask.plan({ host: 'r1', vars: v, facts, params });

describe('packages task', () => {
  it('asks about exactly the six packages, radvd (translated IPv6 needs it), and node_exporter with edge_metrics (default on)', () => {
    expect(packagesTask.needs(vars, undefined)).toEqual({ packages: [...REQUIRED_PACKAGES, 'radvd', 'prometheus-node-exporter'], units: [UNITS.nodeExporter] });
    expect(packagesTask.needs(labVars({ edge_metrics: false }), undefined)).toEqual({ packages: [...REQUIRED_PACKAGES, 'radvd'], units: [] });
  });

  it('installs only what is missing, in one apt call after one update, then enables node_exporter (a unit change a rollback restores)', () => {
    const p = plan();
    expect(p.changes).toHaveLength(2);
    expect(changeShell(p.changes[1]!)).toBe('systemctl enable --quiet prometheus-node-exporter.service\nsystemctl start prometheus-node-exporter.service');
    expect(changeScope(p.changes[1]!)).toEqual({ units: [UNITS.nodeExporter] });
    const c = p.changes[0]!;
    expect(c.summary).toBe('install nftables, keepalived, conntrack, prometheus-node-exporter');
    // dpkg's state and /etc recorded right before apt and compared right after (src/router/pkg-state.sh)
    expect(changeShell(c)).toBe(
      'edge_pkgs_before\n' +
        'apt-get -q update\n' +
        'DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends install nftables keepalived conntrack prometheus-node-exporter\n' +
        'edge_pkgs_after',
    );
    expect(c.diff).toContain('+keepalived (install; a rollback removes it)\n');
    expect(changeScope(c)).toEqual({ packages: ['nftables', 'keepalived', 'conntrack', 'prometheus-node-exporter'] });
    expect(p.notes).toEqual([
      'rollback removes nftables, keepalived, conntrack, prometheus-node-exporter (and whatever apt pulls in with them: what dpkg did not have before), and puts back what their install changed under /etc',
    ]);
    expect(spawnSync('bash', ['-n'], { input: `${PREAMBLE}\n${changeShell(c)}` }).status).toBe(0);
  });

  it('nothing missing: no change, so no apt call at all', () => {
    expect(plan(configure(freshRouter(), vars))).toEqual({ changes: [] });
  });

  it('node_exporter installed but stopped (an operator disabled it): enabled and started without apt; edge_metrics false leaves it alone', () => {
    const f = configure(freshRouter(), vars);
    f.units[UNITS.nodeExporter] = { name: UNITS.nodeExporter, load: 'loaded', active: 'inactive', enabled: 'disabled' };
    const p = plan(f);
    expect(p.changes.map(changeShell)).toEqual(['systemctl enable --quiet prometheus-node-exporter.service\nsystemctl start prometheus-node-exporter.service']);
    expect(plan(f, undefined, labVars({ edge_metrics: false }))).toEqual({ changes: [] });
  });

  it('never upgrades unless asked; the task parameter wins over edge_packages_upgrade', () => {
    const f = configure(freshRouter(), vars);
    expect(plan(f, { upgrade: false }, labVars({ edge_packages_upgrade: true })).changes).toEqual([]);
    const up = plan(f, { upgrade: true });
    expect(up.changes).toHaveLength(1);
    expect(changeShell(up.changes[0]!)).toContain('--only-upgrade install nftables keepalived conntrack iproute2 iputils-ping mawk prometheus-node-exporter');
    expect(up.notes).toContain('a rollback keeps upgraded versions (the old ones are not kept to go back to); it removes any package the upgrade pulls in');
    expect(plan(f, undefined, labVars({ edge_packages_upgrade: true })).changes).toHaveLength(1);
  });

  it('verify counts installed packages and is valid bash', () => {
    const v = packagesTask.verify!({ host: 'r1', vars, facts: freshRouter(), params: undefined })!;
    expect(v).toContain('[ "$edge_n" = 7 ]');
    expect(spawnSync('bash', ['-n'], { input: `${PREAMBLE}\n${v}` }).status).toBe(0);
  });
});

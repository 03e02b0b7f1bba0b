import { spawnSync } from 'node:child_process';
import { changeScope, changeShell } from '../../../src/tasks/change-ops.js';
import { describe, expect, it } from 'vitest';
import { PREAMBLE } from '../../../src/render/shell.js';
import { PATHS, UNITS } from '../../../src/tasks/paths.js';
import { persistenceTask } from '../../../src/tasks/persistence.js';
import { configure, freshRouter, labVars } from '../../fixtures/facts.js';

const vars = labVars();
const plan = (facts = freshRouter()) => persistenceTask.plan({ host: 'r1', vars, facts, params: undefined });

describe('persistence task', () => {
  it('asks for its files and units', () => {
    const n = persistenceTask.needs(vars, undefined);
    expect(n.units).toEqual([UNITS.edgeRoutes, UNITS.edgeNft, UNITS.edgeRadvd]);
    expect(n.files).toContain(PATHS.radvdConf);
    expect(n.files).toContain(PATHS.ifupHook);
  });

  it('on a fresh systemd-networkd router: script, units, networkd drop-in, then enable and start both units', () => {
    const p = plan();
    expect(p.changes.map((c) => c.summary)).toEqual([
      `create ${PATHS.edgeRoutes}`,
      `create ${PATHS.edgeRoutesUnit}`,
      `create ${PATHS.edgeNftUnit}`,
      `create ${PATHS.networkdDropIn}`,
      'systemd: enable + start edge-routes.service, enable + start edge-nftables.service',
    ]);
    const units = p.changes.at(-1)!;
    expect(changeShell(units!)).toBe(
      [
        'systemctl daemon-reload',
        'systemctl enable --quiet edge-routes.service',
        'systemctl start edge-routes.service',
        'systemctl enable --quiet edge-nftables.service',
        'systemctl start edge-nftables.service',
      ].join('\n'),
    );
    expect(changeScope(units!)).toEqual({ units: [UNITS.edgeRoutes, UNITS.edgeNft] });
    expect(units.diff).toContain('-edge-routes.service: not installed\n');
    expect(units.diff).toContain('+edge-routes.service: enabled, active\n');
    expect(changeShell(p.changes[0]!)).toMatch(/^edge_write_file \/usr\/local\/sbin\/edge-routes 0750 root root /);
    for (const c of p.changes) expect(spawnSync('bash', ['-n'], { input: `${PREAMBLE}\n${changeShell(c)}` }).status).toBe(0);
    expect(p.notes?.[0]).toContain('ManageForeignRoutingPolicyRules');
  });

  it('on an ifupdown router: the if-up/if-post-down hooks instead of the networkd drop-in', () => {
    const p = plan(freshRouter({ networkManager: 'ifupdown' }));
    const s = p.changes.map((c) => c.summary);
    expect(s).toContain(`create ${PATHS.ifupHook}`);
    expect(s).toContain(`create ${PATHS.ifdownHook}`);
    expect(s).not.toContain(`create ${PATHS.networkdDropIn}`);
  });

  it('on a configured router: nothing to do (networkd and ifupdown)', () => {
    expect(plan(configure(freshRouter(), vars)).changes).toEqual([]);
    expect(plan(configure(freshRouter({ networkManager: 'ifupdown' }), vars)).changes).toEqual([]);
  });

  it('a changed script restarts edge-routes only', () => {
    const f = configure(freshRouter(), vars);
    f.files[PATHS.edgeRoutes]!.content += '# local edit\n';
    const p = plan(f);
    expect(p.changes.map((c) => c.summary)).toEqual([`update ${PATHS.edgeRoutes}`, 'systemd: restart edge-routes.service']);
    expect(changeShell(p.changes[1]!)).toBe('systemctl restart edge-routes.service');
  });

  it('the manager changed from ifupdown to networkd: the hooks go', () => {
    const f = configure(freshRouter({ networkManager: 'ifupdown' }), vars);
    f.networkManager = 'systemd-networkd';
    const s = plan(f).changes.map((c) => c.summary);
    expect(s).toEqual([`create ${PATHS.networkdDropIn}`, `remove ${PATHS.ifupHook}`, `remove ${PATHS.ifdownHook}`]);
  });

  it('IPv6 no longer translated while edge-radvd runs: its files go, it stops, then edge-routes restarts', () => {
    const f = configure(freshRouter(), vars);
    f.units[UNITS.edgeRadvd] = { name: UNITS.edgeRadvd, load: 'loaded', active: 'active', enabled: 'enabled' };
    for (const [path, content] of [[PATHS.radvdConf, 'interface lan0 {};\n'], [PATHS.radvdUnit, '[Service]\n']] as const)
      f.files[path] = { path, exists: true, content, mode: '0644', owner: 'root', group: 'root' };
    const p = plan(f);
    expect(p.changes.map((c) => c.summary)).toEqual([
      `remove ${PATHS.radvdConf}`,
      `remove ${PATHS.radvdUnit}`,
      `systemd: stop + disable ${UNITS.edgeRadvd} (IPv6 is off)`,
      `systemd: restart ${UNITS.edgeRoutes}`,
    ]);
    expect(p.changes.slice(2).map(changeShell).join('\n')).toBe(
      ['systemctl disable --now --quiet edge-radvd.service', 'systemctl daemon-reload', 'systemctl restart edge-routes.service'].join('\n'),
    );
    expect(changeScope(p.changes[2]!)).toEqual({ units: [UNITS.edgeRadvd] });
    // stopped and disabled: nothing more to do
    f.units[UNITS.edgeRadvd] = { name: UNITS.edgeRadvd, load: 'not-found', active: 'inactive', enabled: 'disabled' };
    for (const path of [PATHS.radvdConf, PATHS.radvdUnit]) f.files[path] = { path, exists: false };
    expect(plan(f).changes).toEqual([]);
  });

  it('the units start early, restart, and follow nftables.service', () => {
    const p = plan();
    const routesUnit = p.changes[1]!.diff;
    expect(routesUnit).toContain('+After=network-pre.target\n+Wants=network-pre.target\n');
    expect(routesUnit).toContain('+Type=simple\n+ExecStart=/usr/local/sbin/edge-routes monitor\n');
    // SIGTERM to the script only (it reaps its ip monitor), and a stop bounded to seconds
    for (const l of ['KillMode=mixed', 'TimeoutStopSec=10', 'Restart=always']) expect(routesUnit).toContain(`+${l}\n`);
    const nftUnit = p.changes[2]!.diff;
    for (const l of ['DefaultDependencies=no', 'Before=network-pre.target shutdown.target', 'After=nftables.service', 'PartOf=nftables.service', 'ReloadPropagatedFrom=nftables.service', 'RemainAfterExit=yes', 'ExecStart=/usr/sbin/nft -f /etc/edge/edge.nft', 'ExecStartPost=-/usr/local/sbin/edge-failover sync', 'WantedBy=sysinit.target'])
      expect(nftUnit).toContain(`+${l}\n`);
  });
});

import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import { baselineManifest, emptyManifest, extendSnapshot, restoreScript, routeArgs, RULE_RESTORE_FUNCTION, ruleArgs } from '../../../src/engine/snapshot.js';
import { removedPackagesNote } from '../../../src/engine/pkg-snapshot.js';
import { applyScript } from '../../../src/engine/task-script.js';
import { confirmScript, LEASE_MARGIN_SEC } from '../../../src/engine/deadman.js';
import { newHolder } from '../../../src/engine/host-lock.js';
import { renderBootGenerator } from '../../../src/engine/boot-hook.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function facts(over: Partial<Facts> = {}): Facts {
  return {
    hostname: 'r1',
    os: { id: 'debian', versionId: '12', prettyName: 'Debian 12' },
    kernel: '6.1',
    networkManager: 'systemd-networkd',
    uid: 0,
    interfaces: [],
    routes: [],
    rules: [],
    nftTables: [],
    nftTableText: {},
    rtTables: { '254': 'main', '101': 'wan1' },
    sysctl: {},
    packages: {},
    units: {},
    files: {},
    gatheredAt: '2026-11-23T00:00:00Z',
    ...over,
  };
}

describe('snapshot manifest', () => {
  const f = facts({
    files: {
      '/etc/a.conf': { path: '/etc/a.conf', exists: true, content: 'x', mode: '0644', owner: 'root', group: 'root' },
      '/etc/new.conf': { path: '/etc/new.conf', exists: false },
    },
    sysctl: { 'net.ipv4.ip_forward': '0' },
    nftTables: [{ family: 'inet', name: 'edge' }, { family: 'ip', name: 'docker' }],
    rules: [
      { priority: 0, table: 'local', src: 'all', raw: 'from all lookup local' },
      { priority: 1010, src: 'all', fwmark: '0x1', table: 'wan1', raw: 'from all fwmark 0x1 lookup wan1' },
      { priority: 1030, src: 'all', fwmark: '0x1', action: 'unreachable', raw: 'from all fwmark 0x1 unreachable' },
    ],
    routes: [
      { table: 'wan1', dst: 'default', gateway: '198.51.100.9', dev: 'wan1', prefsrc: '198.51.100.10', protocol: 'static', flags: [] },
      { table: 'main', dst: 'default', gateway: '198.51.100.9', dev: 'wan1', flags: [] },
    ],
    units: { keepalived: { name: 'keepalived', load: 'loaded', active: 'inactive', enabled: 'disabled' } },
  });

  it('records each item once, with what existed, and saves existing files and tables on the host', () => {
    const m = emptyManifest('20261123T000000Z-abcd', 'r1');
    const sh1 = extendSnapshot(m, { files: ['/etc/a.conf', '/etc/new.conf'], sysctl: ['net.ipv4.ip_forward'] }, f);
    const sh2 = extendSnapshot(m, { files: ['/etc/a.conf'], nftTables: ['inet edge'], ruleRange: [1000, 1099], routeTables: [101], units: ['keepalived'] }, f);
    // Saved on the host, as the host finds them then (a copy, or a mark of absence), and into the baseline once.
    expect(sh1).toContain('edge_save_file /etc/a.conf files/0');
    expect(sh1).toContain('edge_save_file /etc/new.conf files/1');
    expect(sh1).toContain(`edge_baseline ${Buffer.from('file:/etc/a.conf').toString('hex')} '{"kind":"file","path":"/etc/a.conf"}' /var/lib/edge/snapshots/20261123T000000Z-abcd/files/0`);
    expect(sh2).not.toContain('a.conf'); // already saved by the first task
    expect(sh2).toContain('nft list table inet edge');
    expect(m.files).toEqual([
      { path: '/etc/a.conf', existed: true, copy: 'files/0' },
      { path: '/etc/new.conf', existed: false, copy: 'files/1' },
    ]);
    expect(m.sysctl).toEqual({ 'net.ipv4.ip_forward': '0' });
    expect(m.ruleRanges).toEqual([
      { from: 1000, to: 1099, rules: ['pref 1010 from all fwmark 0x1 lookup 101', 'pref 1030 from all fwmark 0x1 unreachable'] },
    ]);
    expect(m.routeTables).toEqual([{ id: 101, routes: ['default via 198.51.100.9 dev wan1 proto static src 198.51.100.10'] }]);
    expect(m.units).toEqual([{ name: 'keepalived', known: true, enabled: false, active: false }]);
  });

  it('renders a restore script that puts every item back and is valid bash', () => {
    const m = emptyManifest('20261123T000000Z-abcd', 'r1');
    extendSnapshot(m, { files: ['/etc/a.conf', '/etc/new.conf'], sysctl: ['net.ipv4.ip_forward'], nftTables: ['inet edge', 'inet other'], ruleRange: [1000, 1099], routeTables: [101], units: ['keepalived'] }, f);
    const s = restoreScript(m);
    expect(s).toContain('edge_restore_file /etc/a.conf files/0');
    expect(s).toContain('edge_restore_file /etc/new.conf files/1');
    expect(s).toContain('try nft -f "$D"/nft/inet-edge.nft');
    // a table that did not exist before the run is deleted and not recreated
    expect(s).toContain('nft delete table inet other');
    expect(s).not.toContain('inet-other.nft');
    expect(s).toContain('edge_rule_add -4 pref 1010 from all fwmark 0x1 lookup 101');
    expect(s).toContain('ip route flush table 101');
    expect(s).toContain('try sysctl -q -w net.ipv4.ip_forward=0');
    expect(s).toContain('try systemctl disable --quiet keepalived');
    expect(s).toContain('systemctl stop keepalived');
    expect(spawnSync('bash', ['-n'], { input: s }).status).toBe(0);
  });

  it('restore: stops the run\'s units first, disables units it created, deletes links it created, restarts what ran', () => {
    const g = facts({
      ...f,
      interfaces: [{ name: 'lo', index: 1, operstate: 'UNKNOWN', up: true, carrier: true, addresses: [] }],
      units: {
        keepalived: { name: 'keepalived', load: 'loaded', active: 'active', enabled: 'enabled' },
        'edge-routes.service': { name: 'edge-routes.service', load: 'not-found', active: 'inactive', enabled: 'not-found' },
      },
    });
    const m = emptyManifest('20261123T000000Z-abcd', 'r1');
    extendSnapshot(m, { files: ['/etc/systemd/system/edge-routes.service'], units: ['keepalived', 'edge-routes.service'], links: ['edge-ka0', 'lo'] }, g);
    expect(m.links).toEqual([
      { name: 'edge-ka0', existed: false },
      { name: 'lo', existed: true },
    ]);
    const s = restoreScript(m);
    const at = (x: string) => s.indexOf(x);
    // stopped before anything is restored; the new unit disabled while its file still exists
    expect(at('systemctl stop keepalived')).toBeLessThan(at('edge_restore_file /etc/systemd/system/edge-routes.service'));
    expect(at('systemctl disable --quiet edge-routes.service')).toBeLessThan(at('edge_restore_file /etc/systemd/system/edge-routes.service'));
    expect(s).toContain('try ip link del dev edge-ka0');
    expect(s).not.toContain('del dev lo');
    expect(at('try ip link del dev edge-ka0')).toBeLessThan(at('try systemctl restart keepalived'));
    expect(at('try systemctl enable --quiet keepalived')).toBeGreaterThan(at('systemctl daemon-reload'));
    expect(spawnSync('bash', ['-n'], { input: s }).status).toBe(0);
  });

  it('confirm: refuses a run that did not finish applying without disarming; stops the timer before the last state check', () => {
    const s = confirmScript('20261123T000000Z-abcd', newHolder('20261123T000000Z-abcd', 'run', 60));
    const at = (x: string) => s.indexOf(x);
    expect(at('edge_lock ')).toBeLessThan(at('did not finish applying'));
    expect(at('did not finish applying')).toBeLessThan(at('systemctl stop edge-confirm-20261123T000000Z-abcd.timer'));
    expect(at('systemctl stop edge-confirm-20261123T000000Z-abcd.timer')).toBeLessThan(at('already restored itself'));
    expect(at('is-active --quiet edge-confirm-20261123T000000Z-abcd.service')).toBeLessThan(at('edge_put /var/lib/edge/snapshots/20261123T000000Z-abcd/state confirmed'));
    // The commit point (state confirmed, on disk) comes before the pending mark goes.
    expect(at('state confirmed')).toBeLessThan(at('rm -f /var/lib/edge/pending'));
    expect(spawnSync('bash', ['-n'], { input: s }).status).toBe(0);
  });

  it('builds the one apply exec: every snapshot, manifest, timer armed once, each task\'s changes in order, one daemon-reload, each unit started once, every verify', () => {
    const m = emptyManifest('20261123T000000Z-abcd', 'r1');
    const file = (path: string) => ({ kind: 'file' as const, path, content: 'a = 1\n', mode: '0644', owner: 'root', group: 'root' });
    const units = (unit: string, action: 'start' | 'restart') => ({ kind: 'units' as const, daemonReload: true, actions: [{ unit, action }], units: [unit] });
    const s = applyScript({
      manifest: m,
      facts: f,
      tasks: [
        { name: 'sysctl', changes: [{ summary: 's', diff: '', ops: [file('/etc/a.conf')] }], verify: 'echo VERIFY-A' },
        { name: 'tables', changes: [] },
        {
          name: 'persistence',
          changes: [
            { summary: 'b', diff: '', ops: [file('/etc/b.conf')] },
            { summary: 'u', diff: '', ops: [units('x.service', 'start')] },
          ],
          verify: 'echo VERIFY-B',
        },
        { name: 'failover', changes: [{ summary: 'u2', diff: '', ops: [units('x.service', 'restart')] }] },
      ],
      keepSnapshots: 5,
      confirmSeconds: 90,
      leaseSeconds: 606,
    });
    // Leased; saved, listed, on disk; armed beyond the lease; pending; boot hook; applying; the
    // changes; re-armed for the confirm timeout.
    const order = [
      "edge_lease_take 606 'none rolled-back pruned'",
      'edge_save_file /etc/systemd/system-generators/edge-boot-restore',
      'edge_save_file /etc/a.conf',
      'edge_save_file /etc/b.conf',
      'manifest.json',
      'restore.sh',
      'sync -f',
      'edge_hold sysctl:snapshot',
      'systemd-run',
      'edge_put /var/lib/edge/pending',
      'edge_write_file /etc/systemd/system-generators/edge-boot-restore',
      'state applying',
      'tail -n +5',
      "echo '@@EDGE-STEP@@ 0 apply' >&2",
      'edge_hold sysctl:change-1',
      'edge_write_file /etc/a.conf',
      'edge_hold sysctl:done',
      "echo '@@EDGE-STEP@@ 2 apply' >&2",
      'edge_write_file /etc/b.conf',
      'systemctl daemon-reload',
      "echo '@@EDGE-STEP@@ 2 units' >&2",
      'edge_hold persistence:change-2',
      'systemctl start x.service',
      "echo '@@EDGE-STEP@@ 3 units' >&2",
      "echo '@@EDGE-STEP@@ 0 verify' >&2",
      'echo VERIFY-A',
      'edge_hold persistence:verify',
      'echo VERIFY-B',
      '--on-active=90s',
      'state applied',
    ];
    // Armed beyond the exec's lease before the first change, re-armed to the confirm timeout at its end.
    expect(s).toContain(`--unit=edge-confirm-20261123T000000Z-abcd --on-active=${606 + LEASE_MARGIN_SEC + 90}s`);
    expect(s.split('systemd-run').length).toBe(3);
    expect(s.split('systemctl daemon-reload').length).toBe(2);
    expect(s).not.toContain('systemctl restart x.service');
    expect(restoreScript(m)).toContain('systemctl stop edge-confirm-20261123T000000Z-abcd.timer');
    expect(order.filter((o) => !s.includes(o))).toEqual([]);
    const idx = order.map((o) => s.indexOf(o));
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
    expect(spawnSync('bash', ['-n'], { input: s }).status).toBe(0);
  });

  it('packages: the scope marks the manifest and the baseline; the restore purges after the files, before the reload and the unit states', () => {
    const m = emptyManifest('20261123T204501Z-1a2b3c4d', 'r1');
    const sh = extendSnapshot(m, { packages: ['prometheus-node-exporter'], units: ['prometheus-node-exporter.service'] }, f);
    expect(m.packages).toEqual(['prometheus-node-exporter']);
    expect(sh).toContain(`edge_baseline ${Buffer.from('packages:apt').toString('hex')} '{"kind":"packages"}'`);
    expect(extendSnapshot(m, { packages: ['prometheus-node-exporter'] }, f)).toBe(''); // once
    const r = restoreScript(m);
    expect(spawnSync('bash', ['-n'], { input: r }).status).toBe(0);
    const at = (x: string) => r.indexOf(x);
    expect(at('edge_pkgs_restore "$D/pkgs"')).toBeGreaterThan(at('step files'));
    expect(at('step packages')).toBeLessThan(at('systemctl daemon-reload'));
    expect(at('edge_pkgs_restore "$D/pkgs"')).toBeLessThan(at('step unit states'));
    expect(r).toContain('edge_pkgs_restore() {');
    // a run without apt carries none of it
    expect(restoreScript(emptyManifest('20261123T204501Z-1a2b3c4d', 'r1'))).not.toContain('edge_pkgs_');
    // the baseline: one item says some run recorded packages
    const b = baselineManifest([{ kind: 'packages' }], 'r1');
    expect(b.packages).toEqual([]);
    expect(restoreScript(b)).toContain('edge_pkgs_restore "$D/pkgs"');
  });

  it('the rollback names every package the restore removed', () => {
    expect(removedPackagesNote('EDGE-BOOT-ID x\nEDGE-PKGS-REMOVED conntrack libnfnetlink0 \n')).toBe('; removed the packages edge had installed: conntrack, libnfnetlink0');
    expect(removedPackagesNote('nothing\n')).toBe('');
  });

  it('turns rules and routes back into ip arguments', () => {
    expect(ruleArgs({ priority: 1000, src: 'all', table: 'main', suppressPrefixlen: 0, raw: '' }, {})).toBe(
      'pref 1000 from all lookup main suppress_prefixlength 0',
    );
    expect(ruleArgs({ priority: 1020, src: '198.51.100.10', table: 'wan1', raw: '' }, { '101': 'wan1' })).toBe(
      'pref 1020 from 198.51.100.10 lookup 101',
    );
    expect(routeArgs({ table: '101', dst: 'default', gateway: '192.0.2.1', dev: 'eth0', flags: ['onlink'], metric: 5, scope: 'global' })).toBe(
      'default via 192.0.2.1 dev eth0 metric 5 onlink',
    );
  });

  it('restore: a rule a daemon put back first counts as restored; any other refusal fails the restore', () => {
    const bin = mkdtempSync(join(tmpdir(), 'edge-rule-'));
    // a fake ip: "File exists" for pref 1000, "Invalid argument" for anything else
    writeFileSync(
      join(bin, 'ip'),
      `#!/bin/bash\n[ "$5" = 1000 ] && { echo 'RTNETLINK answers: File exists' >&2; exit 2; }\necho 'RTNETLINK answers: Invalid argument' >&2; exit 2\n`,
      { mode: 0o755 },
    );
    const run = (pref: number) =>
      spawnSync('bash', ['-c', `rc=0\n${RULE_RESTORE_FUNCTION}\nedge_rule_add -4 pref ${pref} from all lookup main\necho rc=$rc`], {
        encoding: 'utf8',
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      });
    expect(run(1000)).toMatchObject({ stdout: 'rc=0\n', stderr: '' });
    const bad = run(1010);
    expect(bad.stdout).toBe('rc=1\n');
    expect(bad.stderr).toContain('edge restore: failed: ip -4 rule add pref 1010 from all lookup main (RTNETLINK answers: Invalid argument)');
    rmSync(bin, { recursive: true, force: true });
  });
});

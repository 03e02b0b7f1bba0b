import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseFacts, parseFile, parseLinkedDirs, parseNetworkManager, parseRules, parseUnits } from '../../../src/facts/parse.js';
import { probeScript } from '../../../src/facts/probe.js';
import { mergeNeeds } from '../../../src/facts/types.js';

describe('facts probe and parser', () => {
  it('gathers and parses a real host (this machine) in one script', () => {
    const needs = mergeNeeds({
      files: ['/etc/hostname', '/etc/does-not-exist-edge', '/etc'],
      sysctl: ['net.ipv4.ip_forward', 'net.nonexistent.key'],
      packages: ['bash', 'edge-no-such-package'],
      units: [],
      nftTables: [],
    });
    const out = spawnSync('bash', ['-s'], { input: probeScript(needs), encoding: 'utf8' });
    expect(out.status).toBe(0);
    const f = parseFacts('local', out.stdout, needs);
    expect(f.interfaces.find((i) => i.name === 'lo')?.addresses.some((a) => a.address === '127.0.0.1')).toBe(true);
    expect(f.routes.some((r) => r.table === 'local')).toBe(true);
    expect(f.rules.map((r) => r.priority)).toContain(32766);
    expect(f.rules.find((r) => r.priority === 32766)?.raw).toBe('from all lookup main');
    expect(f.sysctl['net.ipv4.ip_forward']).toMatch(/^[01]$/);
    expect('net.nonexistent.key' in f.sysctl).toBe(false);
    expect(f.packages.bash?.installed).toBe(true);
    expect(f.packages['edge-no-such-package']?.installed).toBe(false);
    expect(f.files['/etc/hostname']?.exists).toBe(true);
    expect(f.files['/etc/does-not-exist-edge']?.exists).toBe(false);
    expect(f.files['/etc']?.isDirectory).toBe(true);
    expect(f.os.id).toBe('debian');
    expect(f.rtTables['254']).toBe('main');
  });

  it('keeps file mode, owner and exact content', () => {
    const content = 'a\n\tb  \n\n';
    const f = parseFile('/x', `file 600 root adm\n${Buffer.from(content).toString('base64')}`);
    expect(f).toEqual({ path: '/x', exists: true, mode: '0600', owner: 'root', group: 'adm', content });
  });

  it('parses ip -j rule with marks, masks, suppress and raw text', () => {
    const json = JSON.stringify([
      { priority: 0, src: 'all', table: 'local' },
      { priority: 1000, src: 'all', table: 'main', suppress_prefixlen: 0 },
      { priority: 1010, src: 'all', fwmark: '0x1', table: 'wan1' },
      { priority: 1011, src: 'all', fwmark: '0x2', fwmask: '0xff', table: 'wan2' },
      { priority: 1020, src: '198.51.100.10', srclen: 32, table: 'wan1' },
      { priority: 1030, src: 'all', fwmark: '0x1', action: 'unreachable' },
    ]);
    const text = '0:\tfrom all lookup local\n1000:\tfrom all lookup main suppress_prefixlength 0\n1010:\tfrom all fwmark 0x1 lookup wan1\n';
    const rules = parseRules(json, text);
    expect(rules[1]).toMatchObject({ priority: 1000, suppressPrefixlen: 0, raw: 'from all lookup main suppress_prefixlength 0' });
    expect(rules[3]?.fwmark).toBe('0x2/0xff');
    expect(rules[4]?.src).toBe('198.51.100.10/32');
    expect(rules[5]?.action).toBe('unreachable');
  });

  it('tells network managers apart', () => {
    expect(parseNetworkManager('systemd-networkd active\nNetworkManager inactive\nnetworking inactive\n')).toBe('systemd-networkd');
    expect(parseNetworkManager('systemd-networkd inactive\nnetworking active\nifupdown-config 4\n')).toBe('ifupdown');
    expect(parseNetworkManager('NetworkManager active\n')).toBe('NetworkManager');
    expect(parseNetworkManager('systemd-networkd inactive\nifupdown-config 0\n')).toBe('unknown');
  });

  it('parses systemctl show blocks for wanted units', () => {
    const u = parseUnits(
      'Id=keepalived.service\nLoadState=loaded\nActiveState=active\nUnitFileState=enabled\n\nId=nope.service\nLoadState=not-found\nActiveState=inactive\nUnitFileState=\n',
      ['keepalived', 'nope'],
    );
    expect(u.keepalived).toEqual({ name: 'keepalived', load: 'loaded', active: 'active', enabled: 'enabled' });
    expect(u.nope?.load).toBe('not-found');
  });
});

describe('directories on the way to a managed file that are symbolic links', () => {
  it('the probe asks about every directory above each file, and reads the links it finds (real bash)', () => {
    const script = probeScript({ files: ['/etc/edge/edge.nft', '/etc/systemd/system/edge-probe.service'], sysctl: [], packages: [], units: [], nftTables: [] });
    expect(script).toContain("for d in /etc /etc/edge /etc/systemd /etc/systemd/system; do");
    expect(parseLinkedDirs('/etc/edge\t/root/evil\n/etc/x\t../y z\n')).toEqual({ '/etc/edge': '/root/evil', '/etc/x': '../y z' });
    expect(parseLinkedDirs(undefined)).toEqual({});
  });
});


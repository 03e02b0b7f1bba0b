import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadInventory } from '../../../src/inventory/load.js';
import { renderScalar, setHostVarsInText, writeHostVars } from '../../../src/inventory/write-vars.js';

const INVENTORY = `# Routers of the test fleet.
# (comments, blank lines and odd spacing must all survive)
all:
  vars:
    ansible_user: ops   # who edge logs in as
    edge_mgmt_subnets: [ 198.51.100.0/24 ]
  children:
    site:
      vars:
        # the usual wiring at this site
        edge_wan1_interface: eth1
        edge_wan2_interface: eth2
        edge_lan_interface: eth0
        edge_window: { days: [tue], start: "02:00", end: "04:00", timezone: Europe/Amsterdam }
      hosts:
        r1:
        r2: # spare router
        r3: ~
        r4:
          ansible_host: 203.0.113.4  # behind NAT
          edge_wan2_interface: 'eth3'

        r5: {ansible_host: 203.0.113.5}
        edge[01:02]:
`;

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});
function tempInventory(text: string): string {
  dir = mkdtempSync(path.join(tmpdir(), 'edge-pick-'));
  const file = path.join(dir, 'inv.yaml');
  writeFileSync(file, text);
  return file;
}

const ifs = (wan1: string, wan2: string, lan: string, mgmt?: string) => ({
  edge_wan1_interface: wan1,
  edge_wan2_interface: wan2,
  edge_lan_interface: lan,
  ...(mgmt ? { edge_mgmt_interface: mgmt } : {}),
});

describe('writing interface variables into the inventory in place', () => {
  it('fills bare, commented and ~ hosts, edits existing values, keeps everything else byte for byte', () => {
    const { text, exact } = setHostVarsInText(INVENTORY, 'inv.yaml', {
      r1: ifs('enp1s0', 'enp2s0', 'enp3s0', 'enp4s0'),
      r2: { edge_wan1_interface: 'wan1' },
      r3: { edge_lan_interface: 'lan0' },
      r4: ifs('eth1', 'eth4', 'eth0'),
    });
    expect(exact).toBe(true);
    expect(text).toBe(`# Routers of the test fleet.
# (comments, blank lines and odd spacing must all survive)
all:
  vars:
    ansible_user: ops   # who edge logs in as
    edge_mgmt_subnets: [ 198.51.100.0/24 ]
  children:
    site:
      vars:
        # the usual wiring at this site
        edge_wan1_interface: eth1
        edge_wan2_interface: eth2
        edge_lan_interface: eth0
        edge_window: { days: [tue], start: "02:00", end: "04:00", timezone: Europe/Amsterdam }
      hosts:
        r1:
          edge_wan1_interface: enp1s0
          edge_wan2_interface: enp2s0
          edge_lan_interface: enp3s0
          edge_mgmt_interface: enp4s0
        r2: # spare router
          edge_wan1_interface: wan1
        r3:
          edge_lan_interface: lan0
        r4:
          ansible_host: 203.0.113.4  # behind NAT
          edge_wan2_interface: 'eth4'
          edge_wan1_interface: eth1
          edge_lan_interface: eth0

        r5: {ansible_host: 203.0.113.5}
        edge[01:02]:
`);
  });

  it('a flow-mapping host stays a flow mapping; a host from a range gets its own entry beside it', () => {
    const { text, exact } = setHostVarsInText(INVENTORY, 'inv.yaml', { r5: { edge_lan_interface: 'eth9' }, edge02: ifs('a', 'b', 'c') });
    expect(exact).toBe(true);
    expect(text).toContain('        r5: {ansible_host: 203.0.113.5, edge_lan_interface: eth9}\n        edge[01:02]:\n        edge02:\n          edge_wan1_interface: a\n          edge_wan2_interface: b\n          edge_lan_interface: c\n');
    // everything before r5 untouched
    expect(text.slice(0, INVENTORY.indexOf('        r5:'))).toBe(INVENTORY.slice(0, INVENTORY.indexOf('        r5:')));
  });

  it('the file re-loads through loadInventory with the new values in effect (host vars win over group vars)', () => {
    const file = tempInventory(INVENTORY);
    chmodSync(file, 0o640);
    const r = writeHostVars(file, { r1: ifs('enp1s0', 'enp2s0', 'enp3s0'), r4: { edge_wan2_interface: 'eth4' }, edge01: { edge_lan_interface: 'eth7' } });
    expect(r.exact).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o640);
    const inv = loadInventory(file);
    const v = (h: string) => {
      const x = inv.hosts.get(h)!.vars;
      return [x.edge_wan1_interface, x.edge_wan2_interface, x.edge_lan_interface];
    };
    expect(v('r1')).toEqual(['enp1s0', 'enp2s0', 'enp3s0']);
    expect(inv.hosts.get('r1')!.varSources.edge_wan1_interface!.scope).toBe('host');
    expect(v('r4')).toEqual(['eth1', 'eth4', 'eth0']);
    expect(v('edge01')).toEqual(['eth1', 'eth2', 'eth7']);
    expect(v('edge02')).toEqual(['eth1', 'eth2', 'eth0']); // its range sibling is untouched
    expect(v('r2')).toEqual(['eth1', 'eth2', 'eth0']); // group values still apply to the others
    expect([...inv.hosts.keys()]).toEqual(['r1', 'r2', 'r3', 'r4', 'r5', 'edge01', 'edge02']);
    expect(readFileSync(file, 'utf8')).toContain('        r2: # spare router\n        r3: ~\n');
  });

  it('a later listing of a host that sets the variable is the one edited (it is the one that wins)', () => {
    const text = `all:
  hosts:
    r1:
      edge_lan_interface: eth0
  children:
    g:
      hosts:
        r1:
          edge_lan_interface: eth5 # wins
`;
    const out = setHostVarsInText(text, 'inv.yaml', { r1: { edge_lan_interface: 'eth6', edge_wan1_interface: 'eth1' } }).text;
    expect(out).toBe(`all:
  hosts:
    r1:
      edge_lan_interface: eth0
      edge_wan1_interface: eth1
  children:
    g:
      hosts:
        r1:
          edge_lan_interface: eth6 # wins
`);
  });

  it('removing a variable drops its line(s) from every listing of the host; an emptied host is bare again', () => {
    const text = 'all:\n  hosts:\n    r1:\n      edge_mgmt_interface: eth3  # old\n    r2:\n      ansible_host: 192.0.2.2\n      edge_mgmt_interface: eth3\n';
    const out = setHostVarsInText(text, 'inv.yaml', { r1: { edge_mgmt_interface: undefined }, r2: { edge_mgmt_interface: undefined } });
    expect(out).toEqual({ text: 'all:\n  hosts:\n    r1:\n    r2:\n      ansible_host: 192.0.2.2\n', exact: true });
  });

  it('keeps a 4-space indented file 4-space indented', () => {
    const text = 'all:\n    hosts:\n        r1:\n        r2:\n            ansible_host: 192.0.2.2\n';
    const out = setHostVarsInText(text, 'inv.yaml', { r1: { edge_lan_interface: 'eth0' }, r2: { edge_lan_interface: 'eth0' } }).text;
    expect(out).toBe('all:\n    hosts:\n        r1:\n            edge_lan_interface: eth0\n        r2:\n            ansible_host: 192.0.2.2\n            edge_lan_interface: eth0\n');
  });

  it('a file without a final newline', () => {
    const out = setHostVarsInText('all:\n  hosts:\n    r1:', 'inv.yaml', { r1: { edge_lan_interface: 'eth0' } });
    expect(out).toEqual({ text: 'all:\n  hosts:\n    r1:\n      edge_lan_interface: eth0\n', exact: true });
  });

  it('the repository inventory prod.yaml: only the new line appears', () => {
    const prod = readFileSync(new URL('../../../inventories/prod.yaml', import.meta.url), 'utf8');
    const out = setHostVarsInText(prod, 'prod.yaml', { 'rtr-nyc-1': { edge_lan_interface: 'eth5' }, 'rtr-ams-2': { edge_wan2_interface: 'eth0.30' } });
    expect(out.exact).toBe(true);
    const before = prod.split('\n');
    const after = out.text.split('\n');
    expect(after.length).toBe(before.length + 1);
    expect(after.filter((l) => !before.includes(l))).toEqual(['              edge_wan2_interface: eth0.30', '              edge_lan_interface: eth5']);
  });

  it('quotes values YAML 1.1 would read as something else', () => {
    expect(renderScalar('eth0')).toBe('eth0');
    expect(renderScalar('eth0.20')).toBe('eth0.20');
    expect(renderScalar('on')).toBe('"on"');
    expect(renderScalar('1')).toBe('"1"');
    expect(renderScalar('@x')).toBe('"@x"');
  });

  it('refuses to edit a host whose variables are a YAML alias (the edit would change every user of the anchor)', () => {
    const text = 'all:\n  vars:\n    x: &common {ansible_user: ops}\n  hosts:\n    r1: *common\n';
    expect(() => setHostVarsInText(text, 'inv.yaml', { r1: { edge_lan_interface: 'eth0' } })).toThrow(/not a mapping \(a YAML alias\)/);
    const anchored = 'all:\n  hosts:\n    r1: &a\n      ansible_user: x\n    r2: *a\n';
    expect(() => setHostVarsInText(anchored, 'inv.yaml', { r1: { edge_lan_interface: 'eth0' } })).toThrow(/the anchor &a, which other entries share/);
  });

  it('refuses a host the inventory does not have', () => {
    expect(() => setHostVarsInText(INVENTORY, 'inv.yaml', { r9: { edge_lan_interface: 'eth0' } })).toThrow(/no host r9 in inv.yaml/);
  });
});

import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inventoryOutput } from '../../../src/commands/inventory.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { resolveInventoryPath } from '../../../src/inventory/resolve-path.js';
import { errorsOf } from './helpers.js';

describe('shipped inventories', () => {
  it('inventories/prod.yaml: three routers by site, each site its own window and time zone', () => {
    const inv = loadInventory('prod');
    expect(inv.file).toBe(path.join('inventories', 'prod.yaml'));
    expect([...inv.hosts.keys()]).toEqual(['rtr-ams-1', 'rtr-ams-2', 'rtr-nyc-1']);
    const ams = inv.hosts.get('rtr-ams-1')!.vars;
    const nyc = inv.hosts.get('rtr-nyc-1')!.vars;
    expect(ams.edge_window?.timezone).toBe('Europe/Amsterdam');
    expect(nyc.edge_window?.timezone).toBe('America/New_York');
    for (const h of inv.hosts.values()) expect(h.vars.ansible_host).toMatch(/^203\.0\.113\.\d+$/);
    expect(inv.hosts.get('rtr-ams-2')!.vars.edge_wan2_interface).toBe('eth0.20');
  });

  it('inventories/example-ansible.yaml loads unchanged', () => {
    const inv = loadInventory('example-ansible');
    expect([...inv.hosts.keys()]).toEqual(['bastion.example.net', 'edge01.example.net', 'edge02.example.net', 'edge03.example.net']);
    const e3 = inv.hosts.get('edge03.example.net')!;
    expect(e3.groups).toEqual(['all', 'routers', 'branch']);
    expect(e3.vars).toMatchObject({ ansible_become: true, ansible_port: 2222, ansible_user: 'ops', snmp_community: 'public' });
    expect(inv.hosts.get('edge01.example.net')!.groups).toEqual(['all', 'monitoring', 'routers']);
  });

  it('edge inventory --json prints ansible-inventory --list', () => {
    const out = JSON.parse(inventoryOutput({ inventory: 'prod', json: true, limit: 'ams' }));
    expect(Object.keys(out._meta.hostvars)).toEqual(['rtr-ams-1', 'rtr-ams-2']);
    expect(out.all).toEqual({ children: ['routers'] });
    expect(out.routers).toEqual({ children: ['ams'] });
    expect(out.ams).toEqual({ hosts: ['rtr-ams-1', 'rtr-ams-2'] });
    expect(out.nyc).toBeUndefined();
    // only what is written: edge's defaults are never mixed into host variables
    expect(out._meta.hostvars['rtr-ams-1'].edge_ssh_port).toBeUndefined();
  });

  it("edge inventory --json --resolved shows edge's view apart: defaults filled in, and sources", () => {
    const out = JSON.parse(inventoryOutput({ inventory: 'prod', json: true, resolved: true, limit: 'rtr-ams-2' }));
    expect(Object.keys(out.hosts)).toEqual(['rtr-ams-2']);
    expect(out.hosts['rtr-ams-2'].vars.edge_ssh_port).toBe(22);
    expect(out.hosts['rtr-ams-2'].sources.edge_wan2_interface).toMatchObject({ file: 'inventories/prod.yaml', scope: 'host' });
    expect(out.hosts['rtr-ams-2'].sources.edge_ssh_port).toBeUndefined();
  });

  it('-e wins over every other source and edge inventory says where it came from', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-extra-'));
    writeFileSync(path.join(dir, 'more.yml'), 'edge_health_rise: 7\n');
    const opts = { inventory: 'prod', host: 'rtr-ams-2', extraVars: ['edge_wan2_interface=eth9 site_note="a b"', `@${path.join(dir, 'more.yml')}`] };
    const out = inventoryOutput(opts);
    expect(out).toMatch(/^ {2}edge_wan2_interface: eth9 +# extra vars \(-e\), --extra-vars #1:1:21$/m);
    expect(out).toMatch(/^ {2}edge_health_rise: 7 +# extra vars \(-e\), .*more\.yml:1:19$/m);
    const json = JSON.parse(inventoryOutput({ ...opts, json: true }));
    expect(json).toMatchObject({ edge_wan2_interface: 'eth9', site_note: 'a b', edge_health_rise: 7 });
    expect(errorsOf(() => inventoryOutput({ ...opts, extraVars: ['edge_health_rise=x'] }))).toEqual([
      '--extra-vars #1:1:18: edge_health_rise: expected a number, got "x"\n  hint: for hosts rtr-ams-1, rtr-ams-2, rtr-nyc-1',
    ]);
  });

  it('edge inventory --host NAME --json prints that host\'s variables', () => {
    const out = JSON.parse(inventoryOutput({ inventory: 'prod', json: true, host: 'rtr-nyc-1' }));
    expect(out.ansible_host).toBe('203.0.113.21');
  });

  it('edge inventory text says where each value came from', () => {
    const out = inventoryOutput({ inventory: 'prod', host: 'rtr-ams-2' });
    expect(out).toMatch(/^ {2}edge_wan2_interface: eth0\.20 +# host, inventories\/prod\.yaml:\d+:\d+$/m);
    expect(out).toMatch(/^ {2}edge_window: .*Europe\/Amsterdam.*# group ams, inventories\/prod\.yaml:\d+:\d+$/m);
    expect(out).toMatch(/# defaults:\n(.|\n)*edge_ssh_port: 22/);
    expect(errorsOf(() => inventoryOutput({ inventory: 'prod', host: 'rtr-ams-3' }))).toEqual([
      '--host: no host rtr-ams-3 in inventories/prod.yaml; did you mean rtr-ams-1?',
    ]);
  });
});

describe('resolveInventoryPath', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-inv-'));
  mkdirSync(path.join(dir, 'inventories'));
  writeFileSync(path.join(dir, 'inventories', 'lab.yml'), 'all: {}\n');
  writeFileSync(path.join(dir, 'other.yaml'), 'all: {}\n');

  it('maps a bare name to inventories/NAME.yaml or .yml', () => {
    expect(resolveInventoryPath('lab', dir)).toBe(path.join('inventories', 'lab.yml'));
  });

  it('takes anything else as a path', () => {
    expect(resolveInventoryPath('other.yaml', dir)).toBe('other.yaml');
    expect(resolveInventoryPath('./inventories/lab.yml', dir)).toBe('./inventories/lab.yml');
  });

  it('a missing inventory is a usage error naming where it looked', () => {
    expect(errorsOf(() => resolveInventoryPath('prod', dir))).toEqual([
      'inventory not found: prod\n  hint: looked for inventories/prod.yaml, inventories/prod.yml and ./prod',
    ]);
  });
});

import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadInventory } from '../../../src/inventory/load.js';
import { renderInventory } from '../../../src/lab/inventory.js';
import { labPlan } from '../../../src/lab/plan.js';

const files = { key: '/var/lib/edge-lab/ssh/id_ed25519', knownHosts: '/var/lib/edge-lab/ssh/known_hosts' };

describe('lab inventory', () => {
  const text = renderInventory(labPlan(3), files);

  it('starts with the schema modeline and is deterministic', () => {
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=./inventory.schema.json');
    expect(renderInventory(labPlan(3), files)).toBe(text);
  });

  it('is an Ansible inventory: group lab, hosts r1..rN at their management addresses, the lab key and known_hosts', () => {
    const doc = parse(text) as { all: { children: { lab: { vars: Record<string, unknown>; hosts: Record<string, { ansible_host: string }> } } } };
    const lab = doc.all.children.lab;
    expect(Object.keys(lab.hosts)).toEqual(['r1', 'r2', 'r3']);
    expect(lab.hosts.r3!.ansible_host).toBe('198.18.0.13');
    expect(lab.vars).toEqual({
      ansible_user: 'root',
      ansible_ssh_private_key_file: files.key,
      edge_known_hosts_file: files.knownHosts,
      edge_wan1_interface: 'wan1',
      edge_wan2_interface: 'wan2',
      edge_lan_interface: 'lan0',
      edge_mgmt_interface: 'mgmt0',
      edge_mgmt_subnets: ['198.18.0.0/24'],
      edge_wan1_targets: ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
      edge_wan2_targets: ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
      edge_wan1_targets6: ['2001:db8:ffff::1', '2001:db8:ffff::2', '2001:db8:ffff::3'],
      edge_wan2_targets6: ['2001:db8:ffff::1', '2001:db8:ffff::2', '2001:db8:ffff::3'],
    });
  });

  it("loads with edge's own inventory loader, the lab targets overriding the public defaults", () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-lab-inv-'));
    mkdirSync(join(dir, 'inventories'));
    writeFileSync(join(dir, 'inventories', 'lab.yaml'), renderInventory(labPlan(2, 1), files));
    const inv = loadInventory('lab', dir);
    expect([...inv.hosts.keys()]).toEqual(['r1', 'r2']);
    const r2 = inv.hosts.get('r2')!;
    expect(r2.vars).toMatchObject({
      ansible_host: '198.18.1.12',
      edge_wan1_targets: ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
      edge_mgmt_subnets: ['198.18.1.0/24'],
      edge_wan1_interface: 'wan1',
    });
  });
});

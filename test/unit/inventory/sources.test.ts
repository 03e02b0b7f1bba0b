import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { parseInventory, loadInventory } from '../../../src/inventory/load.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { resolvePlayHosts } from '../../../src/playbook/play-hosts.js';
import { errorsOf } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'edge-sources-'));
const write = (name: string, text: string) => {
  const p = path.join(dir, name);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, text);
  return name;
};
const load = (sources: string[], extraVars: string[] = []) => loadInventory(sources, { cwd: dir, extraVars });

describe('inventory sources as Ansible reads them', () => {
  it('an INI file with a YAML-looking name is read by its content', () => {
    write('hosts.yml', '[web]\nw1 ansible_port=2222\n');
    expect(load(['hosts.yml']).hosts.get('w1')!.vars.ansible_port).toBe(2222);
  });

  it('INI errors name file:line:col', () => {
    write('bad.ini', '[web]\nw1\n[web:children]\nmissing\n');
    expect(errorsOf(() => load(['bad.ini']))).toEqual(['bad.ini:4:1: section [web:children] includes undefined group: missing']);
    write('bad2.ini', '[web]\nw1 novalue\n');
    expect(errorsOf(() => load(['bad2.ini']))).toEqual(['bad2.ini:2:1: expected key=value host variable assignment, got: novalue']);
    write('bad3.ini', '[web]\nw1 edge_ssh_port=0\n');
    expect(errorsOf(() => load(['bad3.ini']))).toEqual(['bad3.ini:2:4: web.hosts.w1.edge_ssh_port: expected a number >= 1, got 0']);
  });

  it('a YAML file that is neither YAML nor INI reports the YAML error', () => {
    write('broken.yaml', 'all:\n  hosts: [1, 2\n  vars: {}\n');
    expect(errorsOf(() => load(['broken.yaml']))[0]).toMatch(/^broken\.yaml:3:3: YAML syntax error/);
  });

  it('vault-encrypted vars files and values are refused, never skipped', () => {
    write('v/inv.yml', 'all:\n  hosts:\n    h1:\n');
    write('v/group_vars/all.yml', '$ANSIBLE_VAULT;1.1;AES256\n6162\n');
    expect(errorsOf(() => load(['v/inv.yml']))[0]).toMatch(/^v\/group_vars\/all\.yml:1:1: v\/group_vars\/all\.yml is encrypted with Ansible Vault\n {2}hint: edge does not decrypt/);
    write('w/inv.yml', 'all:\n  hosts:\n    h1:\n      secret: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n        6162\n');
    expect(errorsOf(() => load(['w/inv.yml']))[0]).toMatch(/^w\/inv\.yml:4:15: YAML tag error: !vault: Ansible Vault values are not supported/);
  });

  it('inventory scripts and plugin configurations are refused with what to do instead', () => {
    write('dyn.py', '#!/usr/bin/env python3\nprint("{}")\n');
    chmodSync(path.join(dir, 'dyn.py'), 0o755);
    expect(errorsOf(() => load(['dyn.py']))[0]).toMatch(/edge does not run inventory scripts\n {2}hint: convert it once with `ansible-inventory -i dyn\.py --list --yaml --output inventory\.yaml`/);
    write('aws.yml', 'plugin: amazon.aws.aws_ec2\n');
    expect(errorsOf(() => load(['aws.yml']))[0]).toMatch(/configures the inventory plugin "amazon\.aws\.aws_ec2": edge does not run inventory plugins/);
  });

  it('a bad vars file names itself', () => {
    write('l/inv.yml', 'all:\n  hosts:\n    h1:\n');
    write('l/host_vars/h1.yml', '- a list\n');
    expect(errorsOf(() => load(['l/inv.yml']))).toEqual(['l/host_vars/h1.yml:1:1: l/host_vars/h1.yml: expected a mapping of variables (name: value), got a list']);
  });
});

describe('-e/--extra-vars', () => {
  write('e/inv.yml', 'all:\n  hosts:\n    h1:\n      edge_health_rise: 4\n');

  it('k=v values are strings, YAML/JSON keeps types, later -e wins', () => {
    const h = load(['e/inv.yml'], ['a=1 b="x y"', '{"a": 2, "c": [1]}', 'd=4']).hosts.get('h1')!;
    expect(h.rawVars).toMatchObject({ a: 2, b: 'x y', c: [1], d: '4' });
  });

  it('refuses what Ansible refuses', () => {
    expect(errorsOf(() => load(['e/inv.yml'], ['./vars.yml']))).toEqual(['--extra-vars: -e ./vars.yml: a file name needs an @ in front: -e @./vars.yml']);
    expect(errorsOf(() => load(['e/inv.yml'], ['[1, 2]']))).toEqual(['--extra-vars: -e "[1, 2]": could not be made into a mapping of variables']);
    expect(errorsOf(() => load(['e/inv.yml'], ['novalue']))[0]).toMatch(/^--extra-vars: -e "novalue": expected key=value, got "novalue"/);
  });

  it('wins over play vars too, and its errors point into the -e text', () => {
    const inv = parseInventory(parseYaml('all:\n  hosts:\n    h1:\n', 'inv.yaml'), { extraVars: ['{edge_health_rise: 6}'] });
    const book = parsePlaybook(parseYaml('hosts: all\nvars: {edge_health_rise: 5}\ntasks: [sysctl]\n', 'pb.yaml'));
    expect(resolvePlayHosts(inv, book, book.plays[0]!)[0]!.vars.edge_health_rise).toBe(6);
    const bad = () => parseInventory(parseYaml('all:\n  hosts:\n    h1:\n', 'inv.yaml'), { extraVars: ['x=1 edge_wan2_mark=0x1'] });
    expect(errorsOf(bad)).toEqual([
      '--extra-vars #1:1:20: h1: edge_wan2_mark: must differ from edge_wan1_mark, got "0x1"',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { parseInventory } from '../../../src/inventory/load.js';

const inv = (text: string) => parseInventory(parseYaml(text, 'inv.yaml'));

// Lines are numbered for the position assertions below.
const TEXT = [
  'all:', //                                  1
  '  vars:', //                               2
  '    v: all', //                            3
  '    only_all: 1', //                       4
  '  children:', //                          5
  '    parent:', //                           6
  '      vars: {v: parent, only_parent: 2}', //7
  '      children:', //                       8
  '        child:', //                        9
  '          vars: {v: child}', //            10
  '          hosts:', //                      11
  '            h1: {v: host}', //             12
  '            h2:', //                       13
  '    b_site:', //                           14
  '      vars: {s: b}', //                    15
  '      hosts: {h3: }', //                   16
  '    a_site:', //                           17
  '      vars: {s: a}', //                    18
  '      hosts: {h3: }', //                   19
  '',
].join('\n');

describe('variable precedence: all < parent group < child group < host', () => {
  const i = inv(TEXT);

  it('host beats child group beats parent group beats all', () => {
    expect(i.hosts.get('h1')!.vars.v).toBe('host');
    expect(i.hosts.get('h2')!.vars.v).toBe('child');
    expect(i.hosts.get('h2')!.vars.only_parent).toBe(2);
    expect(i.hosts.get('h2')!.vars.only_all).toBe(1);
  });

  it('records where each effective value came from', () => {
    const h2 = i.hosts.get('h2')!.varSources;
    expect(h2.v).toMatchObject({ file: 'inv.yaml', line: 10, col: 21, path: 'all.children.parent.children.child.vars.v', scope: 'group', group: 'child' });
    expect(h2.only_all).toMatchObject({ line: 4, col: 15, scope: 'group', group: 'all' });
    expect(i.hosts.get('h1')!.varSources.v).toMatchObject({ line: 12, col: 21, scope: 'host', path: 'all.children.parent.children.child.hosts.h1.v' });
    expect(h2.edge_ssh_port).toBeUndefined(); // defaults have no source
    expect(i.hosts.get('h2')!.vars.edge_ssh_port).toBe(22);
  });

  it('lists groups lowest precedence first, including ancestors', () => {
    expect(i.hosts.get('h1')!.groups).toEqual(['all', 'parent', 'child']);
    expect(i.hosts.get('h3')!.groups).toEqual(['all', 'a_site', 'b_site']);
  });

  it('a host in two sibling groups: the alphabetically later group wins, as in Ansible', () => {
    // b_site is defined first in the file, but a_site < b_site by name, so b_site wins.
    expect(i.hosts.get('h3')!.vars.s).toBe('b');
  });

  it('ansible_group_priority overrides the name order between siblings', () => {
    const j = inv(TEXT.replace('vars: {s: a}', 'vars: {s: a, ansible_group_priority: 10}'));
    expect(j.hosts.get('h3')!.vars.s).toBe('a');
  });

  it('a mapping variable is replaced whole, not merged (Ansible hash_behaviour=replace)', () => {
    const j = inv('all:\n  vars:\n    edge_sysctl: {net.core.a: 1, net.core.b: 2}\n  hosts:\n    r1: {edge_sysctl: {net.core.c: 3}}\n');
    expect(j.hosts.get('r1')!.vars.edge_sysctl).toEqual({ 'net.core.c': 3 });
  });

  it('a host listed with variables in two places: the later listing wins', () => {
    const j = inv('all:\n  children:\n    x:\n      hosts: {r1: {v: 1, w: 1}}\n    y:\n      hosts: {r1: {v: 2}}\n');
    expect(j.hosts.get('r1')!.vars).toMatchObject({ v: 2, w: 1 });
  });

  it('a deeper group beats a shallower one whatever the names', () => {
    const j = inv('all:\n  children:\n    zz:\n      vars: {v: shallow}\n      hosts: {r1: }\n    aa:\n      children:\n        ab:\n          vars: {v: deep}\n          hosts: {r1: }\n');
    expect(j.hosts.get('r1')!.vars.v).toBe('deep');
  });
});

describe('Ansible inventory structure', () => {
  it('groups may sit at the top level beside all, and be defined in several places', () => {
    const j = inv('all:\n  hosts: {r0: }\nsite:\n  hosts: {r1: }\nrouters:\n  children:\n    site:\n      vars: {v: 1}\n');
    expect([...j.groups.keys()]).toEqual(['all', 'ungrouped', 'site', 'routers']);
    expect([...j.groups.get('site')!.parents]).toEqual(['routers']);
    expect([...j.groups.get('routers')!.parents]).toEqual(['all']);
    expect(j.hosts.get('r1')!.vars.v).toBe(1);
    expect([...j.groups.get('ungrouped')!.hosts]).toEqual(['r0']);
    expect([...j.hosts.keys()]).toEqual(['r0', 'r1']);
  });

  it('expands host ranges', () => {
    const j = inv('all:\n  hosts:\n    rtr[08:10]: {x: 1}\n    db-[a:c]:\n    e[1:5:2]:\n');
    expect([...j.hosts.keys()]).toEqual(['rtr08', 'rtr09', 'rtr10', 'db-a', 'db-b', 'db-c', 'e1', 'e3', 'e5']);
    expect(j.hosts.get('rtr09')!.vars.x).toBe(1);
  });

  it('reads YAML 1.1 booleans like Ansible, but keeps times as text', () => {
    const j = inv(
      'all:\n  hosts:\n    r1:\n      ansible_become: yes\n      edge_window: {start: 22:00, end: 04:00, timezone: UTC}\n',
    );
    expect(j.hosts.get('r1')!.vars.ansible_become).toBe(true);
    expect(j.hosts.get('r1')!.vars.edge_window).toMatchObject({ start: '22:00', end: '04:00', days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] });
  });

  it('accepts anchors and merge keys', () => {
    const j = inv('all:\n  hosts:\n    r1: &base {ansible_port: 2222, v: 1}\n    r2:\n      <<: *base\n      v: 2\n');
    expect(j.hosts.get('r2')!.vars).toMatchObject({ ansible_port: 2222, v: 2 });
  });

  it('transformed values validate (edge_wan1_mark given as hex text)', () => {
    const j = inv('all:\n  hosts:\n    r1: {edge_wan1_mark: "0x10"}\n');
    expect(j.hosts.get('r1')!.vars.edge_wan1_mark).toBe(16);
  });
});

import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { formatError } from '../../../src/errors.js';
import { parseInventory, readInventory } from '../../../src/inventory/load.js';
import { edgeErrorsOf, errorsOf } from './helpers.js';

const FIXTURE = 'test/fixtures/inventory/bad-values.yaml';
const inv = (text: string) => parseInventory(parseYaml(text, 'inv.yaml'));

describe('inventory errors name file:line:col, field, and what was expected', () => {
  const errors = errorsOf(() => readInventory(FIXTURE));

  it('reports every problem at once', () => {
    expect(errors).toHaveLength(3);
  });

  it('a bad IPv4 address in a list points at the list item', () => {
    expect(errors).toContain(
      `${FIXTURE}:8:40: all.children.edge.hosts.r1.edge_wan1_targets[1]: expected an IPv4 address like 192.0.2.1, got "8.8.8"`,
    );
  });

  it('a wrong type in group vars is reported once, naming the hosts it affects', () => {
    expect(errors).toContain(
      `${FIXTURE}:3:23: all.vars.edge_health_rise: expected a number, got "three"\n  hint: for hosts r1, r2`,
    );
  });

  it('an unknown edge_ variable is an error with a suggestion, at the key', () => {
    expect(errors).toContain(
      `${FIXTURE}:9:11: all.children.edge.hosts.r1.edge_wan_interface: unknown edge variable edge_wan_interface; did you mean edge_wan1_interface?`,
    );
  });

  it('other unknown variables are allowed (Ansible inventories carry them)', () => {
    const i = inv('all:\n  hosts:\n    r1:\n      ntp_servers: [a, b]\n      wan_interface: eth1\n');
    expect(i.hosts.get('r1')!.vars.ntp_servers).toEqual(['a', 'b']);
  });

  it('YAML syntax errors carry file:line:col', () => {
    // the parser notices the unclosed [ where the next key starts
    const errs = edgeErrorsOf(() => inv('all:\n  hosts:\n    r1: [1, 2\n  vars: {}\n'));
    expect(errs[0]!.code).toBe('CONFIG');
    expect(errs[0]!.pos).toEqual({ file: 'inv.yaml', line: 4, col: 3 });
    expect(formatError(errs[0])).toBe(
      'inv.yaml:4:3: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    );
  });

  it('duplicate keys are syntax errors (PyYAML would silently keep the last)', () => {
    const errs = edgeErrorsOf(() => inv('all:\n  hosts:\n    r1: {}\n    r1: {}\n'));
    expect(errs[0]!.pos).toEqual({ file: 'inv.yaml', line: 4, col: 5 });
  });

  it('duplicate keys are found in flow mappings and at any depth, each at its key, in file order', () => {
    const errs = edgeErrorsOf(() => inv('all:\n  vars: {a: 1, b: 2, a: 3}\n  hosts:\n    r1: {x: 1}\n    r2: {x: 1, x: 2}\n    r1: {}\n'));
    expect(errs.map((e) => [e.message, e.pos])).toEqual([
      ['YAML syntax error: Map keys must be unique', { file: 'inv.yaml', line: 2, col: 22 }],
      ['YAML syntax error: Map keys must be unique', { file: 'inv.yaml', line: 5, col: 16 }],
      ['YAML syntax error: Map keys must be unique', { file: 'inv.yaml', line: 6, col: 5 }],
    ]);
  });

  it('a variable directly under a group (not under vars:) is a structural error with a hint', () => {
    expect(errorsOf(() => inv('all:\n  hosts: {r1: }\n  edge_wan1_interface: eth1\n'))).toEqual([
      'inv.yaml:3:3: all.edge_wan1_interface: unknown key edge_wan1_interface\n  hint: group keys are hosts, vars and children; variables go under vars:',
    ]);
  });

  it('a cross-variable check on a host value points at that value', () => {
    const text = 'all:\n  hosts:\n    r1:\n      edge_wan2_mark: 1\n';
    expect(errorsOf(() => inv(text))).toEqual(['inv.yaml:4:23: all.hosts.r1.edge_wan2_mark: must differ from edge_wan1_mark, got 1']);
  });

  it('a cross-variable check on a group value names the host it fails for', () => {
    const text = 'all:\n  vars:\n    edge_wan2_mark: "0x1"\n  hosts:\n    r1:\n';
    expect(errorsOf(() => inv(text))).toEqual([
      'inv.yaml:3:21: r1: all.vars.edge_wan2_mark: must differ from edge_wan1_mark, got "0x1"',
    ]);
  });

  it('a wrong type for a connection variable', () => {
    expect(errorsOf(() => inv('all:\n  hosts:\n    r1: {ansible_port: ssh}\n'))).toEqual([
      'inv.yaml:3:24: all.hosts.r1.ansible_port: expected a number, got "ssh"',
    ]);
  });

  it('host names with dots are quoted in the field path', () => {
    expect(errorsOf(() => inv('all:\n  hosts:\n    r1.example.net: {edge_ssh_port: 0}\n'))).toEqual([
      'inv.yaml:3:37: all.hosts["r1.example.net"].edge_ssh_port: expected a number >= 1, got 0',
    ]);
  });

  it('an empty inventory is an error', () => {
    expect(errorsOf(() => inv('# nothing\n'))).toEqual(['inv.yaml:1:1: the inventory is empty\n  hint: start with `all:` and list hosts under `hosts:`']);
  });

  it('a group that contains itself is refused', () => {
    const text = 'all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n';
    expect(errorsOf(() => inv(text))).toEqual([
      'inv.yaml:7:13: all.children.a.children.b.children.a: group a would contain itself (b is inside a)',
    ]);
  });
});

describe('a tab in the indentation', () => {
  it('is one message at the tab, not the parser\'s follow-on errors', () => {
    const text = 'all:\n  hosts:\n    r1:\n\tansible_host: 192.0.2.1\n    r2:\n      ansible_host: 192.0.2.2\n  vars:\n    x: 1\n';
    expect(errorsOf(() => inv(text))).toEqual([
      'inv.yaml:4:1: YAML syntax error: Tabs are not allowed as indentation\n  hint: YAML indents with spaces only: replace the tab',
    ]);
  });
});

import { errorExitCode } from '../../../src/main.js';
import { describe, expect, it } from 'vitest';
import { collectWarnings } from '../../../src/config/warnings.js';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { resolvePlays, runPlaybook } from '../../../src/engine/run-playbook.js';
import { silentReporter } from '../../../src/engine/types.js';
import { formatError, type EdgeError } from '../../../src/errors.js';
import { selectHosts } from '../../../src/inventory/limit.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { edgeErrorsOf } from '../inventory/helpers.js';

/**
 * Every refusal of issue #10, each as a user would write it: the error is a CONFIG (or USAGE)
 * error naming file:line:col, the field, and why the value is dangerous.
 */

const inv = (text: string) => parseInventory(parseYaml(text, 'inv.yaml'));
const pb = (text: string) => parsePlaybook(parseYaml(text, 'pb.yaml'));

/** One host r1 with the lab's interfaces, plus `extra` lines of its variables. */
function hostInv(...extra: string[]): string {
  return [
    'all:',
    '  hosts:',
    '    r1:',
    '      ansible_host: 192.0.2.10',
    '      edge_wan1_interface: wan1',
    '      edge_wan2_interface: wan2',
    '      edge_lan_interface: lan0',
    ...extra.map((l) => `      ${l}`),
    '',
  ].join('\n');
}
/** Line of the first extra variable in hostInv. */
const EXTRA_LINE = 8;

function only(errors: EdgeError[]): EdgeError {
  expect(errors.map((e) => formatError(e))).toHaveLength(1);
  return errors[0]!;
}

function refused(text: string): EdgeError {
  return only(edgeErrorsOf(() => inv(text)));
}

describe('names follow Ansible rules: no whitespace, control or invisible characters', () => {
  it.each([
    ['a newline (the injection of issue #10)', '"r1\\ntouch /tmp/x #"', 'a newline (U+000A) at character 3'],
    ['a carriage return', '"r1\\r"', 'a carriage return (U+000D)'],
    ['a NUL byte', '"r1\\0"', 'a NUL byte (U+0000)'],
    ['a space', '"r 1"', 'a space (U+0020)'],
    ['a tab', '"r1\\tx"', 'a tab (U+0009)'],
    ['an escape sequence', '"r1\\e[2J"', 'an escape character (U+001B)'],
    ['a right-to-left override', '"r1\\u202Egnp.exe"', 'a bidirectional control (U+202E)'],
    ['a zero-width space', '"r\\u200B1"', 'a zero-width space (U+200B)'],
  ])('a host name with %s is refused at its key', (_, key, what) => {
    const e = refused(`all:\n  hosts:\n    ${key}:\n      ansible_host: 192.0.2.10\n`);
    expect(e.code).toBe('CONFIG');
    expect(e.pos).toEqual({ file: 'inv.yaml', line: 3, col: 5 });
    expect(e.field).toMatch(/^all\.hosts\[/);
    expect(e.message).toContain(`host name contains ${what}`);
    expect(e.message).toContain('names end up in scripts, comments and logs on the router');
  });

  it('a host name starting with "-" is refused (it would read as an option)', () => {
    const e = refused('all:\n  hosts:\n    -oProxyCommand=x:\n');
    expect(formatError(e)).toContain('inv.yaml:3:5: all.hosts["-oProxyCommand=x"]: invalid key: host name starts with "-"');
  });

  it('group and variable names are held to the same rule', () => {
    const g = refused('all:\n  children:\n    "web servers":\n      hosts:\n        r1:\n');
    expect(formatError(g)).toContain('inv.yaml:3:5: all.children["web servers"]: invalid key: group name contains a space');
    const v = refused('all:\n  hosts:\n    r1:\n      "x\\ny": 1\n');
    expect(formatError(v)).toContain('inv.yaml:4:7: all.hosts.r1["x\\ny"]: invalid key: variable name contains a newline');
  });

  it('shell metacharacters without whitespace are allowed in names: they are only ever quoted', () => {
    const i = inv('all:\n  hosts:\n    "r1$(id);`id`\'\\"#":\n      ansible_host: 192.0.2.10\n');
    expect([...i.hosts.keys()]).toEqual(['r1$(id);`id`\'"#']);
  });

  it('play, task and pattern labels refuse control characters', () => {
    const e = edgeErrorsOf(() => pb('- name: "deploy\\e[31m"\n  hosts: all\n  tasks:\n    - name: "x\\ny"\n      verify:\n'));
    expect(e.map((x) => formatError(x))).toEqual([
      expect.stringContaining('pb.yaml:1:9: [0].name: play name contains an escape character (U+001B)'),
      expect.stringContaining('pb.yaml:4:13: [0].tasks[0].name: task name contains a newline (U+000A)'),
    ]);
  });
});

describe('connection values are what they claim to be', () => {
  it('ansible_host must be an IP address or a DNS name', () => {
    const e = refused(hostInv().replace('192.0.2.10', '"$(touch /tmp/x)"'));
    expect(formatError(e)).toMatch(/inv\.yaml:4:21: all\.hosts\.r1\.ansible_host: expected an IP address or a DNS name/);
    expect(inv(hostInv()).hosts.get('r1')!.vars.ansible_host).toBe('192.0.2.10');
    expect(inv(hostInv().replace('192.0.2.10', 'rtr-1.example.net')).hosts.get('r1')!.vars.ansible_host).toBe('rtr-1.example.net');
    expect(inv(hostInv().replace('192.0.2.10', '"2001:db8::1"')).hosts.get('r1')!.vars.ansible_host).toBe('2001:db8::1');
  });

  it('ansible_user must be a user name', () => {
    const e = refused(hostInv('ansible_user: "root;id"'));
    expect(formatError(e)).toContain(`inv.yaml:${EXTRA_LINE}:21: all.hosts.r1.ansible_user: expected a user name`);
  });

  it('key and known_hosts paths refuse control characters', () => {
    const e = refused(hostInv('ansible_ssh_private_key_file: "/k\\ney"'));
    expect(formatError(e)).toContain(`inv.yaml:${EXTRA_LINE}:37: all.hosts.r1.ansible_ssh_private_key_file: key file path contains a newline`);
  });
});

describe('refuse what would hurt', () => {
  it.each([
    ['wan1', 'the management interface cannot be a WAN', 'open to the internet'],
    ['wan2', 'the management interface cannot be a WAN', 'open to the internet'],
    ['lan0', 'the management interface cannot be the LAN', 'every LAN client would get management access'],
  ])('edge_mgmt_interface: %s is refused with why', (ifname, what, why) => {
    const e = refused(hostInv(`edge_mgmt_interface: ${ifname}`));
    expect(e.pos).toEqual({ file: 'inv.yaml', line: EXTRA_LINE, col: 28 });
    expect(e.field).toBe('all.hosts.r1.edge_mgmt_interface');
    expect(e.message).toContain(what);
    expect(e.message).toContain(why);
  });

  it('WAN1, WAN2 and LAN are distinct, reported at the later variable', () => {
    const text = hostInv().replace('edge_wan2_interface: wan2', 'edge_wan2_interface: wan1');
    const e = refused(text);
    expect(formatError(e)).toContain('inv.yaml:6:28: all.hosts.r1.edge_wan2_interface: is "wan1", the same as edge_wan1_interface: refused — WAN1 and WAN2 must be different');
    const lan = refused(hostInv().replace('edge_lan_interface: lan0', 'edge_lan_interface: wan2'));
    expect(formatError(lan)).toContain('inv.yaml:7:27: all.hosts.r1.edge_lan_interface: is "wan2", the same as edge_wan2_interface: refused — the LAN cannot be a WAN');
  });

  it('a management interface of its own is fine', () => {
    expect(inv(hostInv('edge_mgmt_interface: mgmt0')).hosts.get('r1')!.vars.edge_mgmt_interface).toBe('mgmt0');
  });

  it.each([
    ['edge_mgmt_subnets: [10.0.0.1/24]', 'edge_mgmt_subnets[0]', 27, '"10.0.0.1/24" has host bits set: refused — write the network 10.0.0.0/24, or 10.0.0.1/32 for one host'],
    ['edge_ssh_allowed_sources: [192.0.2.0/24, 198.51.100.7/16]', 'edge_ssh_allowed_sources[1]', 48, '"198.51.100.7/16" has host bits set'],
  ])('a prefix with host bits is refused: %s', (line, field, col, message) => {
    const e = refused(hostInv(line));
    expect(e.pos).toEqual({ file: 'inv.yaml', line: EXTRA_LINE, col });
    expect(e.field).toBe(`all.hosts.r1.${field}`);
    expect(e.message).toContain(message);
  });

  it.each([
    ['127.0.0.1', 'loopback address: it answers on the router itself'],
    ['224.0.0.1', 'multicast address'],
    ['255.255.255.255', 'broadcast address'],
    ['0.0.0.0', '"this network"'],
  ])('a health-check target %s is refused (targets are unicast)', (addr, why) => {
    const e = refused(hostInv(`edge_wan1_targets: [192.0.2.1, ${addr}]`));
    expect(e.pos).toEqual({ file: 'inv.yaml', line: EXTRA_LINE, col: 38 });
    expect(e.field).toBe('all.hosts.r1.edge_wan1_targets[1]');
    expect(e.message).toContain(why);
    expect(e.message).toContain('refused as a health-check target');
  });

  it('a multicast gateway is refused', () => {
    expect(refused(hostInv('edge_wan2_gateway: 239.1.1.1')).message).toContain('refused as a gateway');
  });

  it.each([
    ['edge_wan1_table: 254', 'table ids 253 (default), 254 (main) and 255 (local) are reserved'],
    ['edge_wan1_table: 0', 'expected a number >= 1'],
    ['edge_wan1_table_name: main', "the kernel's own routing tables: refused"],
    ['edge_wan2_table_name: Local', "the kernel's own routing tables: refused"],
    ['edge_wan1_mark: 0', 'expected a number >= 1'],
    ['edge_wan2_mark: 0x1', 'must differ from edge_wan1_mark'],
  ])('reserved or colliding ids are refused: %s', (line, message) => {
    const e = refused(hostInv(line));
    expect(e.pos?.line).toBe(EXTRA_LINE);
    expect(e.message).toContain(message);
  });

  it('a sysctl value with a newline (a second setting, applied at every boot) is refused', () => {
    const e = refused(hostInv('edge_sysctl: { net.ipv4.ip_forward: "1\\nkernel.modprobe = /tmp/x" }'));
    expect(formatError(e)).toContain(`inv.yaml:${EXTRA_LINE}:43: all.hosts.r1.edge_sysctl["net.ipv4.ip_forward"]: a sysctl value is printable ASCII on one line`);
    expect(inv(hostInv('edge_sysctl: { net.ipv4.tcp_rmem: "4096 87380 6291456" }')).hosts.get('r1')!.vars.edge_sysctl).toEqual({
      'net.ipv4.tcp_rmem': '4096 87380 6291456',
    });
  });

  it('a sysctl key starting with "-" (an option to sysctl) is refused', () => {
    const e = refused(hostInv('edge_sysctl: { "-p": 1 }'));
    expect(e.message).toContain('a sysctl key in the families edge sets');
  });

  it.each([
    ['kernel.core_pattern', '"|/bin/sh -c id"'],
    ['kernel.modprobe', '/tmp/x'],
    ['fs.suid_dumpable', 2],
    ['kernel.kptr_restrict', 0],
    ['kernel.yama.ptrace_scope', 0],
    // procps and systemd-sysctl swap "." and "/": "//" becomes ".." and leaves the family.
    ['net.ipv4.//.//kernel.core_pattern', '"|/tmp/x"'],
    ['net.ipv4..x', 1],
  ])('the sysctl key %s (root at the next core dump, module load...) is refused at its file:line:col', (key, value) => {
    const e = refused(hostInv(`edge_sysctl: { ${key}: ${value} }`));
    expect(e.code).toBe('CONFIG');
    expect(formatError(e)).toMatch(new RegExp(`^inv\\.yaml:${EXTRA_LINE}:\\d+: all\\.hosts\\.r1\\.edge_sysctl`));
    expect(e.message).toMatch(/in the families edge sets/);
  });

  it('sysctl keys of the networking families load', () => {
    const text = hostInv('edge_sysctl: { net.ipv6.conf.all.forwarding: 1, net.netfilter.nf_conntrack_max: 262144, net.core.somaxconn: 4096, net.ipv4.conf.eth0/100.rp_filter: 2 }');
    expect(Object.keys(inv(text).hosts.get('r1')!.vars.edge_sysctl)).toHaveLength(4);
  });
});

describe('nothing silent', () => {
  it('an inventory cut off before hosts: is an error at its last key', () => {
    const e = refused('all:\n  children:\n    lab:\n');
    expect(formatError(e)).toBe(
      "inv.yaml:3:5: the inventory lists no hosts (is the file cut off?)\n  hint: list hosts under a group's hosts:, e.g. all: { hosts: { r1: { ansible_host: 192.0.2.10 } } }",
    );
  });

  it('unknown ansible_* variables warn with a suggestion; known ones do not', () => {
    const { warnings } = collectWarnings(() => inv(hostInv('ansible_hots: 192.0.2.11', 'ansible_python_interpreter: /usr/bin/python3', 'ansible_connection: ssh')));
    expect(warnings.map((w) => formatError(w))).toEqual([
      `inv.yaml:${EXTRA_LINE}:7: all.hosts.r1.ansible_hots: unknown Ansible variable ansible_hots, ignored; did you mean ansible_host?`,
    ]);
    const play = collectWarnings(() => pb('- hosts: all\n  vars:\n    ansible_becom: true\n  tasks: [verify]\n'));
    expect(play.warnings.map((w) => formatError(w))).toEqual([
      'pb.yaml:3:5: [0].vars.ansible_becom: unknown Ansible variable ansible_becom, ignored; did you mean ansible_become?',
    ]);
  });

  it('unknown YAML tags are errors; Ansible\'s !unsafe is text and !vault is refused plainly', () => {
    expect(formatError(refused('all:\n  hosts:\n    r1: !evil\n'))).toContain('inv.yaml:3:9: YAML tag error: Unresolved tag: !evil');
    expect(formatError(refused('all:\n  hosts:\n    r1:\n      x: !!python/object:os.system a\n'))).toContain('inv.yaml:4:10: YAML tag error');
    expect(formatError(refused('all:\n  hosts:\n    r1:\n      p: !vault |\n        $ANSIBLE_VAULT;1.1;AES256\n'))).toContain(
      'inv.yaml:4:10: YAML tag error: !vault: Ansible Vault values are not supported',
    );
    expect(inv('all:\n  hosts:\n    r1:\n      x: !unsafe "{{ no }}"\n').hosts.get('r1')!.vars.x).toBe('{{ no }}');
  });

  const two = inv('all:\n  children:\n    lab:\n      hosts:\n        r1:\n    empty:\n      hosts:\n');

  it('a --limit that leaves no hosts is an error of its own (exit 1, nothing touched), as ansible-playbook fails it', () => {
    const e = only(edgeErrorsOf(() => selectHosts(two, 'lab:&empty')));
    expect(e.code).toBe('NO_HOSTS');
    expect(errorExitCode(e)).toBe(1);
    expect(e.message).toBe('--limit "lab:&empty" leaves no hosts to target');
  });

  it('a play whose pattern selects nobody says it is skipped and the run succeeds', async () => {
    const book = pb('- name: nobody\n  hosts: empty\n  tasks: [verify]\n');
    const said: string[] = [];
    const result = await runPlaybook(two, book, resolvePlays(two, book), {
      runId: '20261201T000000Z-0000',
      check: true,
      noRollback: false,
      forks: 1,
      connection: { acceptNewHostKeys: false, connectTimeoutMs: 1000, commandTimeoutMs: 1000 },
      journalDir: `${process.env.TMPDIR ?? '/tmp'}/edge-hostile-journal-${process.pid}`,
      signal: new AbortController().signal,
      say: (l) => said.push(l),
      reporterFor: () => ({ reporter: silentReporter }),
      hostsOf: () => [],
    });
    expect(said).toEqual(['PLAY nobody: skipping: no hosts matched']);
    expect(result.status).toBe('ok');
  });
});

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { connectorFor } from '../../../src/engine/connect.js';
import { sshOptionsFor } from '../../../src/engine/ssh-options.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { HostVars } from '../../../src/inventory/vars.js';
import { resolveHost, type ResolvedHost } from '../../../src/ssh/ssh-config.js';
import { sshInstalled } from '../../../src/ssh/ssh-g.js';
import { errorsOf } from '../inventory/helpers.js';

/**
 * ansible_ssh_args / ansible_ssh_common_args / ansible_ssh_extra_args against the real thing:
 * ansible-playbook builds each host's ssh command line (a stand-in ssh executable records it),
 * `ssh -G` resolves that command line with the same ssh_config file, and edge must come out
 * where OpenSSH does, through ssh -G and through its built-in reader alike.
 */

const D = mkdtempSync(join(tmpdir(), 'edge-sshargs-'));
const KEY = join(D, 'key one');
writeFileSync(KEY, 'not read');
const CONFIG = join(D, 'ssh_config');
writeFileSync(
  CONFIG,
  ['Host *.test', '  User cfguser', '  Port 2200', '  ProxyJump cfgjump', '  ServerAliveInterval 60', `  IdentityFile ${D}/cfgkey`, ''].join('\n'),
);
writeFileSync(join(D, 'cfgkey'), 'not read');

interface Case {
  name: string;
  vars: Record<string, string | number>;
}

const CASES: Case[] = [
  { name: 'nothing set: ssh_config decides', vars: {} },
  { name: 'ssh_common_args -o ProxyJump beats ssh_config', vars: { ansible_ssh_common_args: '-o ProxyJump=bastion' } },
  { name: 'ssh_extra_args -J with user and port', vars: { ansible_ssh_extra_args: '-J ops@bastion:2222' } },
  { name: 'a jump chain', vars: { ansible_ssh_extra_args: '-J b1,ops@b2' } },
  { name: 'common before extra: the first ProxyJump wins', vars: { ansible_ssh_common_args: '-o ProxyJump=first', ansible_ssh_extra_args: '-o ProxyJump=second' } },
  { name: '-J before -o ProxyJump: -J wins', vars: { ansible_ssh_common_args: '-J viaj', ansible_ssh_extra_args: '-oProxyJump=viao' } },
  { name: 'ProxyJump none undoes ssh_config', vars: { ansible_ssh_common_args: '-o "ProxyJump none"' } },
  { name: 'ansible_port beats Port in common args', vars: { ansible_port: 2222, ansible_ssh_common_args: '-o Port=1' } },
  { name: 'Port in ssh_args beats ansible_port', vars: { ansible_port: 2222, ansible_ssh_args: '-o Port=1' } },
  { name: 'common args Port beats ssh_config', vars: { ansible_ssh_common_args: '-p 2300' } },
  { name: 'ansible_user beats -l', vars: { ansible_user: 'admin', ansible_ssh_common_args: '-l other' } },
  { name: 'User in common args beats ssh_config', vars: { ansible_ssh_common_args: '-o User=ops' } },
  { name: 'known hosts and host key checking', vars: { ansible_ssh_common_args: `-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=${D}/kh` } },
  { name: 'StrictHostKeyChecking=no', vars: { ansible_ssh_extra_args: '-o StrictHostKeyChecking=no' } },
  { name: 'keepalives', vars: { ansible_ssh_common_args: '-oServerAliveInterval=15 -o ServerAliveCountMax=4' } },
  { name: "Ansible's default ssh_args and a ConnectTimeout there", vars: { ansible_ssh_args: '-C -o ControlMaster=auto -o ControlPersist=60s -o ConnectTimeout=5' } },
  { name: '-i comes before ssh_config IdentityFile', vars: { ansible_ssh_common_args: `-i '${KEY}'` } },
];

const HOST = (i: number) => `c${i}.test`;
const ansible = spawnSync('ansible-playbook', ['--version'], { stdio: 'ignore' }).status === 0;
const missing = !sshInstalled() ? 'ssh is not installed' : !ansible ? 'ansible-playbook is not installed' : undefined;
if (missing && process.env.CI === 'true') throw new Error(`ssh args oracle tests need ansible and ssh in CI: ${missing}`);

/** Each host's ssh argv as ansible-playbook builds it (the stand-in ssh records it and fails). */
function ansibleArgvs(): Map<string, string[]> {
  const fake = join(D, 'fake-ssh');
  writeFileSync(fake, '#!/bin/sh\neval "host=\\${$(($# - 1))}"\nfor a in "$@"; do printf \'%s\\0\' "$a"; done > "$ORACLE_DIR/$host.argv"\nexit 255\n');
  chmodSync(fake, 0o755);
  const hosts = CASES.map((c, i) => [`    c${i}:`, `      ansible_host: ${HOST(i)}`, ...Object.entries(c.vars).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`)]);
  writeFileSync(join(D, 'inv.yml'), ['all:', '  vars:', `    ansible_ssh_executable: ${fake}`, '  hosts:', ...hosts.flat(), ''].join('\n'));
  writeFileSync(join(D, 'play.yml'), '- hosts: all\n  gather_facts: false\n  tasks:\n    - raw: "true"\n');
  writeFileSync(join(D, 'ansible.cfg'), '[defaults]\n');
  spawnSync('ansible-playbook', ['-i', join(D, 'inv.yml'), join(D, 'play.yml')], {
    env: { ...process.env, ORACLE_DIR: D, ANSIBLE_CONFIG: join(D, 'ansible.cfg'), ANSIBLE_LOCAL_TEMP: join(D, 'tmp'), ANSIBLE_CONTROL_PATH_DIR: join(D, 'cp') },
    stdio: 'ignore',
    timeout: 300_000,
  });
  return new Map(CASES.map((_, i) => [HOST(i), readFileSync(join(D, `${HOST(i)}.argv`), 'utf8').split('\0').slice(0, -1)]));
}

/** What ssh -G says of Ansible's command line (its remote command dropped), with this file. */
function oracle(argv: string[]): Map<string, string> {
  const r = spawnSync('ssh', ['-G', '-F', CONFIG, ...argv.slice(0, -1)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh -G ${argv.join(' ')}: ${r.stderr}`);
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const sp = line.indexOf(' ');
    if (sp > 0) out.set(line.slice(0, sp), out.has(line.slice(0, sp)) ? `${out.get(line.slice(0, sp))}\n${line.slice(sp + 1)}` : line.slice(sp + 1));
  }
  return out;
}

function fromOracle(g: Map<string, string>) {
  const pj = g.get('proxyjump');
  return {
    host: g.get('hostname'),
    port: Number(g.get('port')),
    user: g.get('user'),
    proxyJump: pj === undefined || pj === 'none' ? undefined : pj,
    strict: g.get('stricthostkeychecking'),
    knownHosts: g.get('userknownhostsfile')!.split(' ')[0],
    identityFiles: g.get('identityfile')!.split('\n'),
    keepalive: Number(g.get('serveraliveinterval')) * 1000 || undefined,
    countMax: Number(g.get('serveralivecountmax')),
    connectTimeoutMs: Number(g.get('connecttimeout')) * 1000,
  };
}

function fromEdge(r: ResolvedHost) {
  return {
    host: r.host,
    port: r.port,
    user: r.user,
    proxyJump: r.proxyJump,
    strict: r.strictHostKeyChecking,
    knownHosts: r.knownHostsFiles[0],
    identityFiles: r.identityFiles,
    keepalive: r.keepaliveIntervalMs,
    countMax: r.keepaliveCountMax,
    // Ansible always passes -o ConnectTimeout=<timeout> (10) after ssh_args
    connectTimeoutMs: r.connectTimeoutMs ?? 10_000,
  };
}

describe.skipIf(missing !== undefined)(`ssh args resolve as ansible-playbook + ssh -G resolve them (${CASES.length} cases)${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const argvs = ansibleArgvs();
  CASES.forEach((c, i) => {
    it(c.name, () => {
      const want = fromOracle(oracle(argvs.get(HOST(i))!));
      const vars = { ansible_host: HOST(i), ...c.vars } as HostVars;
      const inv = { host: HOST(i), user: vars.ansible_user, port: vars.ansible_port, ...sshOptionsFor(`c${i}`, vars, {}, false) };
      const viaSsh = resolveHost(HOST(i), inv, { configFiles: [CONFIG] });
      const builtin = resolveHost(HOST(i), inv, { configFiles: [CONFIG], backend: 'builtin' });
      expect(fromEdge(viaSsh)).toEqual(want);
      expect(fromEdge(builtin)).toEqual(want);
    });
  });
});

describe('ssh options edge cannot honour are refused at load, where they are written', () => {
  const inv = (line: string) => parseInventory(parseYaml(`all:\n  hosts:\n    r1:\n      ${line}\n`, 'inv.yaml'));
  const cases: [string, RegExp][] = [
    ['ansible_ssh_common_args: "-o ProxyCommand=\'ssh -W %h:%p b\'"', /^inv\.yaml:4:\d+: .*ansible_ssh_common_args: ProxyCommand is not supported: use ProxyJump/],
    ['ansible_ssh_extra_args: "-o Ciphers=aes128-ctr"', /^inv\.yaml:4:\d+: .*ansible_ssh_extra_args: Ciphers is an ssh option edge cannot honour/],
    ['ansible_ssh_common_args: "-F ./ssh.cfg"', /-F is not supported/],
    ['ansible_ssh_common_args: "-o ConnectTimeout=30"', /ConnectTimeout never takes effect in ssh_common_args/],
    ['ansible_ssh_args: "-o Port=http"', /Port http is not a port number/],
    ['ansible_ssh_common_args: "-q"', /-q is an ssh flag edge cannot honour/],
    ['ansible_ssh_common_args: "bastion"', /"bastion" is not an ssh option/],
    ['ansible_ssh_common_args: "-o \'ProxyJump=b"', /cannot split it as Ansible does: No closing quotation/],
    ['ansible_ssh_extra_args: "-J a:99999"', /-J ProxyJump "a:99999": 99999 is not a port number/],
  ];
  for (const [line, want] of cases) {
    it(line, () => {
      const errors = errorsOf(() => inv(line));
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatch(want);
    });
  }

  it('a -J after a -o ProxyJump (ssh exits on it) is refused at the later variable', () => {
    const text = 'all:\n  hosts:\n    r1:\n      ansible_user: root\n      ansible_ssh_common_args: -o ProxyJump=a\n      ansible_ssh_extra_args: -J b\n';
    const i = parseInventory(parseYaml(text, 'inv.yaml'));
    const h = i.hosts.get('r1')!;
    const errors = errorsOf(() => connectorFor('r1', h.vars, { acceptNewHostKeys: false, connectTimeoutMs: 1000, commandTimeoutMs: 1000 }, h.varSources));
    expect(errors[0]).toMatch(/^inv\.yaml:6:\d+: r1: all\.hosts\.r1\.ansible_ssh_extra_args: -J b follows another -J or -o ProxyJump/);
  });

  it('ansible.cfg ssh_args is refused at its line', () => {
    const vars = { ansible_user: 'root' } as HostVars;
    const setting = { ssh_args: { text: '-o ForwardAgent=yes', field: '[ssh_connection] ssh_args', pos: { file: 'ansible.cfg', line: 3, col: 1 } } };
    expect(errorsOf(() => sshOptionsFor('r1', vars, setting, false))[0]).toMatch(/^ansible\.cfg:3:1: \[ssh_connection\] ssh_args: ForwardAgent is an ssh option edge cannot honour/);
  });

  it('a host variable wins over ansible.cfg, and --accept-new-host-keys comes right after ssh_args', () => {
    const vars = { ansible_ssh_common_args: '-J viavar' } as HostVars;
    const settings = { ssh_common_args: { text: '-J viacfg', field: '[ssh_connection] ssh_common_args' }, ssh_args: { text: '-o StrictHostKeyChecking=yes', field: 'ANSIBLE_SSH_ARGS' } };
    expect(sshOptionsFor('r1', vars, settings, true)).toEqual({
      sshOptionsFirst: [{ keyword: 'stricthostkeychecking', values: ['yes'] }, { keyword: 'stricthostkeychecking', values: ['accept-new'] }],
      sshOptions: [{ jump: 'viavar' }],
    });
  });
});

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EdgeError } from '../../../src/errors.js';
import { readSshValues, type SshValues } from '../../../src/ssh/ssh-config-read.js';
import { resolveHost } from '../../../src/ssh/ssh-config.js';
import { askSsh, sshInstalled } from '../../../src/ssh/ssh-g.js';

/**
 * Parity with OpenSSH, both ways: for every case the built-in reader must give what `ssh -G -F
 * FILE` prints (for the keywords edge uses), and resolveHost must come out the same whether it
 * asked ssh or read the file itself. `-F` keeps the machine's own ~/.ssh/config out of it.
 */

const D = mkdtempSync(join(tmpdir(), 'edge-sshparity-'));
mkdirSync(join(D, 'conf.d'));
writeFileSync(join(D, 'conf.d', '10-a.conf'), 'Host inc-a\n  HostName 192.0.2.10\n  Port 2010\n');
writeFileSync(join(D, 'conf.d', '20-b.conf'), 'Host inc-a inc-b\n  User incuser\n  Port 9\n');
writeFileSync(join(D, 'conf.d', 'skip.txt'), 'Host inc-a\n  User never\n');
writeFileSync(join(D, 'inner.conf'), 'User inner\nHost inner-host\n  Port 2222\n');

interface Case {
  name: string;
  config: string;
  host: string;
  user?: string;
  port?: number;
}

const BASE = `
Host r1 r2
  HostName %h.lab.example
  User admin
  Port 2200
  IdentityFile ~/.ssh/lab_%r
  IdentityFile /keys/%h-%p-%n-%u
  ConnectTimeout 7

Host r1,r2
  User comma

Host *.dc1 !skip.dc1
  User dc1user
  ProxyJump bastion

Host bastion
  HostName 198.51.100.7
  User jumper
  UserKnownHostsFile ~/kh/bastion /abs/kh
  GlobalKnownHostsFile none

Host 10.20.*
  User ten

Host q?
  User single-char

Host = equals
  Port=2300

Host "qq*"
  User quoted
  Port ssh

Host noagent
  IdentityAgent none
  IdentityFile none

Host viacmd
  ProxyCommand ssh -W %h:%p bastion

Host CaseName
  User upper

Match host *.lab.example user admin
  ProxyJump jump-lab

Match originalhost r2
  Port 2999

Match exec "test %n = exec-yes"
  Port 4001

Match exec "exit 1"
  User never

Match !host never-* exec "test %h = exec-h.example"
  User exec-h

Host exec-h
  HostName exec-h.example

Match user ops
  Port 4100

Match localuser nobody-here
  Port 1

Host inc-*
  Include ${D}/conf.d/*.conf

Host other
  Include ${D}/inner.conf

Include ${D}/inner.conf

Host *
  User fallback
  ServerAliveInterval 30
`;

const CASES: Case[] = [
  { name: 'no block matches but Host *', config: BASE, host: 'plain' },
  { name: 'Host r1 r2: whitespace list, HostName %h', config: BASE, host: 'r1' },
  { name: 'r2 also matches Match originalhost (first Port wins)', config: BASE, host: 'r2' },
  { name: 'Host r1,r2 is one pattern: not r2... and not r1', config: BASE, host: 'r3' },
  { name: 'glob with a negation: matched', config: BASE, host: 'a.dc1' },
  { name: 'glob with a negation: negated', config: BASE, host: 'skip.dc1' },
  { name: 'bastion: known hosts files, GlobalKnownHostsFile none', config: BASE, host: 'bastion' },
  { name: 'address glob', config: BASE, host: '10.20.0.1' },
  { name: '? matches exactly one character', config: BASE, host: 'qx' },
  { name: '? does not match two', config: BASE, host: 'qxy' },
  { name: 'Keyword=value and Host = name', config: BASE, host: 'equals' },
  { name: 'a quoted pattern, Port by service name', config: BASE, host: 'qqx' },
  { name: 'IdentityAgent none, IdentityFile none', config: BASE, host: 'noagent' },
  { name: 'Host matching is case-sensitive (HostName comes out lowercased)', config: BASE, host: 'casename' },
  { name: 'Host matching is case-sensitive: exact case', config: BASE, host: 'CaseName' },
  { name: '-l wins over User, and Match user sees it', config: BASE, host: 'plain', user: 'ops' },
  { name: '-p wins over Port', config: BASE, host: 'r1', port: 2022 },
  { name: '-l changes Match host … user', config: BASE, host: 'r1', user: 'root' },
  { name: 'Match exec with %n: true', config: BASE, host: 'exec-yes' },
  { name: 'Match exec with %n: false', config: BASE, host: 'exec-no' },
  { name: 'Match exec with %h after HostName, and !host', config: BASE, host: 'exec-h' },
  { name: 'Include inside a matching Host block', config: BASE, host: 'inc-a' },
  { name: 'Include inside a matching Host block: second file', config: BASE, host: 'inc-b' },
  { name: 'Include inside a Host block that does not match', config: BASE, host: 'inner-host' },
  { name: 'Include inside the matching block: its own Host block', config: BASE, host: 'other' },
  { name: 'top-level Include: its leading lines apply to all', config: BASE, host: 'zzz' },
  { name: 'no config at all', config: '', host: 'bare' },
  { name: 'first value wins across blocks', config: 'Host a\n  User first\nHost *\n  User second\n  Port 2\n', host: 'a' },
  { name: 'options before any Host apply to all', config: 'Port 2345\nUser top\nHost x\n  Port 1\n', host: 'x' },
  { name: 'IdentityFile accumulates in order', config: 'Host k\n  IdentityFile /a\nHost *\n  IdentityFile /b\n  IdentityFile /c\n', host: 'k' },
  { name: 'HostName with %% and %h', config: 'Host p\n  HostName %h%%x.example\n', host: 'p' },
  { name: 'Match all', config: 'Match all\n  User everyone\n', host: 'm' },
  { name: 'Match canonical does not match without canonicalization', config: 'Match canonical\n  User canon\n', host: 'm' },
  { name: 'Match final: applies in the final pass', config: 'Match final\n  User fin\nHost m\n  Port 7\n', host: 'm' },
  { name: 'negated Match host', config: 'Match !host m*\n  User notm\n', host: 'zz' },
  { name: 'Match host list with commas', config: 'Match host a,b,c\n  User abc\n', host: 'b' },
  { name: 'ProxyJump none', config: 'Host pj\n  ProxyJump none\nHost *\n  ProxyJump bastion\n', host: 'pj' },
  { name: 'ProxyJump chain', config: 'Host pj\n  ProxyJump ops@j1:2022,j2\n', host: 'pj' },
  { name: 'ConnectTimeout', config: 'Host t\n  ConnectTimeout 3\n', host: 't' },
  { name: 'StrictHostKeyChecking yes / accept-new', config: 'Host s1\n  StrictHostKeyChecking yes\nHost *\n  StrictHostKeyChecking accept-new\n', host: 's1' },
  { name: 'comments and blank lines', config: '# c\n\nHost c # trailing\n  User commented # note\n', host: 'c' },
];

const REFUSED: Case[] = [
  { name: 'HostName with %n (ssh refuses the token)', config: 'Host n\n  HostName %n.example\n', host: 'n' },
  { name: 'Port that is neither a number nor a service', config: 'Host bad\n  Port nosuchservice\n', host: 'bad' },
  { name: 'a bad Port in a block that is not in force', config: 'Host other\n  Port nosuchservice\n', host: 'bad' },
];

const KEYS = ['stricthostkeychecking', 'hostname', 'user', 'port', 'identityfile', 'proxyjump', 'proxycommand', 'userknownhostsfile', 'globalknownhostsfile', 'identityagent', 'connecttimeout'];

function project(v: SshValues): Record<string, string[] | undefined> {
  const out: Record<string, string[] | undefined> = {};
  for (const k of KEYS) out[k] = v.get(k);
  // ssh -G prints these defaults; the reader leaves them unset
  out.connecttimeout ??= ['none'];
  if (out.proxyjump?.[0] === 'none') out.proxyjump = undefined;
  return out;
}

function fileFor(c: Case, i: number): string {
  const f = join(D, `config-${i}`);
  writeFileSync(f, c.config);
  return f;
}

const missing = sshInstalled() ? undefined : 'OpenSSH client (ssh) is not installed';
if (missing && process.env.CI === 'true') throw new Error(`ssh_config parity tests need ssh in CI: ${missing}`);

describe.skipIf(missing !== undefined)(`ssh_config resolves as ssh -G resolves it (${CASES.length} cases)${missing ? ` (skipped: ${missing})` : ''}`, () => {
  CASES.forEach((c, i) => {
    it(c.name, () => {
      const file = fileFor(c, i);
      const ssh = askSsh({ host: c.host, user: c.user, port: c.port, configFile: file });
      const ours = readSshValues({ host: c.host, user: c.user, port: c.port, files: [file], home: homedir(), localUser: localUser() });
      expect(project(ours)).toEqual(project(ssh));
      if (c.host === 'viacmd') return;
      const inv = { user: c.user, port: c.port };
      const viaSsh = resolveHost(c.host, inv, { configFiles: [file] });
      const builtin = resolveHost(c.host, inv, { configFiles: [file], backend: 'builtin' });
      expect(builtin).toEqual(viaSsh);
    });
  });

  REFUSED.forEach((c, i) => {
    it(`refused by both: ${c.name}`, () => {
      const file = fileFor(c, 1000 + i);
      expect(() => askSsh({ host: c.host, configFile: file })).toThrow(EdgeError);
      expect(() => readSshValues({ host: c.host, files: [file], home: homedir(), localUser: localUser() })).toThrow(EdgeError);
    });
  });
});

function localUser(): string {
  return resolveHost('x', {}, { configFiles: [join(D, 'none')], backend: 'builtin' }).user;
}

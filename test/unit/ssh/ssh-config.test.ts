import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeError } from '../../../src/errors.js';
import { expandTokens, parseProxyJump, resolveHost, resolveTarget, type SshConfigOptions } from '../../../src/ssh/ssh-config.js';

let home: string;
let opts: SshConfigOptions;

const CONFIG = `
Include config.d/*.conf

Host r1 r2
  HostName %h.lab.example
  User admin
  Port 2200
  IdentityFile ~/.ssh/lab_%r
  ConnectTimeout 7

Host *.dc1 !skip.dc1
  User dc1user
  ProxyJump bastion

Host behind-chain
  ProxyJump ops@jump1:2022,jump2

Host jump2
  User j2

Host bastion
  HostName 198.51.100.7
  User jumper
  UserKnownHostsFile ~/kh/bastion %d/kh/all

Host 10.20.*
  User ten

Host viacommand
  ProxyCommand ssh -W %h:%p bastion

Host noagent
  IdentityAgent none

Host *
  StrictHostKeyChecking accept-new
`;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'edge-sshcfg-'));
  mkdirSync(join(home, '.ssh', 'config.d'), { recursive: true });
  writeFileSync(join(home, '.ssh', 'config'), CONFIG);
  writeFileSync(join(home, '.ssh', 'config.d', '10-inc.conf'), 'Host included\n  HostName 192.0.2.55\n  Port 2022\n');
  writeFileSync(join(home, '.ssh', 'config.d', 'ignored.txt'), 'Host included\n  Port 1\n');
  // Only the keys that exist are offered by default.
  writeFileSync(join(home, '.ssh', 'id_ed25519'), 'x');
  writeFileSync(join(home, '.ssh', 'id_rsa'), 'x');
  writeFileSync(join(home, '.ssh', 'lab_admin'), 'x');
  opts = {
    configFiles: [join(home, '.ssh', 'config')],
    home,
    localUser: 'operator',
    env: { SSH_AUTH_SOCK: '/tmp/agent.sock' },
  };
});

afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('resolveHost', () => {
  it('falls back to defaults for a host ssh_config does not mention', () => {
    const r = resolveHost('plain', {}, opts);
    expect(r).toMatchObject({ name: 'plain', host: 'plain', port: 22, user: 'operator', agent: '/tmp/agent.sock' });
    // ssh's default identities, in ssh's order, those that exist
    expect(r.identityFiles).toEqual([join(home, '.ssh', 'id_rsa'), join(home, '.ssh', 'id_ed25519')]);
    expect(r.privateKeyPath).toBeUndefined();
    expect(r.proxyJump).toBeUndefined();
    expect(r.strictHostKeyChecking).toBe('accept-new');
    expect(r.knownHostsFiles).toEqual([
      join(home, '.ssh/known_hosts'),
      join(home, '.ssh/known_hosts2'),
      '/etc/ssh/ssh_known_hosts',
      '/etc/ssh/ssh_known_hosts2',
    ]);
  });

  it('applies Host blocks with tokens (%h, %r, ~)', () => {
    const r = resolveHost('r2', {}, opts);
    expect(r).toMatchObject({ host: 'r2.lab.example', user: 'admin', port: 2200, connectTimeoutMs: 7000 });
    expect(r.identityFiles).toEqual([join(home, '.ssh', 'lab_admin')]);
  });

  it('lets inventory values win over ssh_config', () => {
    const r = resolveHost('r1', { user: 'root', port: 22, privateKeyFile: '~/keys/r1' }, opts);
    expect(r).toMatchObject({ host: 'r1.lab.example', user: 'root', port: 22, privateKeyPath: join(home, 'keys/r1') });
    // IdentityFile tokens see the final user: lab_root does not exist, so it is not offered.
    expect(r.identityFiles).toEqual([]);
  });

  it('looks ssh_config up by ansible_host when set, like `ssh ansible_host`', () => {
    const r = resolveHost('edge-a', { host: '10.20.0.1' }, opts);
    expect(r).toMatchObject({ name: 'edge-a', host: '10.20.0.1', user: 'ten', port: 22 });
  });

  it('honours wildcards and negation in Host patterns', () => {
    expect(resolveHost('a.dc1', {}, opts)).toMatchObject({ user: 'dc1user', proxyJump: 'bastion' });
    expect(resolveHost('skip.dc1', {}, opts)).toMatchObject({ user: 'operator', proxyJump: undefined });
  });

  it('expands UserKnownHostsFile and IdentityAgent none', () => {
    expect(resolveHost('bastion', {}, opts).knownHostsFiles.slice(0, 2)).toEqual([join(home, 'kh/bastion'), join(home, 'kh/all')]);
    expect(resolveHost('noagent', {}, opts).agent).toBeUndefined();
  });

  it('follows Include', () => {
    expect(resolveHost('included', {}, opts)).toMatchObject({ host: '192.0.2.55', port: 2022 });
  });

  it('refuses ProxyCommand with a hint', () => {
    try {
      resolveHost('viacommand', {}, opts);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EdgeError);
      expect((e as EdgeError).code).toBe('CONFIG');
      expect((e as EdgeError).hint).toMatch(/ProxyJump/);
    }
  });

  it('works without any config file', () => {
    const r = resolveHost('x', {}, { ...opts, configFiles: [join(home, 'missing')] });
    expect(r).toMatchObject({ host: 'x', user: 'operator', port: 22 });
  });
});

describe('resolveTarget and ProxyJump', () => {
  it('resolves the jump host through ssh_config under its own name', () => {
    const { target } = resolveTarget('a.dc1', { port: 2222 }, { ...opts, becomePassword: 'pw' });
    expect(target).toMatchObject({ name: 'a.dc1', host: 'a.dc1', port: 2222, user: 'dc1user', becomePassword: 'pw' });
    expect(target.proxyJump).toMatchObject({ name: 'bastion', host: '198.51.100.7', user: 'jumper', port: 22 });
    expect(target.proxyJump?.becomePassword).toBeUndefined();
  });

  it('builds a chain a,b as target <- b <- a, with user@host:port overrides', () => {
    const { target } = resolveTarget('behind-chain', {}, opts);
    const j2 = target.proxyJump!;
    expect(j2).toMatchObject({ name: 'jump2', user: 'j2', port: 22 });
    expect(j2.proxyJump).toMatchObject({ name: 'jump1', host: 'jump1', user: 'ops', port: 2022 });
    expect(j2.proxyJump?.proxyJump).toBeUndefined();
  });

  it('detects ProxyJump loops', () => {
    const loopHome = mkdtempSync(join(tmpdir(), 'edge-sshcfg-loop-'));
    try {
      writeFileSync(join(loopHome, 'config'), 'Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n');
      expect(() => resolveTarget('a', {}, { ...opts, configFiles: [join(loopHome, 'config')] })).toThrow(/loop/);
    } finally {
      rmSync(loopHome, { recursive: true, force: true });
    }
  });
});

describe('parseProxyJump and tokens', () => {
  it('parses hop specs', () => {
    expect(parseProxyJump('ops@j1:2022, j2 ,ssh://u@[2001:db8::1]:2200')).toEqual([
      { user: 'ops', host: 'j1', port: 2022 },
      { user: undefined, host: 'j2', port: undefined },
      { user: 'u', host: '2001:db8::1', port: 2200 },
    ]);
    expect(() => parseProxyJump('a:99999')).toThrow(EdgeError);
  });

  it('expands the supported tokens only', () => {
    expect(expandTokens('%h-%r-%p-%n-%u-%d-%%-%C', { h: 'H', r: 'R', p: 1, n: 'N', u: 'U', d: '/D' })).toBe('H-R-1-N-U-/D-%-%C');
  });
});

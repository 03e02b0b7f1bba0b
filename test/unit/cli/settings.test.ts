import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { findAnsibleCfg, parseAnsibleCfg } from '../../../src/config/ansible-cfg.js';
import { buildProgram } from '../../../src/commands/program.js';
import { invokedCommand } from '../../../src/commands/registry.js';
import { loadSettingFiles, resolveSettings } from '../../../src/commands/settings.js';
import { configText } from '../../../src/commands/config.js';
import { has } from '../../fixtures/host-tools.js';

/** Ansible itself is the oracle for where ansible.cfg is found and what its values mean. */
function ansibleConfigFile(env: Record<string, string>, cwd: string): string | undefined {
  const out = execFileSync('ansible', ['--version'], { cwd, env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });
  const m = /config file = (.*)/.exec(out)!;
  return m[1] === 'None' ? undefined : m[1]!.trim();
}

function ansibleDump(env: Record<string, string>, cwd: string): Map<string, { origin: string; value: string }> {
  const out = execFileSync('ansible-config', ['dump', '--only-changed'], { cwd, env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8' });
  const map = new Map<string, { origin: string; value: string }>();
  for (const l of out.split('\n')) {
    const m = /^(\w+)\((.*)\) = (.*)$/.exec(l.replace(/\x1b\[[0-9;]*m/g, ''));
    if (m) map.set(m[1]!, { origin: m[2]!, value: m[3]! });
  }
  return map;
}

const CFG = [
  '[defaults]',
  '# a comment',
  'remote_user = bob ; inline comment',
  'forks: 7',
  'inventory = inv/hosts.yaml',
  'private_key_file = keys/id_ed25519',
  'timeout=3',
  'host_key_checking = False',
  '',
  '[ssh_connection]',
  'pipelining = True',
  '',
].join('\n');

let root: string;
let home: string;
let proj: string;
let runCmd: Command;

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'edge-cfg-'));
  home = path.join(root, 'home');
  proj = path.join(root, 'proj');
  for (const d of [home, proj, path.join(root, 'elsewhere')]) mkdirSync(d, { recursive: true });
  writeFileSync(path.join(proj, 'ansible.cfg'), CFG);
  writeFileSync(path.join(home, '.ansible.cfg'), '[defaults]\nremote_user = homeuser\n');
  writeFileSync(path.join(root, 'elsewhere', 'ansible.cfg'), '[defaults]\nremote_user = envuser\n');
  const p = await buildProgram(invokedCommand(['run']));
  runCmd = p.commands.find((c) => c.name() === 'run')!;
});

// Each case runs ansible: seconds each on a loaded host.
describe.skipIf(!has('ansible'))('ansible.cfg is found where Ansible finds it', { timeout: 60_000 }, () => {
  it('ANSIBLE_CONFIG (a file or a directory), then ./ansible.cfg, then ~/.ansible.cfg — as `ansible --version` says', () => {
    const cases: [Record<string, string>, string][] = [
      [{ HOME: home }, proj],
      [{ HOME: home }, path.join(root)],
      [{ HOME: home, ANSIBLE_CONFIG: path.join(root, 'elsewhere', 'ansible.cfg') }, proj],
      [{ HOME: home, ANSIBLE_CONFIG: path.join(root, 'elsewhere') }, proj],
      [{ HOME: home, ANSIBLE_CONFIG: path.join(root, 'missing.cfg') }, proj],
    ];
    for (const [env, cwd] of cases) expect(findAnsibleCfg(env, cwd, home).file, JSON.stringify({ env, cwd })).toBe(ansibleConfigFile(env, cwd));
  });

  it('./ansible.cfg in a world-writable directory is ignored, as Ansible does, and edge says so', () => {
    const open = path.join(root, 'open');
    mkdirSync(open);
    writeFileSync(path.join(open, 'ansible.cfg'), '[defaults]\nremote_user = mallory\n');
    chmodSync(open, 0o777);
    const found = findAnsibleCfg({ HOME: home }, open, home);
    expect(found.file).toBe(ansibleConfigFile({ HOME: home }, open));
    expect(found.file).toBe(path.join(home, '.ansible.cfg'));
    expect(found.warnings.join()).toMatch(/world-writable/);
  });
});

describe('settings in effect and where they came from', () => {
  it.skipIf(!has('ansible-config'))('[defaults] values mean what they mean to Ansible (ansible-config dump is the oracle)', () => {
    const env = { HOME: home, ANSIBLE_FORKS: '9' };
    const dump = ansibleDump(env, proj);
    const files = loadSettingFiles(env, proj);
    const got = Object.fromEntries(resolveSettings(runCmd, files, env, proj).map((r) => [r.def.option, r]));
    expect(got.user!.value).toBe(dump.get('DEFAULT_REMOTE_USER')!.value);
    expect(String(got.forks!.value)).toBe(dump.get('DEFAULT_FORKS')!.value);
    expect(got.forks!.source).toBe('env');
    expect(dump.get('DEFAULT_FORKS')!.origin).toBe('env: ANSIBLE_FORKS');
    expect(`['${got.inventory!.value}']`).toBe(dump.get('DEFAULT_HOST_LIST')!.value);
    expect(got.privateKey!.value).toBe(dump.get('DEFAULT_PRIVATE_KEY_FILE')!.value);
    expect(String(got.connectTimeout!.value)).toBe(dump.get('DEFAULT_TIMEOUT')!.value);
    expect(dump.get('HOST_KEY_CHECKING')!.value).toBe('False');
    expect(got.acceptNewHostKeys!.value).toBe(true);
    expect(got.user!.where).toBe(`${path.join(proj, 'ansible.cfg')}:3`);
    expect(got.commandTimeout).toMatchObject({ value: 600, source: 'default' });
  });

  it('edge settings beat ansible.cfg, ANSIBLE_* beat both, the command line beats all', async () => {
    mkdirSync(path.join(proj, '.edge'), { recursive: true });
    writeFileSync(path.join(proj, '.edge', 'config.yaml'), 'user: edgeuser\nforks: 11\ncommand-timeout: 30\n');
    try {
      const env = { HOME: home, ANSIBLE_REMOTE_USER: 'envuser' };
      const files = loadSettingFiles(env, proj);
      const p = await buildProgram(invokedCommand(['run']));
      const cmd = p.commands.find((c) => c.name() === 'run')!;
      cmd.setOptionValueWithSource('forks', 3, 'cli');
      const got = Object.fromEntries(resolveSettings(cmd, files, env, proj).map((r) => [r.def.option, r]));
      expect(got.user).toMatchObject({ value: 'envuser', source: 'env' });
      expect(got.forks).toMatchObject({ value: 3, source: 'cli' });
      expect(got.commandTimeout).toMatchObject({ value: 30, source: 'edge', where: `${path.join(proj, '.edge', 'config.yaml')}:3` });
      expect(got.connectTimeout).toMatchObject({ value: 3, source: 'ansible.cfg' });
      const text = configText(Object.values(got), files);
      expect(text).toMatch(/^-u +envuser +environment ANSIBLE_REMOTE_USER$/m);
      expect(text).toMatch(/^--command-timeout +30 +edge settings .*config\.yaml:3$/m);
      expect(text).toMatch(/^--connect-timeout +3 +ansible\.cfg .*ansible\.cfg:7 \(timeout\)$/m);
    } finally {
      writeFileSync(path.join(proj, '.edge', 'config.yaml'), '{}\n');
    }
  });

  it('bad values name the file and line', () => {
    expect(() => parseAnsibleCfg('[defaults]\nforks = 3\nforks = 4\n', 'a.cfg')).toThrow(/forks appears twice/);
    expect(() => parseAnsibleCfg('remote_user = x\n', 'b.cfg')).toThrow(/before any \[section\]/);
    const files = { ansibleCfg: parseAnsibleCfg('[defaults]\nforks = many\n', '/x/ansible.cfg'), warnings: [] };
    expect(() => resolveSettings(runCmd, files, {}, '/')).toThrow(/forks must be a positive whole number, got "many"/);
    const bad = path.join(root, 'bad.yaml');
    writeFileSync(bad, 'forks: 2\nfrks: 3\n');
    expect(() => loadSettingFiles({ HOME: home, EDGE_CONFIG: bad }, root)).toThrow(/bad\.yaml:2:1: frks: unknown key frks; did you mean forks\?/);
  });
});

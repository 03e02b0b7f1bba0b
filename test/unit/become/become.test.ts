import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { connectorFor, type ConnectionSettings } from '../../../src/engine/connect.js';
import { formatError } from '../../../src/errors.js';
import { SESSION_SCRIPT } from '../../../src/facts/probe.js';
import { parseSession } from '../../../src/facts/parse.js';
import { parseIniInventory } from '../../../src/inventory/ini-source.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { edgeErrorsOf } from '../inventory/helpers.js';

/**
 * become as Ansible reads it: ansible_become (any of Ansible's booleans), root only, sudo only,
 * the password from any variable source; a login that is not root and has no become is refused
 * before any host is touched, at the value that turned it off.
 */

const yamlInv = (text: string, extraVars: string[] = []) => parseInventory(parseYaml(text, 'inv.yaml'), { extraVars });
const iniInv = (text: string) => parseInventory(parseIniInventory(text, 'inv.ini'));

// ansible_user is always set: it beats ssh_config's User (ssh -l), so the machine's config does not matter.
const settings: ConnectionSettings = { acceptNewHostKeys: false, connectTimeoutMs: 1000, commandTimeoutMs: 1000, knownHostsFiles: [] };

function connect(inventory: ReturnType<typeof yamlInv>, host: string, s: Partial<ConnectionSettings> = {}) {
  const h = inventory.hosts.get(host)!;
  return () => connectorFor(host, h.vars, { ...settings, ...s }, h.varSources);
}

describe('become variables', () => {
  it('ansible_become takes Ansible\'s booleans, from INI text as from YAML', () => {
    const i = iniInv('[r]\nr1 ansible_become=yes\nr2 ansible_become=False\nr3 ansible_become=1\n');
    expect(['r1', 'r2', 'r3'].map((h) => i.hosts.get(h)!.vars.ansible_become)).toEqual([true, false, true]);
    expect(yamlInv('all:\n  hosts:\n    r1:\n      ansible_become: true\n').hosts.get('r1')!.vars.ansible_become).toBe(true);
  });

  it.each([
    ['ansible_become_user: admin', 'ansible_become_user: edge runs everything on a router as root'],
    ['ansible_become_method: su', 'ansible_become_method: edge becomes root with sudo only'],
    ['ansible_become_exe: doas', 'ansible_become_exe: edge runs sudo from the router\'s PATH'],
    ['ansible_become: maybe', 'ansible_become: expected a boolean'],
  ])('%s is refused at file:line:col with the reason', (line, message) => {
    const errors = edgeErrorsOf(() => yamlInv(`all:\n  hosts:\n    r1:\n      ${line}\n`));
    expect(errors.map((e) => formatError(e))).toEqual([expect.stringContaining(`inv.yaml:4:`)]);
    expect(formatError(errors[0]!)).toContain(`all.hosts.r1.${message}`);
  });

  it('ansible_become_user: root and ansible_become_method: sudo are accepted', () => {
    const v = yamlInv('all:\n  hosts:\n    r1:\n      ansible_become_user: root\n      ansible_become_method: sudo\n').hosts.get('r1')!.vars;
    expect(v).toMatchObject({ ansible_become_user: 'root', ansible_become_method: 'sudo' });
  });

  it('a password typed as digits in INI is the text sudo is given', () => {
    expect(iniInv('r1 ansible_become_password=123456\n').hosts.get('r1')!.vars.ansible_become_password).toBe('123456');
  });
});

describe('who needs become', () => {
  const inv = (vars: string) => yamlInv(`all:\n  vars:\n    ansible_user: admin\n  hosts:\n    r1:\n${vars}`);

  it('a non-root login without become is refused before connecting, with the way out', () => {
    const e = edgeErrorsOf(connect(inv(''), 'r1'))[0]!;
    expect(e.code).toBe('CONFIG');
    expect(e.message).toBe('logs in as admin, not root, and become is off: every edge task needs root');
    expect(e.hint).toContain('-b/--become');
  });

  it('ansible_become: false on a non-root login is refused where it is written, even with -b (the variable wins, as in Ansible)', () => {
    const e = edgeErrorsOf(connect(inv('      ansible_become: false\n'), 'r1', { become: true }))[0]!;
    expect(formatError(e)).toContain('inv.yaml:6:23: r1: all.hosts.r1.ansible_become: logs in as admin, not root, and ansible_become is false');
  });

  it('-b, ansible_become: true, or a root login need nothing more', () => {
    expect(connect(inv(''), 'r1', { become: true })()).toBeTypeOf('function');
    expect(connect(inv('      ansible_become: true\n'), 'r1')()).toBeTypeOf('function');
    expect(connect(yamlInv('all:\n  hosts:\n    r1:\n      ansible_user: root\n      ansible_become: false\n'), 'r1')()).toBeTypeOf('function');
  });
});

describe('the operator\'s session through sudo', () => {
  // sudo's env_reset leaves SSH_CONNECTION out of the shell edge runs; the probe finds it in the
  // nearest ancestor that has it. Here: a parent shell with it, and a child bash -s without it.
  const session = (outer: string) => {
    const r = spawnSync('bash', ['-c', 'env -u SSH_CONNECTION bash -s; exit $?'], {
      input: `${SESSION_SCRIPT}\n`,
      env: { PATH: process.env.PATH, ...(outer ? { SSH_CONNECTION: outer } : {}) },
    });
    return parseSession(r.stdout.toString());
  };

  it('is read from the process above the shell when the shell lost it', () => {
    expect(session('198.18.6.1 40022 198.18.6.11 22')).toEqual({ clientAddress: '198.18.6.1', clientPort: 40022, serverAddress: '198.18.6.11', serverPort: 22 });
  });

  it('is absent when no process above has it (then the firewall preflight refuses: tasks/nftables test)', () => {
    expect(session('')).toBeUndefined();
  });
});

describe('a key file the inventory names and that is not there', () => {
  it('is bad input at the variable (exit 5), found before any host is connected, not an unreachable host', () => {
    const i = yamlInv('all:\n  hosts:\n    r1:\n      ansible_user: root\n      ansible_ssh_private_key_file: /nonexistent/edge-21/id_ed25519\n');
    const e = edgeErrorsOf(connect(i, 'r1'))[0]!;
    expect(e.code).toBe('CONFIG');
    expect(formatError(e)).toContain('inv.yaml:5:37: r1: all.hosts.r1.ansible_ssh_private_key_file: private key file /nonexistent/edge-21/id_ed25519: cannot be read');
  });
});

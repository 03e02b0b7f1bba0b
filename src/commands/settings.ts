import type { Command } from 'commander';
import path from 'node:path';
import { ansibleBool, findAnsibleCfg, readAnsibleCfg, type AnsibleCfg } from '../config/ansible-cfg.js';
import { findEdgeSettings, readEdgeSettings, type EdgeSetting, type EdgeSettingsKey } from '../config/edge-settings.js';
import type { SshArgsSettings } from '../engine/ssh-options.js';
import { EdgeError } from '../errors.js';
import type { SshArgsField } from '../inventory/ssh-args.js';

/**
 * Which value of a connection option is in effect, and from where. Highest first: the command
 * line, Ansible's environment variables, edge's settings file, ansible.cfg [defaults], edge's
 * default. (Inventory variables such as ansible_user still beat -u and remote_user per host, as
 * in Ansible; that is the connection layer's business.)
 */

type Kind = 'path' | 'string' | 'int' | 'number' | 'bool';

export interface SettingDef {
  /** The commander attribute (`privateKey` for --private-key). */
  option: string;
  flag: string;
  edgeKey: EdgeSettingsKey;
  /** The ansible.cfg key (in [defaults] unless `section` says) and its ANSIBLE_* variable, where Ansible has one. */
  ansible?: { key: string; env: string; section?: string };
  kind: Kind;
  /** host_key_checking = False means edge's --accept-new-host-keys (a changed key is still refused). */
  invert?: boolean;
}

export const SETTINGS: readonly SettingDef[] = [
  { option: 'inventory', flag: '-i', edgeKey: 'inventory', ansible: { key: 'inventory', env: 'ANSIBLE_INVENTORY' }, kind: 'path' },
  { option: 'user', flag: '-u', edgeKey: 'user', ansible: { key: 'remote_user', env: 'ANSIBLE_REMOTE_USER' }, kind: 'string' },
  { option: 'privateKey', flag: '--private-key', edgeKey: 'private-key', ansible: { key: 'private_key_file', env: 'ANSIBLE_PRIVATE_KEY_FILE' }, kind: 'path' },
  { option: 'forks', flag: '-f', edgeKey: 'forks', ansible: { key: 'forks', env: 'ANSIBLE_FORKS' }, kind: 'int' },
  { option: 'connectTimeout', flag: '--connect-timeout', edgeKey: 'connect-timeout', ansible: { key: 'timeout', env: 'ANSIBLE_TIMEOUT' }, kind: 'number' },
  { option: 'commandTimeout', flag: '--command-timeout', edgeKey: 'command-timeout', kind: 'number' },
  {
    option: 'acceptNewHostKeys',
    flag: '--accept-new-host-keys',
    edgeKey: 'accept-new-host-keys',
    ansible: { key: 'host_key_checking', env: 'ANSIBLE_HOST_KEY_CHECKING' },
    kind: 'bool',
    invert: true,
  },
  { option: 'become', flag: '-b', edgeKey: 'become', ansible: { key: 'become', env: 'ANSIBLE_BECOME', section: 'privilege_escalation' }, kind: 'bool' },
];

export type SettingSource = 'cli' | 'env' | 'edge' | 'ansible.cfg' | 'default';

export interface Resolved {
  def: SettingDef;
  value: unknown;
  source: SettingSource;
  /** `ANSIBLE_FORKS`, `/x/ansible.cfg:3`, … */
  where?: string;
}

export interface SettingFiles {
  ansibleCfg?: AnsibleCfg;
  edge?: { file: string; values: Map<EdgeSettingsKey, EdgeSetting> };
  warnings: string[];
}

export function loadSettingFiles(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SettingFiles {
  const lookup = findAnsibleCfg(env, cwd);
  const edgeFile = findEdgeSettings(env, cwd);
  return {
    ...(lookup.file ? { ansibleCfg: readAnsibleCfg(lookup.file) } : {}),
    ...(edgeFile ? { edge: { file: edgeFile, values: readEdgeSettings(edgeFile) } } : {}),
    warnings: lookup.warnings,
  };
}

/** A text value from the environment or ansible.cfg, as the option's type; bad text is a CONFIG error there. */
function convert(def: SettingDef, text: string, where: string, baseDir: string): unknown {
  const bad = (what: string) => new EdgeError('CONFIG', `${def.ansible?.key ?? def.edgeKey} must be ${what}, got "${text}"`, { field: where });
  switch (def.kind) {
    case 'path': {
      const list = text.split(',').map((s) => s.trim()).filter(Boolean);
      if (list.length !== 1) throw bad('one path (edge runs on one inventory)');
      return path.resolve(baseDir, list[0]!.replace(/^~(?=$|\/)/, process.env.HOME ?? '~'));
    }
    case 'string':
      return text;
    case 'int':
    case 'number': {
      const n = Number(text);
      if (!Number.isFinite(n) || n <= 0 || (def.kind === 'int' && !Number.isInteger(n))) throw bad(def.kind === 'int' ? 'a positive whole number' : 'a positive number');
      return n;
    }
    case 'bool': {
      const b = ansibleBool(text);
      if (b === undefined) throw bad('a boolean (yes/no, true/false, on/off, 1/0)');
      return def.invert ? !b : b;
    }
  }
}

/** The value of one setting below the command line (env, edge's file, ansible.cfg), if any. */
export function fromFiles(def: SettingDef, files: SettingFiles, env: NodeJS.ProcessEnv, cwd: string): Omit<Resolved, 'def'> | undefined {
  const envText = def.ansible ? env[def.ansible.env] : undefined;
  if (envText !== undefined && envText !== '') return { value: convert(def, envText, def.ansible!.env, cwd), source: 'env', where: def.ansible!.env };
  const e = files.edge?.values.get(def.edgeKey);
  if (e) return { value: e.value, source: 'edge', where: `${e.file}:${e.line}` };
  const c = def.ansible ? files.ansibleCfg?.sections.get(def.ansible.section ?? 'defaults')?.get(def.ansible.key) : undefined;
  if (c) return { value: convert(def, c.value, `${c.file}:${c.line}`, path.dirname(c.file)), source: 'ansible.cfg', where: `${c.file}:${c.line}` };
  return undefined;
}

/** The command has this setting's option (by its flag: `lab up --inventory` is another option). */
function hasOption(cmd: Command, def: SettingDef): boolean {
  return cmd.options.some((o) => o.attributeName() === def.option && (o.short === def.flag || o.long === def.flag));
}

/** Every setting the command takes, as in effect now. */
export function resolveSettings(cmd: Command, files: SettingFiles, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Resolved[] {
  return SETTINGS.filter((d) => hasOption(cmd, d)).map((def) => {
    const source = cmd.getOptionValueSource(def.option);
    if (source === 'cli') return { def, value: cmd.getOptionValue(def.option), source: 'cli' };
    const below = fromFiles(def, files, env, cwd);
    return below ? { def, ...below } : { def, value: cmd.getOptionValue(def.option), source: 'default' };
  });
}

/**
 * Called before every command's action: fills the options the command line left out from the
 * environment and the settings files, and insists on an inventory from one of them.
 */
export function applySettings(cmd: Command): void {
  if (!SETTINGS.some((d) => hasOption(cmd, d))) return;
  const files = loadSettingFiles();
  for (const w of files.warnings) process.stderr.write(`edge: warning: ${w}\n`);
  for (const r of resolveSettings(cmd, files)) {
    if (r.source === 'env' || r.source === 'edge' || r.source === 'ansible.cfg') cmd.setOptionValueWithSource(r.def.option, r.value, 'config');
  }
  // `edge config` shows what is in effect, inventory or not.
  if (cmd.name() !== 'config' && hasOption(cmd, SETTINGS[0]!) && !cmd.getOptionValue('inventory')) {
    throw new EdgeError('USAGE', 'no inventory given', {
      field: '-i',
      hint: 'give -i NAME, or set inventory in ansible.cfg [defaults], ANSIBLE_INVENTORY or .edge/config.yaml (see edge config)',
    });
  }
}

const SSH_ARGS_ENV: Record<SshArgsField, string> = {
  ssh_args: 'ANSIBLE_SSH_ARGS',
  ssh_common_args: 'ANSIBLE_SSH_COMMON_ARGS',
  ssh_extra_args: 'ANSIBLE_SSH_EXTRA_ARGS',
};

/** ssh_args, ssh_common_args, ssh_extra_args as Ansible's ssh plugin reads them: ANSIBLE_SSH_* over ansible.cfg [ssh_connection]. */
export function sshArgsSettings(files: SettingFiles, env: NodeJS.ProcessEnv = process.env): SshArgsSettings {
  const out: SshArgsSettings = {};
  for (const [field, name] of Object.entries(SSH_ARGS_ENV) as [SshArgsField, string][]) {
    const c = files.ansibleCfg?.sections.get('ssh_connection')?.get(field);
    if (env[name] !== undefined) out[field] = { text: env[name], field: name };
    else if (c) out[field] = { text: c.value, field: `[ssh_connection] ${field}`, pos: { file: c.file, line: c.line, col: 1 } };
  }
  return out;
}

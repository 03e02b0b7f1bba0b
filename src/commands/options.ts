import { InvalidArgumentError, type Command } from 'commander';
import type { ConnectionSettings } from '../engine/connect.js';
import { loadInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import { DEFAULT_MAX_HANDSHAKES, HandshakePacer } from '../ssh/handshake-pacer.js';
import { screenText } from '../ui/screen.js';
import { sshTrace } from '../ui/trace.js';
import { loadSettingFiles, sshArgsSettings } from './settings.js';

/** Options shared by every command that talks to hosts. */
export interface ConnectionFlags {
  /** Every -i, in order (Ansible merges repeated -i); one path when it came from the settings. */
  inventory: string | string[];
  limit?: string;
  /** Every -e, in order (a later one wins). */
  extraVars?: string[];
  acceptNewHostKeys?: boolean;
  connectTimeout: number;
  commandTimeout: number;
  askBecomePass?: boolean;
  /** -b: become root with sudo where the inventory sets no ansible_become. */
  become?: boolean;
  forks: number;
  maxHandshakes: number;
  /** -u: login user where the inventory sets no ansible_user (as Ansible: inventory wins). */
  user?: string;
  /** --private-key: key where the inventory sets no ansible_ssh_private_key_file. */
  privateKey?: string;
  /** -v count. */
  verbose: number;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number');
  return n;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

function increase(_v: string, previous: number): number {
  return previous + 1;
}

export const VERBOSITY_HELP = '-v per-exec timing, -vv and task notes, -vvv remote scripts (secrets redacted), -vvvv SSH debug';

/** -v, -vv, -vvv, -vvvv: commander expands -vvv into three -v. */
export function addVerbosityOption(cmd: Command): Command {
  return cmd.option('-v, --verbose', VERBOSITY_HELP, increase, 0);
}

/** Repeatable options (-i, -e) collect every value, in order. */
export function collect(value: string, previous: string[] | string | undefined): string[] {
  // a value from the settings (commands/settings.ts) is one path; -i on the command line replaces it
  return [...(Array.isArray(previous) ? previous : []), value];
}

/** -i (repeatable), -l and -e, as every command that reads the inventory takes them. */
export function addInventoryOptions(cmd: Command): Command {
  return (
    cmd
      // Not required here: ansible.cfg or edge's settings may name it (commands/settings.ts checks).
      .option('-i, --inventory <source>', 'inventory: name (inventories/NAME.yaml), YAML or INI file, directory, or host1,host2, (repeatable: merged)', collect)
      .option('-l, --limit <pattern>', 'only these hosts: names, groups, globs, group[0], group[1:3], !exclude, &intersect, @file')
      .option('-e, --extra-vars <vars>', 'variables over every other (key=value, YAML/JSON, or @FILE; repeatable)', collect)
  );
}

/** The inventory the flags name, with -e applied (and the playbook's group_vars/host_vars, given its directory). */
export function inventoryFrom(flags: Pick<ConnectionFlags, 'inventory' | 'extraVars'>, playbookDir?: string): Inventory {
  return loadInventory(flags.inventory, { extraVars: flags.extraVars ?? [], playbookDir });
}

export function addConnectionOptions(cmd: Command): Command {
  return addVerbosityOption(
    addInventoryOptions(cmd)
      .option('-u, --user <name>', 'SSH login user where the inventory sets no ansible_user')
      .option('--private-key <file>', 'SSH key where the inventory sets no ansible_ssh_private_key_file')
      .option('--accept-new-host-keys', 'trust and record host keys not yet in known_hosts (a changed key is always refused)')
      .option('--connect-timeout <seconds>', 'TCP + SSH handshake timeout per host', positiveNumber, 10)
      .option('--command-timeout <seconds>', 'timeout of each remote command', positiveNumber, 600)
      .option('-b, --become', 'become root with sudo where the inventory sets no ansible_become (non-root logins need it)')
      .option('-K, --ask-become-pass', 'ask once for the sudo password (where the inventory sets no ansible_become_password)')
      .option('-f, --forks <n>', 'hosts worked on in parallel', positiveInt, 50)
      .option('--max-handshakes <n>', 'SSH handshakes in flight at once, whatever --forks (a connect timeout starts when its handshake does)', positiveInt, DEFAULT_MAX_HANDSHAKES),
  );
}

export async function becomePassword(ask: boolean | undefined): Promise<string | undefined> {
  if (!ask) return undefined;
  const { password } = await import('@inquirer/prompts');
  // On stderr: stdout is the command's output (--json, --list-hosts), a prompt there would corrupt it.
  return password({ message: 'sudo password (used for every host, never stored):', mask: false }, { output: process.stderr });
}

/** The connection settings every host-facing command derives from its flags (asks the sudo password once). */
export async function connectionSettings(flags: ConnectionFlags): Promise<ConnectionSettings> {
  const becomePass = await becomePassword(flags.askBecomePass);
  // -vvvv shows ssh2's protocol lines (the router's banner among them): escaped like all router text.
  const trace = sshTrace(flags.verbose ?? 0, (l) => process.stderr.write(`${screenText(l)}\n`), becomePass ? [becomePass] : []);
  return {
    acceptNewHostKeys: flags.acceptNewHostKeys === true,
    connectTimeoutMs: flags.connectTimeout * 1000,
    commandTimeoutMs: flags.commandTimeout * 1000,
    becomePassword: becomePass,
    ...(flags.become ? { become: true } : {}),
    handshakes: new HandshakePacer(flags.maxHandshakes),
    ...(flags.user ? { remoteUser: flags.user } : {}),
    ...(flags.privateKey ? { privateKeyFile: flags.privateKey } : {}),
    ...(trace ? { trace } : {}),
    sshArgs: sshArgsSettings(loadSettingFiles()),
  };
}

import { InvalidArgumentError, type Command } from 'commander';
import type { ConnectionSettings } from '../engine/connect.js';
import { sshTrace } from '../ui/trace.js';

/** Options shared by every command that talks to hosts. */
export interface ConnectionFlags {
  inventory: string;
  limit?: string;
  acceptNewHostKeys?: boolean;
  connectTimeout: number;
  commandTimeout: number;
  askBecomePass?: boolean;
  forks: number;
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

export function addConnectionOptions(cmd: Command): Command {
  return addVerbosityOption(
    cmd
      // Not required here: ansible.cfg or edge's settings may name it (commands/settings.ts checks).
      .option('-i, --inventory <name>', 'inventory name (inventories/NAME.yaml) or path')
      .option('-l, --limit <pattern>', 'only these hosts: names, groups, globs, !exclude, &intersect')
      .option('-u, --user <name>', 'SSH login user where the inventory sets no ansible_user')
      .option('--private-key <file>', 'SSH key where the inventory sets no ansible_ssh_private_key_file')
      .option('--accept-new-host-keys', 'trust and record host keys not yet in known_hosts (a changed key is always refused)')
      .option('--connect-timeout <seconds>', 'TCP + SSH handshake timeout per host', positiveNumber, 10)
      .option('--command-timeout <seconds>', 'timeout of each remote command', positiveNumber, 600)
      .option('-K, --ask-become-pass', 'ask once for the sudo password of non-root login users')
      .option('-f, --forks <n>', 'hosts worked on in parallel', positiveInt, 50),
  );
}

export async function becomePassword(ask: boolean | undefined): Promise<string | undefined> {
  if (!ask) return undefined;
  const { password } = await import('@inquirer/prompts');
  return password({ message: 'sudo password (used for every host, never stored):', mask: false });
}

/** The connection settings every host-facing command derives from its flags (asks the sudo password once). */
export async function connectionSettings(flags: ConnectionFlags): Promise<ConnectionSettings> {
  const becomePass = await becomePassword(flags.askBecomePass);
  const trace = sshTrace(flags.verbose ?? 0, (l) => process.stderr.write(`${l}\n`), becomePass ? [becomePass] : []);
  return {
    acceptNewHostKeys: flags.acceptNewHostKeys === true,
    connectTimeoutMs: flags.connectTimeout * 1000,
    commandTimeoutMs: flags.commandTimeout * 1000,
    becomePassword: becomePass,
    ...(flags.user ? { remoteUser: flags.user } : {}),
    ...(flags.privateKey ? { privateKeyFile: flags.privateKey } : {}),
    ...(trace ? { trace } : {}),
  };
}

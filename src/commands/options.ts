import { InvalidArgumentError, type Command } from 'commander';
import type { ConnectionSettings } from '../engine/connect.js';
import { DEFAULT_MAX_HANDSHAKES, HandshakePacer } from '../ssh/handshake-pacer.js';

/** Options shared by every command that talks to hosts. */
export interface ConnectionFlags {
  inventory: string;
  limit?: string;
  acceptNewHostKeys?: boolean;
  connectTimeout: number;
  commandTimeout: number;
  askBecomePass?: boolean;
  forks: number;
  maxHandshakes: number;
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

export function addConnectionOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-i, --inventory <name>', 'inventory name (inventories/NAME.yaml) or path')
    .option('-l, --limit <pattern>', 'only these hosts: names, groups, globs, !exclude, &intersect')
    .option('--accept-new-host-keys', 'trust and record host keys not yet in known_hosts (a changed key is always refused)')
    .option('--connect-timeout <seconds>', 'TCP + SSH handshake timeout per host', positiveNumber, 10)
    .option('--command-timeout <seconds>', 'timeout of each remote command', positiveNumber, 600)
    .option('-K, --ask-become-pass', 'ask once for the sudo password of non-root login users')
    .option('-f, --forks <n>', 'hosts worked on in parallel', positiveInt, 50)
    .option('--max-handshakes <n>', 'SSH handshakes in flight at once, whatever --forks (a connect timeout starts when its handshake does)', positiveInt, DEFAULT_MAX_HANDSHAKES);
}

export async function becomePassword(ask: boolean | undefined): Promise<string | undefined> {
  if (!ask) return undefined;
  const { password } = await import('@inquirer/prompts');
  return password({ message: 'sudo password (used for every host, never stored):', mask: false });
}

/** The connection settings every host-facing command derives from its flags (asks the sudo password once). */
export async function connectionSettings(flags: ConnectionFlags): Promise<ConnectionSettings> {
  return {
    acceptNewHostKeys: flags.acceptNewHostKeys === true,
    connectTimeoutMs: flags.connectTimeout * 1000,
    commandTimeoutMs: flags.commandTimeout * 1000,
    becomePassword: await becomePassword(flags.askBecomePass),
    handshakes: new HandshakePacer(flags.maxHandshakes),
  };
}

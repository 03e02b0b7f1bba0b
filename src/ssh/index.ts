/** The SSH layer's public surface (see shared/DESIGN.md: src/ssh imports nothing above it). */
export {
  appendKnownHost,
  fingerprint,
  hashHostName,
  hostKeyName,
  loadKnownHosts,
  lookup,
  parseKnownHosts,
  type KnownHosts,
  type LookupResult,
  type LookupStatus,
} from './known-hosts.js';
export {
  askAhead,
  parseProxyJump,
  resolveHost,
  resolveTarget,
  sshConfigValues,
  type InventoryConnection,
  type ResolvedHost,
  type ResolvedTarget,
  type SshConfigOptions,
} from './ssh-config.js';
export { SshConnection } from './connection.js';
export type { ConnectOptions, ExecOptions, ExecResult, SshTarget } from './types.js';

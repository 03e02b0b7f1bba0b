import { readFileSync } from 'node:fs';

/**
 * What a command run "in" the lab may do to the host. Routers share the host's kernel: a process
 * with the host's full capabilities inside a router's namespaces can still step the host's clock
 * (CAP_SYS_TIME), load modules, and so on, for every lab at once. So `lab exec` and `lab run`
 * (tests) give a command exactly the capability bounding set of the router's own init — what
 * systemd-nspawn left a router's root, plus the CAP_NET_ADMIN and CAP_NET_RAW the lab grants — and
 * the lab's other namespaces (LAN client, ISPs, internet) the same, which is all their faults need.
 */

/** Capability names by number (linux/capability.h), as setpriv(1) takes them. */
const CAP_NAMES = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'linux_immutable',
  'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot',
  'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease',
  'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read',
  'perfmon', 'bpf', 'checkpoint_restore',
] as const;

/** The names of the capabilities in a /proc/PID/status mask (hex). Unknown bits are left out: never granted. */
export function decodeCaps(hex: string): string[] {
  const mask = BigInt(`0x${hex}`);
  return CAP_NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

/** A process's capability bounding set. */
export function boundingSet(pid: number): string[] {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no CapBnd in /proc/${pid}/status`);
  return decodeCaps(m[1]!);
}

/** argv run with no capability outside `caps` (for root, the bounding set is what it gets after exec). */
export function withCapsOnly(caps: readonly string[], argv: readonly string[]): string[] {
  return ['setpriv', '--bounding-set', ['-all', ...caps.map((c) => `+${c}`)].join(','), '--', ...argv];
}

/**
 * The sysctl sink: keys and values written to /etc/sysctl.d and given to `sysctl -w` as root.
 * Only the networking families a dual-WAN router needs are allowed: any other key (say
 * kernel.core_pattern, kernel.modprobe, fs.suid_dumpable) can hand root to whoever sets it.
 */

export const SYSCTL_FAMILIES = ['net.ipv4.', 'net.ipv6.', 'net.netfilter.', 'net.core.'] as const;

// Components are separated by `.` (or `/` inside one, for an interface such as eth0.100 written
// eth0/100); procps and systemd-sysctl swap `.` and `/`, so an empty component (`//`) would become
// `..` in the /proc/sys path and leave the family: every component is non-empty.
/** An allowed key (also the inventory schema's pattern, so editors check it too). */
export const SYSCTL_KEY_PATTERN = /^net\.(?:ipv4|ipv6|netfilter|core)\.[a-z0-9_-]+(?:[./][a-z0-9_-]+)*$/;
export const SYSCTL_KEY_RULE = `a sysctl key in the families edge sets (${SYSCTL_FAMILIES.map((f) => `${f}*`).join(', ')}), components of a-z 0-9 _ - separated by . or /, at most 200 characters: other kernel settings (kernel.core_pattern, kernel.modprobe, fs.*) can run commands as root`;
// systemd-sysctl trims the value at boot: one that needed its edge white space would apply differently.
/** A writable value: printable ASCII on one line, no white space at either end, at most 1024 characters. */
export const SYSCTL_VALUE_PATTERN = /^(?:[\x21-\x7e](?:[\x20-\x7e\t]{0,1022}[\x21-\x7e])?)?$/;
export const SYSCTL_VALUE_RULE = 'a sysctl value is printable ASCII on one line (inner spaces and tabs allowed, none at either end: systemd-sysctl trims them), at most 1024 characters';

/** A key for /etc/sysctl.d or `sysctl -w`; refused unless allowed. */
export function sysctlKey(key: string): string {
  if (key.length > 200 || !SYSCTL_KEY_PATTERN.test(key)) throw new Error(`refusing to render sysctl key ${JSON.stringify(key)}: expected ${SYSCTL_KEY_RULE}`);
  return key;
}

/** A value for /etc/sysctl.d or `sysctl -w`; refused unless representable. */
export function sysctlValue(value: string): string {
  if (!SYSCTL_VALUE_PATTERN.test(value)) throw new Error(`refusing to render sysctl value ${JSON.stringify(value)}: ${SYSCTL_VALUE_RULE}`);
  return value;
}

/** One `key = value` line of a sysctl.d file. */
export function sysctlLine(key: string, value: string): string {
  return `${sysctlKey(key)} = ${sysctlValue(value)}`;
}

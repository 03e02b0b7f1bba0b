import { shQuote } from '../encode/index.js';
import { shellCall } from '../router-files.js';
import { ifaceSysctlProbe } from './iface-sysctl.js';
import type { FactNeeds } from './types.js';

/**
 * The one script that gathers everything the tasks read, in a single remote exec.
 * Each section starts with a marker line `@@EDGE@@ NAME [ARG]`; parse.ts splits on it.
 * JSON output of `ip -j` and `nft -j` is used where the host has it. Read-only: check mode relies
 * on this never changing anything.
 */
export const MARK = '@@EDGE@@';

function section(name: string, body: string): string {
  return `echo '${MARK} ${name}'\n{ ${body}\n} 2>/dev/null || true\n`;
}

export interface ProbeOptions {
  /**
   * Per file, the sha256 the run expects to find (content-hash.ts). A file that hashes to it comes
   * back as its hash alone; any other existing file comes back with its content too.
   */
  expect?: Readonly<Record<string, string>>;
  /**
   * Read-only check scripts, run after the facts are read: each comes back as section
   * `check NAME` with its exit status and its stderr (parseChecks). Skipped when the exec sets
   * NO_CHECKS_VAR: --check carries them too, so its probe is the script a run cached on the host.
   */
  checks?: Readonly<Record<string, string>>;
  /** gzip the output where the host has gzip: the exec must be told to decompress it. */
  compress?: boolean;
}

/** A file: kind, mode and owner, its hash, and its content unless the hash is the expected one. */
function fileSection(path: string, expected: string | undefined): string {
  const p = shQuote(path);
  const content = `base64 -w0 ${p}; echo`;
  const body = [
    `if [ -d ${p} ]; then echo dir; elif [ -e ${p} ]; then stat -c 'file %a %U %G' ${p}`,
    `h=$(sha256sum < ${p}); h=\${h%% *}; echo "sha256 $h"`,
    expected ? `[ "$h" = ${shQuote(expected)} ] || { ${content}; }` : content,
    'else echo absent; fi',
  ];
  return section(`file ${path}`, body.join('\n'));
}

/** Set (to anything) before the probe runs, its checks are skipped: what --check does. */
export const NO_CHECKS_VAR = 'edge_no_checks';

/**
 * A check in a bash of its own (carried as base64, so no quoting can break out): its exit status,
 * then its stderr, each line behind "| " so that no line of it can pass for a section marker.
 */
function checkSection(name: string, script: string): string {
  const b64 = Buffer.from(script).toString('base64');
  return [
    `echo '${MARK} check ${name}'`,
    `edge_out=$(printf %s '${b64}' | base64 -d | bash 2>&1 >/dev/null); printf 'exit %s\n' "$?"`,
    `[ -z "$edge_out" ] || printf '%s\n' "$edge_out" | sed 's/^/| /'`,
    '',
  ].join('\n');
}

/** Every directory above the given absolute paths, but /: where a symbolic link would redirect a write. */
function ancestorDirs(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) for (let d = p.slice(0, p.lastIndexOf('/')); d.length > 0; d = d.slice(0, d.lastIndexOf('/'))) out.add(d);
  return [...out].sort();
}

/** Just the given files, content always (the second look when a diff needs what came back as a hash). */
export function filesScript(paths: readonly string[]): string {
  return compressed(['export LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin', ...paths.map((p) => fileSection(p, undefined)), `echo '${MARK} end'`]);
}

/** The script's output gzipped where the host has gzip: the exec must be told to decompress it. */
function compressed([env, ...body]: string[]): string {
  // JSON of ip and nft compresses about tenfold; every Debian has gzip (Essential), others may not.
  return [env, 'edge_probe() {', ...body, '}', 'if command -v gzip >/dev/null 2>&1; then edge_probe | gzip -6c; else edge_probe; fi'].join('\n');
}

/**
 * The IPv6 prefix each WAN was delegated (DHCPv6-PD), as "IFNAME PREFIX" lines, newest last:
 * systemd-networkd says so only in its log (its state files and `networkctl` do not name the link a
 * delegated prefix came from); dhclient -6 -P writes it into its per-interface lease file.
 */
/** The prefixes the WANs' DHCPv6 clients were delegated: the function edge-routes follows them with. */
const DELEGATED_PREFIXES = shellCall('lib.sh', 'delegated_prefixes');

/**
 * $SSH_CONNECTION of the session edge runs in. Through sudo, env_reset has dropped it from this
 * shell's environment, so it is read from the nearest ancestor that still has it (sudo itself, or
 * the login shell sshd started): root may read any process's environ.
 */
export const SESSION_SCRIPT = [
  's=${SSH_CONNECTION:-} p=$$',
  'while [ -z "$s" ] && [ "$p" -gt 1 ] 2>/dev/null; do',
  '  p=$(sed \'s/.*) //\' "/proc/$p/stat" | cut -d" " -f2) || break',
  '  s=$(tr "\\0" "\\n" < "/proc/$p/environ" | sed -n "s/^SSH_CONNECTION=//p" | head -n 1)',
  'done',
  'printf "%s\\n" "$s"',
].join('\n');

export function probeScript(needs: FactNeeds, opts: ProbeOptions = {}): string {
  const parts: string[] = [
    'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    section('hostname', 'hostname'),
    section('uid', 'id -u'),
    section('kernel', 'uname -r'),
    section('os-release', 'cat /etc/os-release'),
    section('session', SESSION_SCRIPT),
    section('ip-link', 'ip -j -d link show'),
    section('ip-addr', 'ip -j addr show'),
    section('ip-route', 'ip -j route show table all'),
    section('ip-rule', 'ip -j rule show'),
    section('ip-rule-text', 'ip rule show'),
    section('ip6-route', 'ip -6 -j route show table all'),
    section('ip6-rule', 'ip -6 -j rule show'),
    section('ip6-rule-text', 'ip -6 rule show'),
    section('ip6-pd', DELEGATED_PREFIXES),
    section('nft-tables', 'nft -j list tables'),
    section('rt-tables', 'cat /etc/iproute2/rt_tables /usr/share/iproute2/rt_tables /etc/iproute2/rt_tables.d/*.conf'),
    section(
      'netmgr',
      [
        'for u in systemd-networkd NetworkManager networking; do printf "%s %s\\n" "$u" "$(systemctl is-active "$u" 2>/dev/null || true)"; done',
        '[ -f /etc/network/interfaces ] && echo "ifupdown-config $(grep -cE \'^\\s*(iface|auto|allow-)\' /etc/network/interfaces)"',
        'ls /etc/netplan/*.yaml >/dev/null 2>&1 && echo "netplan present"',
        'ls /etc/systemd/network/*.network >/dev/null 2>&1 && echo "networkd-config present"',
        // DHCP clients that run as their own program (ifupdown starts one per DHCP interface)
        "cat /proc/[0-9]*/comm 2>/dev/null | grep -xE 'dhclient|dhcpcd|udhcpc|pump|dhcp6c' | sort -u | sed 's/^/dhcp-client /'",
      ].join('\n'),
    ),
    section('speed', 'for d in /sys/class/net/*; do printf "%s %s\\n" "${d##*/}" "$(cat "$d/speed" 2>/dev/null || echo -)"; done'),
  ];
  for (const t of needs.nftTables) {
    const [family, name] = t.split(' ');
    parts.push(section(`nft-table ${t}`, `nft list table ${shQuote(family ?? '')} ${shQuote(name ?? '')}`));
  }
  if (needs.sysctl.length) {
    const keys = needs.sysctl.map(shQuote).join(' ');
    parts.push(section('sysctl', `for k in ${keys}; do printf "%s\\t%s\\n" "$k" "$(sysctl -n "$k" 2>/dev/null || echo '@@missing')"; done`));
    const ifaces = ifaceSysctlProbe(needs.sysctl);
    if (ifaces) parts.push(section('sysctl-ifaces', ifaces));
  }
  if (needs.packages.length) {
    const pkgs = needs.packages.map(shQuote).join(' ');
    parts.push(
      section('packages', `dpkg-query -W -f '\${Package}\\t\${db:Status-Status}\\t\${Version}\\n' ${pkgs}`),
    );
  }
  if (needs.units.length) {
    const units = needs.units.map(shQuote).join(' ');
    parts.push(section('units', `systemctl show -p Id,LoadState,ActiveState,UnitFileState ${units}`));
  }
  const dirs = ancestorDirs(needs.files);
  if (dirs.length) parts.push(section('linked-dirs', `for d in ${dirs.map(shQuote).join(' ')}; do [ ! -L "$d" ] || printf '%s\\t%s\\n' "$d" "$(readlink -- "$d")"; done`));
  for (const f of needs.files) parts.push(fileSection(f, opts.expect?.[f]));
  const checks = Object.entries(opts.checks ?? {}).map(([name, script]) => checkSection(name, script));
  if (checks.length) parts.push(`if [ -z "\${${NO_CHECKS_VAR}:-}" ]; then`, ...checks, 'fi');
  parts.push(`echo '${MARK} end'`);
  return opts.compress ? compressed(parts) : parts.join('\n');
}

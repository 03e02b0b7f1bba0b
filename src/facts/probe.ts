import { shQuote } from '../ssh/quote.js';
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

export function probeScript(needs: FactNeeds): string {
  const parts: string[] = [
    'export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    section('hostname', 'hostname'),
    section('uid', 'id -u'),
    section('kernel', 'uname -r'),
    section('os-release', 'cat /etc/os-release'),
    section('session', 'printf "%s\\n" "${SSH_CONNECTION:-}"'),
    section('ip-link', 'ip -j -d link show'),
    section('ip-addr', 'ip -j addr show'),
    section('ip-route', 'ip -j route show table all'),
    section('ip-rule', 'ip -j rule show'),
    section('ip-rule-text', 'ip rule show'),
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
  for (const f of needs.files) {
    const p = shQuote(f);
    parts.push(
      section(
        `file ${f}`,
        `if [ -d ${p} ]; then echo dir; elif [ -e ${p} ]; then stat -c 'file %a %U %G' ${p}; base64 -w0 ${p}; echo; else echo absent; fi`,
      ),
    );
  }
  parts.push(`echo '${MARK} end'`);
  return parts.join('\n');
}

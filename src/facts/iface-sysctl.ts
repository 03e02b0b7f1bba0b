import { shQuote } from '../encode/index.js';

/**
 * Per-interface kernel settings behind a run's `all` and `default` keys. Setting
 * net.ipv4.conf.default.rp_filter changes no existing interface, but every interface made later —
 * at the next boot, all of them — takes it; net.ipv4.ip_forward (= conf.all.forwarding) rewrites
 * every interface's own value at once. So a snapshot of such a key also saves that setting of
 * every interface (from the facts, i.e. before the run), and the restore puts each back: the
 * rollback after a reboot leaves no interface with what the run's `default` gave it.
 */
export interface IfaceSetting {
  family: 'ipv4' | 'ipv6';
  /** The setting's name under conf/IFACE/ (rp_filter, forwarding). */
  name: string;
}

const CONF_KEY = /^net\.(ipv4|ipv6)\.conf\.(?:all|default)\.([a-z0-9_-]+)$/;

/** The per-interface setting a key stands for, if it is an `all`/`default` one (or ip_forward). */
export function ifaceSettingOf(key: string): IfaceSetting | undefined {
  if (key === 'net.ipv4.ip_forward') return { family: 'ipv4', name: 'forwarding' };
  const m = CONF_KEY.exec(key);
  return m ? { family: m[1] as 'ipv4' | 'ipv6', name: m[2]! } : undefined;
}

/** The facts' key of a setting: "ipv4/rp_filter". */
export const ifaceSettingId = (s: IfaceSetting): string => `${s.family}/${s.name}`;

/** The distinct settings behind `keys`, in first-seen order. */
export function ifaceSettings(keys: readonly string[]): IfaceSetting[] {
  const out = new Map<string, IfaceSetting>();
  for (const k of keys) {
    const s = ifaceSettingOf(k);
    if (s && !out.has(ifaceSettingId(s))) out.set(ifaceSettingId(s), s);
  }
  return [...out.values()];
}

/** Probe shell: one line "FAMILY/NAME<TAB>IFACE<TAB>VALUE" per interface and setting ('' if none). */
export function ifaceSysctlProbe(keys: readonly string[]): string {
  const ids = ifaceSettings(keys).map(ifaceSettingId);
  if (!ids.length) return '';
  return [
    `for fk in ${ids.map(shQuote).join(' ')}; do`,
    '  for p in /proc/sys/net/"${fk%%/*}"/conf/*/"${fk#*/}"; do',
    '    [ -f "$p" ] || continue',
    '    i=${p%/*}; i=${i##*/}',
    '    case $i in all|default) continue ;; esac',
    '    v=$(cat "$p" 2>/dev/null) || continue',
    '    printf "%s\\t%s\\t%s\\n" "$fk" "$i" "$v"',
    '  done',
    'done',
  ].join('\n');
}

/** The probe's lines: setting id → interface → value. */
export function parseIfaceSysctl(text: string | undefined): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const line of (text ?? '').split('\n')) {
    const [id, iface, value, ...rest] = line.split('\t');
    if (!id || !iface || value === undefined || rest.length) continue;
    (out[id] ??= {})[iface] = value.trim();
  }
  return out;
}

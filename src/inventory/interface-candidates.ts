import type { Facts, InterfaceFact, RouteFact } from '../facts/types.js';
// a pure leaf module (no imports of its own); lives with the tasks that used it first
import { containsAddress } from '../ipv4.js';

/**
 * Which of a host's interfaces could be WAN1, WAN2, LAN and management, read from its facts
 * (pure): the rows `edge pick` shows, the choice it preselects, and the check that refuses an
 * impossible assignment.
 */

export type Role = 'wan1' | 'wan2' | 'lan' | 'mgmt';
export const ROLES: readonly Role[] = ['wan1', 'wan2', 'lan', 'mgmt'];
export const ROLE_LABELS: Record<Role, string> = { wan1: 'WAN1', wan2: 'WAN2', lan: 'LAN', mgmt: 'management' };
/** The inventory variable of each role. */
export const ROLE_VARS = {
  wan1: 'edge_wan1_interface',
  wan2: 'edge_wan2_interface',
  lan: 'edge_lan_interface',
  mgmt: 'edge_mgmt_interface',
} as const satisfies Record<Role, string>;
/** Management is optional: a router may be managed over its LAN or a WAN. */
export const REQUIRED_ROLES: readonly Role[] = ['wan1', 'wan2', 'lan'];

export type RoleChoice = Partial<Record<Role, string>>;

export interface DefaultRoute {
  table: string;
  gateway?: string;
  metric?: number;
}

export interface CandidateRow {
  name: string;
  /** Operational state as the kernel reports it (UP, DOWN, ...), "DOWN (disabled)" when administratively down. */
  state: string;
  mac?: string;
  kind?: string;
  /** "198.51.100.10/29", IPv4 first; " dhcp" marks a dynamic address. Link-local IPv6 is left out. */
  addresses: string[];
  defaultRoutes: DefaultRoute[];
  /** Gateways of its default routes, once each. */
  gateways: string[];
  speedMbps?: number;
  /** Holds an RFC 1918 IPv4 address (10/8, 172.16/12, 192.168/16). */
  private: boolean;
}

const RFC1918 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

export function isPrivateIPv4(address: string): boolean {
  return RFC1918.some((c) => containsAddress(c, address));
}

/** lo, and the veths edge itself creates for keepalived (edge-ka*): never a choice. */
function isOwnOrLoopback(i: InterfaceFact): boolean {
  return i.name === 'lo' || i.kind === 'loopback' || i.name.startsWith('edge-ka');
}

function isDefaultRouteOf(r: RouteFact, dev: string): boolean {
  const usable = r.type === undefined || r.type === 'unicast';
  return r.dst === 'default' && r.dev === dev && usable;
}

function v4(i: InterfaceFact) {
  return i.addresses.filter((a) => a.family === 'inet');
}

export function interfaceCandidates(facts: Pick<Facts, 'interfaces' | 'routes'>): CandidateRow[] {
  return facts.interfaces
    .filter((i) => !isOwnOrLoopback(i))
    .sort((a, b) => a.index - b.index)
    .map((i) => {
      const defaultRoutes = facts.routes
        .filter((r) => isDefaultRouteOf(r, i.name))
        .map((r) => ({ table: r.table, ...(r.gateway ? { gateway: r.gateway } : {}), ...(r.metric !== undefined ? { metric: r.metric } : {}) }));
      const addresses = [...v4(i), ...i.addresses.filter((a) => a.family === 'inet6' && a.scope !== 'link')].map(
        (a) => `${a.address}/${a.prefixlen}${a.dynamic ? ' dhcp' : ''}`,
      );
      const row: CandidateRow = {
        name: i.name,
        state: i.up ? i.operstate : `${i.operstate} (disabled)`,
        addresses,
        defaultRoutes,
        gateways: [...new Set(defaultRoutes.map((r) => r.gateway).filter((g): g is string => g !== undefined))],
        private: v4(i).some((a) => isPrivateIPv4(a.address)),
      };
      if (i.mac) row.mac = i.mac;
      if (i.kind) row.kind = i.kind;
      if (i.speedMbps !== undefined) row.speedMbps = i.speedMbps;
      return row;
    });
}

function rowAddresses(r: CandidateRow): string[] {
  return r.addresses.map((a) => a.split('/')[0]!);
}

export interface LikelyContext {
  /** edge_mgmt_subnets of the host. */
  mgmtSubnets?: readonly string[];
  /** The host address edge's SSH session arrived on (facts.session.serverAddress). */
  serverAddress?: string;
  /** What the inventory says now: kept when the interface exists and is not taken. */
  current?: RoleChoice;
}

/**
 * The likely choice per role, in this order (each interface used once):
 * 1. what the inventory already says, for interfaces the host has;
 * 2. management: an interface with an address in edge_mgmt_subnets — the operator's own statement;
 * 3. WANs: interfaces holding a default route, main-table routes first, lowest metric first
 *    (WAN1 = the preferred route), then by interface index;
 * 4. management again: the interface edge's SSH session came in on, when it is not a WAN and
 *    another private-addressed interface is left for the LAN (else the LAN is the management path);
 * 5. LAN: the first interface with an RFC 1918 address and no default route.
 * A role with no likely interface stays unset (the picker then preselects nothing in particular).
 */
export function likelyRoles(rows: readonly CandidateRow[], ctx: LikelyContext = {}): RoleChoice {
  const out: RoleChoice = {};
  const taken = () => new Set(Object.values(out));
  const exists = (name: string | undefined) => name !== undefined && rows.some((r) => r.name === name);
  for (const role of ROLES) {
    const c = ctx.current?.[role];
    if (exists(c) && !taken().has(c!)) out[role] = c;
  }
  const free = () => rows.filter((r) => !taken().has(r.name));

  if (!out.mgmt && ctx.mgmtSubnets?.length) {
    const m = free().find((r) => rowAddresses(r).some((a) => ctx.mgmtSubnets!.some((s) => containsAddress(s, a))));
    if (m) out.mgmt = m.name;
  }

  const minMetric = (r: CandidateRow, main: boolean) =>
    Math.min(...r.defaultRoutes.filter((d) => (d.table === 'main') === main).map((d) => d.metric ?? 0));
  const wans = free()
    .filter((r) => r.defaultRoutes.length > 0)
    .map((r, i) => ({ r, i, inMain: r.defaultRoutes.some((d) => d.table === 'main') }))
    .sort((a, b) => Number(b.inMain) - Number(a.inMain) || minMetric(a.r, a.inMain) - minMetric(b.r, b.inMain) || a.i - b.i)
    .map((x) => x.r.name);
  for (const role of ['wan1', 'wan2'] as const) {
    if (out[role]) continue;
    const w = wans.find((n) => !taken().has(n));
    if (w) out[role] = w;
  }

  const lanLike = (r: CandidateRow) => r.private && r.defaultRoutes.length === 0;
  if (!out.mgmt && ctx.serverAddress) {
    const s = free().find((r) => rowAddresses(r).includes(ctx.serverAddress!));
    const otherLan = s && free().some((r) => r.name !== s.name && lanLike(r));
    if (s && s.defaultRoutes.length === 0 && (out.lan || otherLan)) out.mgmt = s.name;
  }
  if (!out.lan) {
    const l = free().find(lanLike);
    if (l) out.lan = l.name;
  }
  return out;
}

/**
 * What is wrong with an assignment: a required role unset, an interface the host does not have
 * (when `rows` is given), one interface in two roles. Empty: it can be written.
 */
export function validateRoles(roles: RoleChoice, rows?: readonly CandidateRow[]): string[] {
  const problems: string[] = [];
  for (const role of REQUIRED_ROLES) if (!roles[role]) problems.push(`${ROLE_LABELS[role]} is not chosen`);
  if (rows) {
    for (const role of ROLES) {
      const n = roles[role];
      if (n && !rows.some((r) => r.name === n)) problems.push(`${ROLE_LABELS[role]}: the host has no interface ${n}`);
    }
  }
  const seen = new Map<string, Role>();
  for (const role of ROLES) {
    const n = roles[role];
    if (!n) continue;
    const first = seen.get(n);
    if (first) problems.push(`${n} cannot be both ${ROLE_LABELS[first]} and ${ROLE_LABELS[role]}`);
    else seen.set(n, role);
  }
  return problems;
}

function speedText(mbps: number | undefined): string {
  if (mbps === undefined || mbps <= 0) return '';
  return mbps >= 1000 && mbps % 1000 === 0 ? `${mbps / 1000}G` : `${mbps}M`;
}

function routesText(r: CandidateRow, short = false): string {
  return r.defaultRoutes
    .map((d) => {
      const table = d.table === 'main' ? '' : ` table ${d.table}`;
      const metric = d.metric !== undefined ? ` metric ${d.metric}` : '';
      if (short) return `${d.gateway ?? 'no gateway'}${metric}${table}`;
      return `default${d.gateway ? ` via ${d.gateway}` : ''}${metric}${table}`;
    })
    .join('; ');
}

/**
 * One line per interface under a header: name, state, MAC, addresses, default routes, speed; then a
 * role column when given. A table keeps its shape rather than wrap: wider than `width`, it leaves
 * out MAC (the picker shows it with each choice), then SPEED, then says routes as "via GW".
 */
export function candidatesTable(rows: readonly CandidateRow[], roles: RoleChoice = {}, width = Infinity): string {
  const roleOf = (name: string) =>
    ROLES.filter((r) => roles[r] === name)
      .map((r) => ROLE_LABELS[r])
      .join(', ');
  const layouts = [{ drop: [] as number[], short: false }, { drop: [2], short: false }, { drop: [2, 5], short: false }, { drop: [2, 5], short: true }];
  let text = '';
  for (const { drop, short } of layouts) {
    const header = ['INTERFACE', 'STATE', 'MAC', 'ADDRESSES', short ? 'DEFAULT VIA' : 'DEFAULT ROUTES', 'SPEED', 'LIKELY'];
    const table = rows.map((r) => [r.name, r.state, r.mac ?? '', r.addresses.join(', ') || '-', routesText(r, short) || '-', speedText(r.speedMbps), roleOf(r.name)]);
    // MAC, SPEED and LIKELY columns only when some interface has something to show in them
    const cols = header.map((_, c) => c).filter((c) => !drop.includes(c) && ((c < 5 && c !== 2) || table.some((row) => row[c] !== '')));
    const all = [header, ...table].map((row) => cols.map((c) => row[c]!));
    const widths = cols.map((_, k) => Math.max(...all.map((row) => row[k]!.length)));
    text = all.map((row) => row.map((cell, k) => cell.padEnd(widths[k]!)).join('  ').trimEnd()).join('\n');
    if (widest(text) <= width) return text;
  }
  return width === Infinity ? text : wrappedTable(rows, roleOf, width);
}

const widest = (text: string) => Math.max(...text.split('\n').map((l) => l.length));

/**
 * The last resort where even the shortest layout is too wide (IPv6 addresses and link-local
 * gateways): DEFAULT VIA (gateways only) and ADDRESSES share what the other columns leave of
 * `width`, each address or gateway on a line of its own under the row, wrapped at its words (a
 * word too long for its column is broken, never cut), so no line is wider than the terminal.
 */
function wrappedTable(rows: readonly CandidateRow[], roleOf: (name: string) => string, width: number): string {
  const via = (r: CandidateRow) => r.defaultRoutes.map((d) => `${d.gateway ?? 'no gateway'}${d.table === 'main' ? '' : ` table ${d.table}`}`);
  const cells = rows.map((r) => [[r.name], [r.state], r.addresses.length ? r.addresses : ['-'], r.defaultRoutes.length ? via(r) : ['-'], [roleOf(r.name)]]);
  const header = ['INTERFACE', 'STATE', 'ADDRESSES', 'DEFAULT VIA', 'LIKELY'];
  const natural = header.map((h, c) => Math.max(h.length, ...cells.map((row) => Math.max(...row[c]!.map((x) => x.length)))));
  const rest = Math.max(24, width - (natural[0]! + natural[1]! + natural[4]! + 2 * 4));
  const viaW = Math.min(natural[3]!, Math.floor(rest / 2));
  const widths = [natural[0]!, natural[1]!, rest - viaW, viaW, natural[4]!];
  const lines = (items: string[], w: number) => items.flatMap((item) => wrapWords(item, w));
  const out = [header.map((h, k) => h.padEnd(widths[k]!)).join('  ').trimEnd()];
  for (const row of cells) {
    const col = row.map((c, k) => lines(c, widths[k]!));
    const height = Math.max(...col.map((c) => c.length));
    for (let i = 0; i < height; i++) out.push(col.map((c, k) => (c[i] ?? '').padEnd(widths[k]!)).join('  ').trimEnd());
  }
  return out.join('\n');
}

/** `text` in lines of at most `w`, broken at spaces; a word longer than `w` is broken too (nothing is lost). */
function wrapWords(text: string, w: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (let word of text.split(' ')) {
    while (word.length > w) {
      if (cur) out.push(cur);
      out.push(word.slice(0, w));
      word = word.slice(w);
      cur = '';
    }
    if (cur && cur.length + 1 + word.length > w) {
      out.push(cur);
      cur = word;
    } else cur = cur ? `${cur} ${word}` : word;
  }
  return [...out, cur];
}

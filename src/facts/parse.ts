import { EdgeError } from '../errors.js';
import { MARK } from './probe.js';
import { parseIfaceSysctl } from './iface-sysctl.js';
import type {
  Facts,
  FileFact,
  InterfaceFact,
  NetworkManagerKind,
  NftTableFact,
  PackageFact,
  RouteFact,
  RuleFact,
  UnitFact,
} from './types.js';

/** Splits probe output into sections keyed by "NAME" or "NAME ARG". */
export function splitSections(out: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current: string | undefined;
  let buf: string[] = [];
  for (const line of out.split('\n')) {
    if (line.startsWith(`${MARK} `)) {
      if (current !== undefined) sections.set(current, buf.join('\n'));
      current = line.slice(MARK.length + 1);
      buf = [];
    } else if (current !== undefined) buf.push(line);
  }
  if (current !== undefined && current !== 'end') sections.set(current, buf.join('\n'));
  return sections;
}

/**
 * What a JSON-printing command on the host must print: malformed output (a broken or hostile host)
 * is refused naming the command and what was wrong, never read as "nothing there".
 */
interface JsonSource {
  command: string;
  expected: string;
  valid(v: unknown): boolean;
}
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const listOf = (ok: (o: Record<string, unknown>) => boolean) => (v: unknown) => Array.isArray(v) && v.every((o) => isObject(o) && ok(o));

const IP_LINK: JsonSource = {
  command: 'ip -j -d link show',
  expected: 'a list of links, each with a string "ifname" and a number "ifindex"',
  valid: listOf((o) => typeof o.ifname === 'string' && typeof o.ifindex === 'number' && (o.flags === undefined || Array.isArray(o.flags))),
};
const IP_ADDR: JsonSource = {
  command: 'ip -j addr show',
  expected: 'a list of links, each with a string "ifname" and a list "addr_info" of objects',
  valid: listOf((o) => typeof o.ifname === 'string' && (o.addr_info === undefined || listOf(() => true)(o.addr_info))),
};
const IP_ROUTE: JsonSource = {
  command: 'ip -j route show table all',
  expected: 'a list of routes, each with a string "dst"',
  valid: listOf((o) => typeof o.dst === 'string' && (o.flags === undefined || Array.isArray(o.flags))),
};
const IP_RULE: JsonSource = {
  command: 'ip -j rule show',
  expected: 'a list of rules, each with a number "priority"',
  valid: listOf((o) => typeof o.priority === 'number'),
};
const NFT_TABLES: JsonSource = {
  command: 'nft -j list tables',
  expected: 'an object whose "nftables" is a list of objects',
  valid: (v) => isObject(v) && (v.nftables === undefined || listOf(() => true)(v.nftables)),
};

/** Empty output (the command is missing or failed) reads as `fallback`; anything else must be what `src` prints. */
function json<T>(text: string | undefined, fallback: T, src: JsonSource): T {
  if (!text || !text.trim()) return fallback;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`\`${src.command}\` printed output that is not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!src.valid(v)) throw new Error(`\`${src.command}\` printed JSON that is not ${src.expected}`);
  return v as T;
}

interface IpLinkJson {
  ifindex: number;
  ifname: string;
  flags?: string[];
  operstate?: string;
  address?: string;
  link_type?: string;
  linkinfo?: { info_kind?: string };
}
interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope?: string; dynamic?: boolean }[];
}

export function parseInterfaces(linkJson: string | undefined, addrJson: string | undefined, speed: string | undefined): InterfaceFact[] {
  const links = json<IpLinkJson[]>(linkJson, [], IP_LINK);
  const addrs = new Map(json<IpAddrJson[]>(addrJson, [], IP_ADDR).map((a) => [a.ifname, a]));
  const speeds = new Map(
    (speed ?? '')
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((p) => p.length === 2 && /^\d+$/.test(p[1]!) && Number(p[1]) > 0)
      .map((p) => [p[0]!, Number(p[1])]),
  );
  return links.map((l) => ({
    name: l.ifname,
    index: l.ifindex,
    mac: l.link_type === 'ether' ? l.address : undefined,
    operstate: l.operstate ?? 'UNKNOWN',
    up: (l.flags ?? []).includes('UP'),
    carrier: (l.flags ?? []).includes('LOWER_UP'),
    kind: l.linkinfo?.info_kind,
    speedMbps: speeds.get(l.ifname),
    addresses: (addrs.get(l.ifname)?.addr_info ?? [])
      .filter((a) => a.family === 'inet' || a.family === 'inet6')
      .map((a) => ({
        family: a.family as 'inet' | 'inet6',
        address: a.local,
        prefixlen: a.prefixlen,
        scope: a.scope ?? 'global',
        dynamic: a.dynamic === true,
      })),
  }));
}

interface IpRouteJson {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  flags?: string[];
  table?: string;
}

export function parseRoutes(text: string | undefined): RouteFact[] {
  return json<IpRouteJson[]>(text, [], IP_ROUTE).map((r) => ({
    // `ip -j route show table all` omits "table" for the main table.
    table: r.table ?? 'main',
    dst: r.dst,
    gateway: r.gateway,
    dev: r.dev,
    prefsrc: r.prefsrc,
    protocol: r.protocol,
    scope: r.scope,
    metric: r.metric,
    type: r.type,
    flags: r.flags ?? [],
  }));
}

interface IpRuleJson {
  priority: number;
  src?: string;
  srclen?: number;
  fwmark?: string;
  fwmask?: string;
  /** iproute2 prints "iif"/"oif" in JSON (its text form says "iif lo"); some versions "iifname". */
  iif?: string;
  oif?: string;
  iifname?: string;
  oifname?: string;
  table?: string;
  action?: string;
  /** What iproute2 prints (`ip -j rule`); the longer name is accepted too. */
  suppress_prefixlen?: number;
  suppress_prefixlength?: number;
}

export function parseRules(jsonText: string | undefined, text: string | undefined): RuleFact[] {
  const raw = new Map<number, string[]>();
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):\s+(.*)$/.exec(line.trim());
    if (m) raw.set(Number(m[1]), [...(raw.get(Number(m[1])) ?? []), m[2]!.trim()]);
  }
  const seen = new Map<number, number>();
  return json<IpRuleJson[]>(jsonText, [], IP_RULE).map((r) => {
    const n = seen.get(r.priority) ?? 0;
    seen.set(r.priority, n + 1);
    return {
      priority: r.priority,
      src: r.src === undefined ? undefined : r.srclen !== undefined && r.src !== 'all' ? `${r.src}/${r.srclen}` : r.src,
      fwmark: r.fwmark === undefined ? undefined : r.fwmask && r.fwmask !== '0xffffffff' ? `${r.fwmark}/${r.fwmask}` : r.fwmark,
      iif: r.iif ?? r.iifname,
      oif: r.oif ?? r.oifname,
      table: r.table,
      action: r.action,
      suppressPrefixlen: r.suppress_prefixlen ?? r.suppress_prefixlength,
      raw: raw.get(r.priority)?.[n] ?? '',
    };
  });
}

/** "wan1 2001:db8:11:100::/56" lines → the newest prefix per interface. */
export function parseDelegatedPrefixes(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of (text ?? '').split('\n')) {
    const m = /^([A-Za-z0-9_.:@-]{1,15}) ([0-9a-f:]+\/[0-9]{1,3})$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export function parseNftTables(text: string | undefined): NftTableFact[] {
  const doc = json<{ nftables?: { table?: { family: string; name: string; handle?: number } }[] }>(text, {}, NFT_TABLES);
  return (doc.nftables ?? []).flatMap((o) => (o.table ? [{ family: o.table.family, name: o.table.name, handle: o.table.handle }] : []));
}

export function parseRtTables(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of (text ?? '').split('\n')) {
    const m = /^\s*(\d+)\s+([^\s#]+)/.exec(line);
    if (m && out[m[1]!] === undefined) out[m[1]!] = m[2]!;
  }
  return out;
}

export function parseOsRelease(text: string | undefined): Facts['os'] {
  const kv: Record<string, string> = {};
  for (const line of (text ?? '').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
  }
  return { id: kv.ID ?? 'unknown', versionId: kv.VERSION_ID ?? '', prettyName: kv.PRETTY_NAME ?? kv.ID ?? 'unknown' };
}

/** Which network manager configures the interfaces; the order matters when several are installed. */
export function parseNetworkManager(text: string | undefined): NetworkManagerKind {
  const t = text ?? '';
  const active = (u: string) => new RegExp(`^${u} active$`, 'm').test(t);
  if (active('NetworkManager')) return 'NetworkManager';
  if (/^netplan present$/m.test(t) && active('systemd-networkd')) return 'netplan';
  if (active('systemd-networkd')) return 'systemd-networkd';
  const ifupdownStanzas = /^ifupdown-config (\d+)$/m.exec(t);
  if (ifupdownStanzas && Number(ifupdownStanzas[1]) > 0) return 'ifupdown';
  return 'unknown';
}

/** The DHCP client programs the netmgr section saw running, sorted. */
export function parseDhcpClients(text: string | undefined): string[] {
  return [...(text ?? '').matchAll(/^dhcp-client (\S+)$/gm)].map((m) => m[1]!).sort();
}

export function parseSysctl(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of (text ?? '').split('\n')) {
    const i = line.indexOf('\t');
    if (i > 0 && !line.endsWith('@@missing')) out[line.slice(0, i)] = line.slice(i + 1).replace(/\s+/g, ' ').trim();
  }
  return out;
}

export function parsePackages(text: string | undefined, wanted: string[]): Record<string, PackageFact> {
  const out: Record<string, PackageFact> = Object.fromEntries(wanted.map((n) => [n, { name: n, installed: false }]));
  for (const line of (text ?? '').split('\n')) {
    const [name, status, version] = line.split('\t');
    if (!name || !(name in out)) continue;
    out[name] = { name, installed: status === 'installed', version: status === 'installed' ? version : undefined };
  }
  return out;
}

export function parseUnits(text: string | undefined, wanted: string[]): Record<string, UnitFact> {
  const out: Record<string, UnitFact> = Object.fromEntries(
    wanted.map((n) => [n, { name: n, load: 'not-found', active: 'inactive', enabled: 'not-found' }]),
  );
  // `systemctl show` prints one block per unit, separated by blank lines, in argument order.
  const blocks = (text ?? '').split(/\n\s*\n/).filter((b) => b.trim());
  for (const block of blocks) {
    const kv: Record<string, string> = {};
    for (const l of block.split('\n')) {
      const i = l.indexOf('=');
      if (i > 0) kv[l.slice(0, i)] = l.slice(i + 1);
    }
    const name = kv.Id;
    if (!name) continue;
    const key = wanted.find((w) => w === name || `${w}.service` === name) ?? name;
    out[key] = { name: key, load: kv.LoadState ?? 'not-found', active: kv.ActiveState ?? 'inactive', enabled: kv.UnitFileState || 'not-found' };
  }
  return out;
}

export function parseFile(path: string, text: string | undefined): FileFact {
  const lines = (text ?? 'absent').split('\n');
  const head = lines[0] ?? 'absent';
  if (head === 'dir') return { path, exists: true, isDirectory: true };
  const m = /^file (\d+) (\S+) (\S+)$/.exec(head);
  if (!m) return { path, exists: false };
  const fact: FileFact = { path, exists: true, mode: m[1]!.padStart(4, '0'), owner: m[2], group: m[3] };
  const hash = /^sha256 ([0-9a-f]{64})$/.exec(lines[1] ?? '');
  if (hash) fact.sha256 = hash[1];
  // Without a content line the hash was the expected one (probe.ts); an empty file has an empty line.
  const content = lines[hash ? 2 : 1];
  if (content !== undefined) fact.content = Buffer.from(content, 'base64').toString('utf8');
  return fact;
}

/** The file sections of probe (or filesScript) output, for the given paths. */
export function parseFiles(out: string, paths: readonly string[]): Record<string, FileFact> {
  const s = splitSections(out);
  return Object.fromEntries(paths.map((p) => [p, parseFile(p, s.get(`file ${p}`))]));
}

/** A read-only check run inside the probe (ProbeOptions.checks): its exit status and stderr. */
export interface CheckResult {
  code: number;
  stderr: string;
}

/** The checks' results by name; a check whose section is missing or unreadable is left out. */
export function parseChecks(out: string): Record<string, CheckResult> {
  const results: Record<string, CheckResult> = {};
  for (const [key, text] of splitSections(out)) {
    if (!key.startsWith('check ')) continue;
    const [first, ...rest] = text.split('\n');
    const m = /^exit (\d+)$/.exec(first ?? '');
    if (!m) continue;
    const stderr = rest.filter((l) => l.startsWith('| ')).map((l) => l.slice(2)).join('\n');
    results[key.slice('check '.length)] = { code: Number(m[1]), stderr };
  }
  return results;
}

export function parseSession(text: string | undefined): Facts['session'] {
  const p = (text ?? '').trim().split(/\s+/);
  if (p.length !== 4) return undefined;
  return { clientAddress: p[0]!, clientPort: Number(p[1]), serverAddress: p[2]!, serverPort: Number(p[3]) };
}

/** "DIR<TAB>TARGET" lines of the probe's linked-dirs section. */
export function parseLinkedDirs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of (text ?? '').split('\n')) {
    const i = l.indexOf('\t');
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1);
  }
  return out;
}

/** The largest facts document read (a router with thousands of routes sends a few MB). */
export const FACTS_MAX_CHARS = 16 * 1024 * 1024;

/**
 * The facts a host sent. The host is untrusted input: a document over FACTS_MAX_CHARS or of the
 * wrong shape (ip -j printing an object where a list belongs, say) fails that host with a clear
 * error instead of crashing the run or slowing other hosts.
 */
export function parseFacts(host: string, out: string, wanted: { files: string[]; packages: string[]; units: string[]; nftTables: string[] }): Facts {
  if (out.length > FACTS_MAX_CHARS) {
    throw new EdgeError('EXEC', `the facts the host sent are ${out.length} characters long, over the ${FACTS_MAX_CHARS / 1024 / 1024} Mi limit: refused`, { host });
  }
  try {
    return factsOf(host, out, wanted);
  } catch (e) {
    if (e instanceof EdgeError) throw e;
    throw new EdgeError('EXEC', `the facts the host sent are malformed: ${e instanceof Error ? e.message : String(e)}`, { host, cause: e });
  }
}

function factsOf(host: string, out: string, wanted: { files: string[]; packages: string[]; units: string[]; nftTables: string[] }): Facts {
  const s = splitSections(out);
  if (!s.has('hostname') || !s.has('ip-link')) {
    throw new EdgeError('EXEC', 'fact gathering returned no usable output', { host, hint: 'is bash available on the host?' });
  }
  const nftTableText: Record<string, string> = {};
  for (const t of wanted.nftTables) {
    const text = s.get(`nft-table ${t}`);
    if (text && text.trim()) nftTableText[t] = text.endsWith('\n') ? text : `${text}\n`;
  }
  return {
    hostname: (s.get('hostname') ?? '').trim(),
    uid: Number((s.get('uid') ?? '').trim() || -1),
    kernel: (s.get('kernel') ?? '').trim(),
    os: parseOsRelease(s.get('os-release')),
    networkManager: parseNetworkManager(s.get('netmgr')),
    dhcpClients: parseDhcpClients(s.get('netmgr')),
    interfaces: parseInterfaces(s.get('ip-link'), s.get('ip-addr'), s.get('speed')),
    routes: parseRoutes(s.get('ip-route')),
    rules: parseRules(s.get('ip-rule'), s.get('ip-rule-text')),
    routes6: parseRoutes(s.get('ip6-route')),
    rules6: parseRules(s.get('ip6-rule'), s.get('ip6-rule-text')),
    delegatedPrefixes: parseDelegatedPrefixes(s.get('ip6-pd')),
    nftTables: parseNftTables(s.get('nft-tables')),
    nftTableText,
    rtTables: parseRtTables(s.get('rt-tables')),
    sysctl: parseSysctl(s.get('sysctl')),
    ifaceSysctl: parseIfaceSysctl(s.get('sysctl-ifaces')),
    packages: parsePackages(s.get('packages'), wanted.packages),
    units: parseUnits(s.get('units'), wanted.units),
    files: Object.fromEntries(wanted.files.map((f) => [f, parseFile(f, s.get(`file ${f}`))])),
    linkedDirs: parseLinkedDirs(s.get('linked-dirs')),
    session: parseSession(s.get('session')),
    gatheredAt: new Date().toISOString(),
  };
}

/** Typed facts about one host, gathered in one remote exec (see probe.ts) and parsed by parse.ts. */

export interface InterfaceAddress {
  family: 'inet' | 'inet6';
  address: string;
  prefixlen: number;
  scope: string; // global, link, host
  dynamic: boolean; // from DHCP / SLAAC
}

export interface InterfaceFact {
  name: string;
  index: number;
  mac?: string;
  operstate: string; // UP, DOWN, UNKNOWN, LOWERLAYERDOWN
  up: boolean; // administratively up (IFF_UP)
  carrier: boolean; // LOWER_UP
  kind?: string; // veth, bridge, ... from linkinfo when known
  speedMbps?: number;
  addresses: InterfaceAddress[];
}

export interface RouteFact {
  table: string; // "main", "local", or a number as text
  dst: string; // "default" or CIDR / address
  gateway?: string;
  dev?: string;
  prefsrc?: string;
  protocol?: string;
  scope?: string;
  metric?: number;
  type?: string; // unicast (omitted by ip), unreachable, local, broadcast ...
  flags: string[]; // linkdown, onlink, ...
}

export interface RuleFact {
  priority: number;
  src?: string; // "all" or CIDR
  fwmark?: string; // "0x1" or "0x1/0xff"
  iif?: string;
  oif?: string;
  table?: string; // name or number as ip prints it
  action?: string; // unreachable, blackhole, prohibit ...
  suppressPrefixlen?: number;
  raw: string; // the rule as `ip rule show` prints it, for diffs
}

export interface NftTableFact {
  family: string; // ip, ip6, inet, arp, bridge, netdev
  name: string;
  handle?: number;
}

export interface FileFact {
  path: string;
  exists: boolean;
  /**
   * utf8 (edge only manages text files). Absent for an existing file whose hash was what the run
   * expected (see ProbeOptions.expect): then `sha256` says what it holds.
   */
  content?: string;
  /** sha256 of the file's bytes, hex (see content-hash.ts). */
  sha256?: string;
  mode?: string; // octal, e.g. "0644"
  owner?: string;
  group?: string;
  isDirectory?: boolean;
}

export interface PackageFact {
  name: string;
  installed: boolean;
  version?: string;
}

export interface UnitFact {
  name: string;
  load: string; // loaded, not-found, masked
  active: string; // active, inactive, failed, activating
  enabled: string; // enabled, disabled, static, masked, not-found
}

export type NetworkManagerKind = 'systemd-networkd' | 'ifupdown' | 'NetworkManager' | 'netplan' | 'unknown';

export interface OsFact {
  id: string; // debian, ubuntu
  versionId: string; // 12, 22.04
  prettyName: string;
}

export interface Facts {
  hostname: string;
  os: OsFact;
  kernel: string;
  networkManager: NetworkManagerKind;
  /** DHCP client programs running on the host (dhclient, dhcpcd, …); networkd's own is not one. Absent: not gathered. */
  dhcpClients?: string[];
  /** True if we are root (or sudo works) on the host. */
  uid: number;
  interfaces: InterfaceFact[];
  routes: RouteFact[];
  rules: RuleFact[];
  nftTables: NftTableFact[];
  /** `nft list table FAMILY NAME` text for tables edge owns, keyed "family name". */
  nftTableText: Record<string, string>;
  /** Named routing tables from /etc/iproute2/rt_tables{,.d/*.conf}: id -> name. */
  rtTables: Record<string, string>;
  sysctl: Record<string, string>;
  /**
   * Per interface, the settings behind the `all`/`default` keys read (iface-sysctl.ts): id
   * ("ipv4/rp_filter") → interface → value. Absent: not gathered.
   */
  ifaceSysctl?: Record<string, Record<string, string>>;
  packages: Record<string, PackageFact>;
  units: Record<string, UnitFact>;
  files: Record<string, FileFact>;
  /**
   * Directories on the way to a file edge manages that are symbolic links: path → what it points
   * to. edge creates none, so each is someone else's, and nothing is written through it.
   */
  linkedDirs?: Record<string, string>;
  /** How the SSH session edge is using looks from the host ($SSH_CONNECTION). */
  session?: { clientAddress: string; clientPort: number; serverAddress: string; serverPort: number };
  /** Contents of /var/lib/edge/state.json-ish run bookkeeping, if any. */
  gatheredAt: string;
}

/** A host about which nothing is known yet: for what is decided from vars alone (verify's names). */
export const NO_FACTS: Facts = Object.freeze({
  hostname: '',
  os: { id: 'unknown', versionId: '', prettyName: 'unknown' },
  kernel: '',
  networkManager: 'unknown',
  uid: -1,
  interfaces: [],
  routes: [],
  rules: [],
  nftTables: [],
  nftTableText: {},
  rtTables: {},
  sysctl: {},
  packages: {},
  units: {},
  files: {},
  gatheredAt: '',
}) as Facts;

/** What the tasks of a run need to read besides the fixed facts. Collected before gathering. */
export interface FactNeeds {
  files: string[];
  sysctl: string[];
  packages: string[];
  units: string[];
  /** nft tables whose full text is wanted, as "family name". */
  nftTables: string[];
}

export function emptyNeeds(): FactNeeds {
  return { files: [], sysctl: [], packages: [], units: [], nftTables: [] };
}

export function mergeNeeds(...all: Partial<FactNeeds>[]): FactNeeds {
  const out = emptyNeeds();
  for (const n of all) {
    for (const k of Object.keys(out) as (keyof FactNeeds)[]) {
      for (const v of n[k] ?? []) if (!out[k].includes(v)) out[k].push(v);
    }
  }
  return out;
}

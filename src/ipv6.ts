/**
 * Small IPv6 arithmetic shared by the lab, the planners and the inventory checks (prefixes,
 * containment, the 1:1 prefix mapping NPTv6 does). Addresses are 128-bit bigints.
 */
import { isIPv6 } from 'node:net';

const ALL = (1n << 128n) - 1n;

/** "2001:db8::1" → its 128-bit value; undefined for anything that is not an IPv6 address. */
export function ip6ToBig(ip: string): bigint | undefined {
  if (!isIPv6(ip) || ip.includes('%')) return undefined;
  let text = ip;
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[2]!.split('.').map(Number);
    text = `${v4[1]}${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** 128-bit value → the canonical text form (RFC 5952: lower case, longest zero run as ::). */
export function bigToIp6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

export interface Prefix6 {
  network: bigint;
  len: number;
}

function mask6(len: number): bigint {
  return len === 0 ? 0n : (ALL << BigInt(128 - len)) & ALL;
}

/** "2001:db8::1/64" → 2001:db8::/64 (host bits cleared); a bare address is a /128. */
export function parsePrefix6(cidr: string): Prefix6 | undefined {
  const [addr, lenText, extra] = cidr.split('/');
  if (extra !== undefined) return undefined;
  const ip = ip6ToBig(addr ?? '');
  const len = lenText === undefined ? 128 : /^[0-9]{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  if (ip === undefined || !Number.isInteger(len) || len < 0 || len > 128) return undefined;
  return { network: ip & mask6(len), len };
}

export function formatPrefix6(p: Prefix6): string {
  return `${bigToIp6(p.network)}/${p.len}`;
}

/** Does the text have host bits set beyond its length (2001:db8::1/64)? */
export function hasHostBits6(cidr: string): boolean {
  const [addr = '', lenText = '128'] = cidr.split('/');
  const ip = ip6ToBig(addr);
  const p = parsePrefix6(cidr);
  return ip !== undefined && p !== undefined && ip !== p.network && lenText !== '128';
}

export function prefix6Contains(outer: Prefix6, inner: Prefix6): boolean {
  return outer.len <= inner.len && (inner.network & mask6(outer.len)) === outer.network;
}

export function containsAddress6(cidr: string, address: string): boolean {
  const p = parsePrefix6(cidr);
  const a = parsePrefix6(address);
  return p !== undefined && a !== undefined && prefix6Contains(p, a);
}

/** The `index`-th subnet of length `len` inside `p` (2001:db8:1::/48, 64, 1 → 2001:db8:1:1::/64). */
export function subnet6(p: Prefix6, len: number, index: number): Prefix6 | undefined {
  if (len < p.len || len > 128 || index < 0 || BigInt(index) >= 1n << BigInt(len - p.len)) return undefined;
  return { network: p.network | (BigInt(index) << BigInt(128 - len)), len };
}

/** Unique local (fc00::/7), the source that must never leave a WAN. */
export function isUla(address: string): boolean {
  return containsAddress6('fc00::/7', address);
}

/** The EUI-64 link-local address a MAC gives (02:45:… → fe80::45:…): what the kernel forms by default. */
export function linkLocalOfMac(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  const eui = [b[0]! ^ 2, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  let n = 0xfe80n << 112n;
  for (const [i, x] of eui.entries()) n |= BigInt(x) << BigInt(56 - 8 * i);
  return bigToIp6(n);
}

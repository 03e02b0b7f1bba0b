/** Small IPv4 arithmetic shared by the planners and the picker (prefixes, containment, set hygiene). */

export function ipToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function maskOf(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export interface Prefix {
  network: number;
  len: number;
}

/**
 * "10.1.0.1/24" → 10.1.0.0/24 (host bits cleared); a bare address is a /32. The length is decimal
 * digits and nothing follows it: `10.0.0.0/8/x }; flush ruleset` or `10.0.0.0/` is no prefix.
 */
export function parsePrefix(cidr: string): Prefix | undefined {
  const m = /^([0-9.]+)(?:\/([0-9]{1,2}))?$/.exec(cidr);
  const ip = m ? ipToInt(m[1]!) : undefined;
  const len = m?.[2] === undefined ? 32 : Number(m[2]);
  if (ip === undefined || len > 32) return undefined;
  return { network: (ip & maskOf(len)) >>> 0, len };
}

export function formatPrefix(p: Prefix): string {
  return `${intToIp(p.network)}/${p.len}`;
}

/** Network of an interface address: ("10.1.0.1", 24) → "10.1.0.0/24". */
export function networkOf(address: string, prefixlen: number): string {
  const p = parsePrefix(`${address}/${prefixlen}`);
  if (!p) throw new Error(`internal: bad address ${address}/${prefixlen}`);
  return formatPrefix(p);
}

export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  return outer.len <= inner.len && ((inner.network & maskOf(outer.len)) >>> 0) === outer.network;
}

export function containsAddress(cidr: string, address: string): boolean {
  const p = parsePrefix(cidr);
  const a = parsePrefix(address);
  return p !== undefined && a !== undefined && prefixContains(p, a);
}

/**
 * Normalises and de-duplicates prefixes, dropping any covered by another: an nft interval set
 * refuses overlapping elements ("conflicting intervals"). Order of first appearance is kept.
 */
export function minimalPrefixes(cidrs: readonly string[]): string[] {
  const ps = cidrs.map((c) => parsePrefix(c)).filter((p): p is Prefix => p !== undefined);
  const kept: Prefix[] = [];
  ps.forEach((p, i) => {
    const covered = ps.some((q, j) => j !== i && prefixContains(q, p) && (q.len < p.len || j < i));
    if (!covered) kept.push(p);
  });
  return kept.map(formatPrefix);
}

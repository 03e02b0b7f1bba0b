import { formatPrefix, ipToInt, parsePrefix } from '../ipv4.js';

/**
 * Addresses that are valid IPv4 syntax but wrong for a host edge talks to (a gateway, a health
 * target): each would make the router misbehave quietly, so each is refused with why.
 */
const NOT_UNICAST: Array<{ prefix: string; why: string }> = [
  { prefix: '0.0.0.0/8', why: 'is in 0.0.0.0/8 ("this network"), which no packet is sent to' },
  { prefix: '127.0.0.0/8', why: 'is a loopback address: it answers on the router itself, so a check through a dead WAN would still pass' },
  { prefix: '224.0.0.0/4', why: 'is a multicast address, not one host' },
  { prefix: '240.0.0.0/4', why: 'is reserved (240.0.0.0/4) or the broadcast address, not one host' },
];

function inPrefix(address: string, cidr: string): boolean {
  const p = parsePrefix(cidr)!;
  const a = ipToInt(address);
  const mask = p.len === 0 ? 0 : (0xffffffff << (32 - p.len)) >>> 0;
  return a !== undefined && ((a & mask) >>> 0) === p.network;
}

/** Why `address` cannot be `role` ("a gateway", "a health-check target"); undefined when it is a unicast address. */
export function addressProblem(address: string, role: string): string | undefined {
  const hit = NOT_UNICAST.find((r) => inPrefix(address, r.prefix));
  return hit ? `${JSON.stringify(address)} ${hit.why}: refused as ${role} (expected a unicast address)` : undefined;
}

/**
 * Prefixes must be written as their network address. 10.0.0.1/24 is refused rather than quietly
 * read as 10.0.0.0/24: whoever wrote it may have meant 10.0.0.1/32 (one host) and would then
 * open SSH to a whole /24.
 */
export function hostBitsProblem(cidr: string): string | undefined {
  const p = parsePrefix(cidr);
  if (!p || cidr.startsWith(`${formatPrefix(p).split('/')[0]}/`)) return undefined;
  return `${JSON.stringify(cidr)} has host bits set: refused — write the network ${formatPrefix(p)}, or ${cidr.split('/')[0]}/32 for one host`;
}

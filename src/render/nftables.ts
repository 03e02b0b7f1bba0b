/**
 * edge's nftables ruleset: ONE table, `inet edge`, replaced atomically in one `nft -f` transaction
 * that declares, deletes and redefines only that table. Other tables on the host (Docker, fail2ban,
 * libvirt, the distribution's own) are never touched: no `flush ruleset` (defect 14). Every value is
 * rendered here, there are no shell variables in the file (defects 1, 2).
 */
import { minimalPrefixes6 } from '../ipv6.js';
import { nftComment, nftHashComment, nftPrefix, nftPrefix6, nftString } from '../encode/index.js';
import { renderPolicyChains, renderPolicyObjects, type NftPolicy, type PolicyIpv6 } from './nft-policy.js';

export interface NftWan {
  ifname: string;
  mark: number;
}

export interface EdgeNftModel {
  wan1: NftWan;
  wan2: NftWan;
  lan: string;
  /** The LAN's IPv4 prefix (10.1.0.0/24), when the LAN interface has an address: the leak guard's match. */
  lanPrefix?: string;
  /** Dedicated management interface: everything arriving on it is accepted. */
  mgmt?: string;
  sshPort: number;
  /** IPv4 prefixes allowed to SSH from any interface (already minimal: no overlaps). */
  sshSources: string[];
  /** keepalived's private link (VRRP adverts between its two ends are accepted). */
  kaLinks: readonly [string, string];
  /** Steering rules and mode for new LAN flows (nft-policy.ts). */
  policy: NftPolicy;
  /** IPv6 prefixes allowed to SSH from any interface (minimal); none: no IPv6 SSH rule at all. */
  sshSources6?: string[];
  /** IPv6 routed by edge (edge_ipv6_mode): absent, edge leaves IPv6 forwarding as it finds it. */
  ipv6?: NftIpv6;
}

/**
 * ownN are ISP n's prefixes (never out of the other WAN). Translated: the LAN prefix leaves WANn as
 * mappedN (NPTv6). Native: lanN, a /64 of ISP n's prefix on the LAN, leaves by WANn as it is.
 */
export type NftIpv6 =
  | { mode: 'translated'; lanPrefix: string; mapped1: string; mapped2: string; own1: string[]; own2: string[] }
  | { mode: 'native'; lan1: string; lan2: string; own1: string[]; own2: string[] };

export const NFT_FAMILY = 'inet';
export const NFT_NAME = 'edge';
export const PREFERRED_MAP = 'preferred_wan';
/** Marks of WANs new flows left because they are down: their LAN flows are reset (edge-failover fills it). */
export const DEAD_SET = 'dead_wans';
/** Translated IPv6 has its own pair, filled from the IPv6 probes: IPv6 can fail alone. */
export const PREFERRED_MAP6 = 'preferred_wan6';
export const DEAD_SET6 = 'dead_wans6';

const hex = (n: number) => `0x${n.toString(16)}`;

const set6 = (ps: string[]) => (ps.length === 1 ? nftPrefix6(ps[0]!) : `{ ${ps.map(nftPrefix6).join(', ')} }`);

/** The IPv6 SSH source set and its input rule (only when an IPv6 source is allowed). */
function ssh6(m: EdgeNftModel): { set: string; rule: string } {
  const ps = m.sshSources6 ?? [];
  if (!ps.length) return { set: '', rule: '' };
  return {
    set: `

\tset ssh_sources6 {
\t\ttype ipv6_addr
\t\tflags interval
\t\telements = { ${ps.map(nftPrefix6).join(', ')} }
\t}`,
    rule: `
\t\ttcp dport ${m.sshPort} ip6 saddr @ssh_sources6 counter accept comment "SSH from allowed IPv6 sources"`,
  };
}

/** Translated IPv6's own preferred map and dead set: the IPv6 probes decide them, so IPv6 can fail over alone. */
function switcher6(m: EdgeNftModel): string {
  return `

\t# The same for new IPv6 flows from the LAN, from the IPv6 probes (edge-failover replaces them).
\tmap ${PREFERRED_MAP6} {
\t\ttype ifname : mark
\t\telements = { ${nftString(m.lan)} : ${hex(m.wan1.mark)} }
\t}

\tset ${DEAD_SET6} {
\t\ttype mark
\t}`;
}

function policy6(v: NftIpv6 | undefined): PolicyIpv6 | undefined {
  if (!v) return undefined;
  return v.mode === 'translated' ? { kind: 'translated', map: PREFERRED_MAP6 } : { kind: 'native', prefixes: [v.lan1, v.lan2] };
}

/** One rule reading the dead set, or with translated IPv6 one per family, each reading its own. */
function perFamily(m: EdgeNftModel, rule: (family: string, dead: string) => string): string {
  if (!m.ipv6) return rule('', DEAD_SET);
  return `${rule('meta nfproto ipv4 ', DEAD_SET)}\n${rule('meta nfproto ipv6 ', DEAD_SET6)}`;
}

/** NPTv6 rules of the nat postrouting chain: 1:1 prefix translation per WAN, counted like IPv4's NAT. */
function nptRules(m: EdgeNftModel): string {
  const v = m.ipv6;
  if (v?.mode !== 'translated') return '';
  const lan = nftString(m.lan);
  return [
    '',
    `\t\t# NPTv6: the LAN prefix leaves each WAN as that ISP's prefix, address for address (RFC 6296 mapping).`,
    `\t\tiifname ${lan} oifname ${nftString(m.wan1.ifname)} ip6 saddr ${nftPrefix6(v.lanPrefix)} counter snat ip6 prefix to ${nftPrefix6(v.mapped1)} comment "NPTv6 WAN1"`,
    `\t\tiifname ${lan} oifname ${nftString(m.wan2.ifname)} ip6 saddr ${nftPrefix6(v.lanPrefix)} counter snat ip6 prefix to ${nftPrefix6(v.mapped2)} comment "NPTv6 WAN2"`,
  ].join('\n');
}

/** IPv6 leak guard rules: no ULA or untranslated LAN source, and no ISP's prefix out of the other ISP's WAN. */
function leakRules6(m: EdgeNftModel, wans: string): string {
  const v = m.ipv6;
  if (!v) return '';
  const own = (ps: string[], wan: NftWan, other: string) =>
    ps.length ? [`\t\toifname ${nftString(wan.ifname)} ip6 saddr ${set6(ps)} counter drop comment ${nftComment(`${other}'s prefix leaving ${wan.ifname}`)}`] : [];
  return [
    '',
    v.mode === 'translated'
      ? `\t\toifname ${wans} ip6 saddr ${set6(minimalPrefixes6(['fc00::/7', v.lanPrefix]))} counter drop comment "ULA or LAN IPv6 source leaving a WAN untranslated"`
      : `\t\toifname ${wans} ip6 saddr fc00::/7 counter drop comment "ULA IPv6 source leaving a WAN"`,
    ...own(v.own2, m.wan1, 'ISP2'),
    ...own(v.own1, m.wan2, 'ISP1'),
  ].join('\n');
}

export function renderEdgeNft(m: EdgeNftModel): string {
  const q = nftString;
  const w1 = q(m.wan1.ifname);
  const w2 = q(m.wan2.ifname);
  const lan = q(m.lan);
  const wans = `{ ${w1}, ${w2} }`;
  const sources = m.sshSources.length ? `\n\t\telements = { ${m.sshSources.map(nftPrefix).join(', ')} }` : '';
  const leak4 = m.lanPrefix ? `\n\t\toifname ${wans} ip saddr ${nftPrefix(m.lanPrefix)} counter drop comment "LAN source leaving a WAN un-NATed"` : '';
  const leakGuard =
    m.lanPrefix || m.ipv6
      ? `

\t# After NAT (srcnat + 10): whatever the path, nothing with a LAN source leaves by a WAN.
\tchain leak_guard {
\t\ttype filter hook postrouting priority srcnat + 10; policy accept;${leak4}${leakRules6(m, wans)}
\t}`
      : '';
  const six = { ...ssh6(m), switcher: m.ipv6 ? switcher6(m) : '' };
  const mgmt = m.mgmt ? `\n\t\tiifname ${q(m.mgmt)} accept comment "management interface (defect 13)"` : '';
  return `#!/usr/sbin/nft -f
# Managed by edge: dual-WAN marking, firewall and NAT. Local changes are overwritten by the next
# edge run. Loaded by edge-nftables.service at boot and by edge on apply; it replaces ONLY the table
# inet edge, in one transaction (declare, delete, define): other tables on this host are untouched.
#
# Marks: ${hex(m.wan1.mark)} = WAN1 (${nftHashComment(m.wan1.ifname)}), ${hex(m.wan2.mark)} = WAN2 (${nftHashComment(m.wan2.ifname)}). A new flow from the LAN gets a
# WAN's mark once (chain lan_new: steering rules, then the mode, ${m.policy.mode}); edge-failover
# switches WANs by element updates only (maps preferred_wan and avoid, set down); the conntrack
# mark keeps every packet of the flow on that WAN.
table inet edge {}
delete table inet edge
table inet edge {
\tcomment "managed by edge"

\tset ssh_sources {
\t\ttype ipv4_addr
\t\tflags interval${sources}
\t}${six.set}

\t# LAN interface -> mark of the WAN new LAN flows use. edge-failover replaces the element.
\tmap preferred_wan {
\t\ttype ifname : mark
\t\telements = { ${lan} : ${hex(m.wan1.mark)} }
\t}

\t# Marks of the WAN new flows left because it is down (edge-failover replaces the element): the
\t# LAN client's next packet on a TCP flow pinned to it gets a reset (forward chain).
\tset ${DEAD_SET} {
\t\ttype mark
\t}${six.switcher}

${renderPolicyObjects(m.policy, m.ipv6 !== undefined)}
\tchain prerouting {
\t\ttype filter hook prerouting priority mangle; policy accept;
\t\t# Flows that come in on a WAN are answered through the same WAN.
\t\tiifname ${w1} ct state new ct mark set ${hex(m.wan1.mark)}
\t\tiifname ${w2} ct state new ct mark set ${hex(m.wan2.mark)}
\t\t# A new flow from the LAN is pinned to a WAN (chain lan_new).
\t\tiifname ${lan} ct state new ct mark 0 jump lan_new
\t\t# Only packets entering from the LAN carry the flow's mark into routing. Replies from the
\t\t# internet to LAN clients are NOT marked: they route by main to the LAN (defect 6). A flow of a
\t\t# dead WAN is not sent to that WAN's table (it may be empty): it routes by main, to be reset.
${perFamily(m, (f, dead) => `\t\tiifname ${lan} ${f}ct mark != 0 ct mark != @${dead} meta mark set ct mark`)}
\t}
${renderPolicyChains(m.policy, m.lan, [m.wan1.mark, m.wan2.mark], policy6(m.ipv6))}
\tchain output {
\t\ttype route hook output priority mangle; policy accept;
\t\t# The router's own replies to flows that came in on a WAN leave by that WAN. Sockets that set
\t\t# their own mark (the health probes) are left alone.
\t\tct mark != 0 meta mark 0 meta mark set ct mark
\t}

\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tiif "lo" accept
\t\t# A radvd on this router (edge's, or one it is stopping) is heard by the router itself: its
\t\t# multicast loops back, and a LAN that takes advertisements (systemd-networkd's default) would
\t\t# configure an address from its own prefix, one that a goodbye advertisement brings back after
\t\t# edge removed it. In every IPv6 mode, so the run that turns IPv6 off stops radvd under it.
\t\ticmpv6 type nd-router-advert iifname ${lan} fib saddr . iif type local counter drop comment "the router's own advertisements"
\t\tct state established,related accept
\t\tct state invalid counter drop
\t\tmeta l4proto { 1, 58 } accept comment "ICMP and ICMPv6 (by number: /etc/protocols may be absent)"
\t\tudp sport 67 udp dport 68 accept comment "DHCP client"
\t\tudp sport 547 udp dport 546 accept comment "DHCPv6 client"
\t\tiifname { ${q(m.kaLinks[0])}, ${q(m.kaLinks[1])} } ip protocol 112 accept comment "keepalived's private link"${mgmt}
\t\ttcp dport ${m.sshPort} ip saddr @ssh_sources counter accept comment "SSH from allowed sources (defect 13)"${six.rule}
\t\tiifname ${lan} accept
\t\tcounter drop comment "input dropped"
\t}

\tchain forward {
\t\t# policy accept: edge does not silently kill forwarding other software set up.
\t\ttype filter hook forward priority filter; policy accept;
${perFamily(m, (f, dead) => `\t\tiifname ${lan} ${f}ct mark @${dead} meta l4proto tcp counter reject with tcp reset comment "flow of a dead WAN: the client is told"`)}
\t\tct state established,related counter accept comment "replies"
\t\t# A packet conntrack cannot place (a client's retransmitted FIN after its flow was flushed, say)
\t\t# would skip NAT and leave with its LAN source: never forward it.
\t\tct state invalid,untracked counter drop comment "invalid, never forwarded"
\t\tiifname ${lan} oifname ${wans} counter accept comment "LAN to internet"
\t\tct status dnat accept
\t\tiifname ${wans} counter drop comment "unsolicited from the internet"
\t}

\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\t# The counters count new LAN flows per WAN (a nat chain sees the first packet of each flow).
\t\t# Everything else leaving by a WAN, the router's own health checks of both WANs included, is
\t\t# masqueraded by the last rule, uncounted: the counter of the WAN LAN flows do not use stays still.
\t\tiifname ${lan} oifname ${w1} meta nfproto ipv4 counter masquerade comment "NAT WAN1"
\t\tiifname ${lan} oifname ${w2} meta nfproto ipv4 counter masquerade comment "NAT WAN2"
\t\toifname ${wans} meta nfproto ipv4 masquerade comment "everything else leaving by a WAN"${nptRules(m)}
\t}${leakGuard}
}
`;
}

export interface NewConnection {
  /** Interface the connection arrives on. */
  iif: string;
  saddr: string;
  dport: number;
}

/**
 * What the input chain does with the first packet of a new TCP connection to the router, following
 * the rules renderEdgeNft() writes (for the lockout preflight: is edge's own SSH access kept?).
 * `contains(prefix, address)` decides set membership.
 */
export function inputVerdict(
  m: EdgeNftModel,
  c: NewConnection,
  contains: (prefix: string, address: string) => boolean,
): { verdict: 'accept' | 'drop'; rule: string } {
  if (c.iif === 'lo') return { verdict: 'accept', rule: 'iif "lo" accept' };
  if (m.mgmt && c.iif === m.mgmt) return { verdict: 'accept', rule: `iifname ${nftString(m.mgmt)} accept` };
  if (c.dport === m.sshPort && m.sshSources.some((p) => contains(p, c.saddr)))
    return { verdict: 'accept', rule: `tcp dport ${m.sshPort} ip saddr @ssh_sources accept` };
  if (c.dport === m.sshPort && (m.sshSources6 ?? []).some((p) => contains(p, c.saddr)))
    return { verdict: 'accept', rule: `tcp dport ${m.sshPort} ip6 saddr @ssh_sources6 accept` };
  if (c.iif === m.lan) return { verdict: 'accept', rule: `iifname ${nftString(m.lan)} accept` };
  return { verdict: 'drop', rule: 'counter drop (input policy drop)' };
}

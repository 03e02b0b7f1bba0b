import { z } from 'zod';
import type { Facts } from '../facts/types.js';
import type { HostVars } from '../inventory/vars.js';
import { runtimeDiff } from '../render/diff.js';
import { portRanges, ruleFamily } from '../inventory/steering.js';
import type { NftPolicy } from '../render/nft-policy.js';
import { inputVerdict, NFT_FAMILY, NFT_NAME, PREFERRED_MAP, renderEdgeNft, type EdgeNftModel, type NftIpv6 } from '../render/nftables.js';
import { containsAddress6, minimalPrefixes6 } from '../ipv6.js';
import { lanPrefixes6, resolveIpv6, type Ipv6Plan, type Wan6 } from './ipv6.js';
import { shQuote } from '../encode/index.js';
import type { ChangeOp } from './change-ops.js';
import type { Change, Task, TaskContext } from './contract.js';
import { ruleRange } from './desired-routing.js';
import { fileChange } from './file-change.js';
import { containsAddress, minimalPrefixes } from '../ipv4.js';
import { KA_LINK, NFT_TABLE, PATHS } from './paths.js';
import { notPlanned, resolveTopology, type Topology } from './wan.js';
import { taskParams } from './params.js';

/** Who may SSH to the router from any interface: edge_ssh_allowed_sources, else the management subnets and the LAN. */
export function sshSources(vars: HostVars, t: Topology): string[] {
  return minimalPrefixes(allowedSources(vars, t.lan.prefix ? [t.lan.prefix] : []).filter((p) => !p.includes(':')));
}

/** The same for IPv6: the IPv6 entries, and the LAN's IPv6 prefixes when edge routes IPv6. */
export function sshSources6(vars: HostVars, v6: Ipv6Plan): string[] {
  return minimalPrefixes6(allowedSources(vars, v6.mode === 'off' ? [] : lanPrefixes6(v6)).filter((p) => p.includes(':')));
}

function allowedSources(vars: HostVars, lan: string[]): string[] {
  return vars.edge_ssh_allowed_sources ?? [...vars.edge_mgmt_subnets, ...lan];
}

/** The nft side of IPv6: the LAN's prefixes (and translated, each WAN's mapped prefix), every prefix of each ISP for the leak guard. */
function nftIpv6(v6: Ipv6Plan): NftIpv6 | undefined {
  if (v6.mode === 'off') return undefined;
  const own = (w: Wan6) => minimalPrefixes6([w.prefix!, ...w.addresses.map((a) => a.network)]);
  const owns = { own1: own(v6.wan1), own2: own(v6.wan2) };
  if (v6.mode === 'native') return { mode: 'native', lan1: v6.wan1.mapped!, lan2: v6.wan2.mapped!, ...owns };
  return { mode: 'translated', lanPrefix: v6.lanPrefix, mapped1: v6.wan1.mapped!, mapped2: v6.wan2.mapped!, ...owns };
}

/** The mode, weights and steering rules new LAN flows follow, as the ruleset renders them. */
export function nftPolicy(vars: HostVars): NftPolicy {
  return {
    mode: vars.edge_wan_mode,
    weights: [vars.edge_wan1_weight, vars.edge_wan2_weight],
    stickySeconds: vars.edge_balance_sticky_timeout,
    rules: vars.edge_steering.map((r) => ({
      name: r.name,
      family: ruleFamily(r),
      source: r.source,
      destination: r.destination,
      protocol: r.protocol,
      ports: r.ports && portRanges(r.ports),
      action: r.action,
      onDown: r.on_down,
    })),
  };
}

/**
 * IPv6 steering rules on a host whose IPv6 edge does not translate: with IPv6 off no IPv6 flow of
 * the LAN is edge's to steer, and in native mode a flow's source prefix decides its WAN (the other
 * ISP would drop it). Either way each rule would be dead. Refused, with why.
 */
function unroutedIpv6Rules(vars: HostVars, v6: Ipv6Plan): string[] {
  if (v6.mode === 'translated') return [];
  const why =
    v6.mode === 'native'
      ? 'IPv6 is native on this host: a flow leaves by the ISP of its source prefix, the other ISP would drop it; steer IPv6 with edge_ipv6_mode translated'
      : `IPv6 is not translated on this host (${v6.why})`;
  return vars.edge_steering.flatMap((r, i) =>
    ruleFamily(r) === 6 ? [`edge_steering[${i}] (${JSON.stringify(r.name)}) steers IPv6 flows, but ${why}: no flow would match it`] : [],
  );
}

export function nftModel(vars: HostVars, t: Topology, facts: Facts): EdgeNftModel {
  const v6 = resolveIpv6(vars, facts, t);
  const ipv6 = nftIpv6(v6);
  const sources6 = sshSources6(vars, v6);
  return {
    ...(ipv6 ? { ipv6 } : {}),
    ...(sources6.length ? { sshSources6: sources6 } : {}),
    wan1: { ifname: t.wan1.ifname, mark: t.wan1.mark },
    wan2: { ifname: t.wan2.ifname, mark: t.wan2.mark },
    lan: t.lan.ifname,
    lanPrefix: t.lan.prefix,
    mgmt: vars.edge_mgmt_interface,
    sshPort: vars.edge_ssh_port,
    sshSources: sshSources(vars, t),
    kaLinks: [KA_LINK.a, KA_LINK.b],
    policy: nftPolicy(vars),
  };
}

/**
 * Loads the ruleset and puts back the preferred WAN keepalived chose (loading resets the map to
 * WAN1), which also moves the rule the router's own traffic follows (in edge's rule range: saved too).
 * edge-failover exists once the failover task has run; before that there is nothing to keep.
 */
function load(t: Topology): ChangeOp {
  return { kind: 'nft', table: NFT_TABLE, file: PATHS.nftRuleset, sync: { program: PATHS.edgeFailover, ruleRange: ruleRange(t) } };
}

/** Is edge's table loaded as edge last wrote it (with its preferred-WAN map)? */
export function liveTableOk(facts: Facts): boolean {
  const text = facts.nftTableText[NFT_TABLE];
  return text !== undefined && text.includes(`map ${PREFERRED_MAP}`);
}

const UNSEEN_SESSION =
  "edge cannot see its own SSH session on the host (no SSH_CONNECTION in edge's shell nor in any process above it, up to sshd), so it cannot tell whether the new firewall keeps new SSH connections like its own open";

/**
 * Lockout preflight for the firewall: would the input chain edge installs accept a NEW SSH connection
 * like the one edge is using (same source, same address and port, arriving on the interface that
 * holds the address)? The established session itself survives (ct state established is accepted);
 * what must keep working is the new connection that confirms the change and every later run.
 */
export function sshLockout(vars: HostVars, t: Topology, facts: Facts): string[] {
  const s = facts.session;
  // Unseen is not safe: the check would pass without having looked (sudo's env_reset, an sshd
  // that sets no SSH_CONNECTION). Refused like a cut, so the operator decides with the reason.
  if (!s) return [UNSEEN_SESSION];
  const iif = s.serverAddress.startsWith('127.') ? 'lo' : facts.interfaces.find((i) => i.addresses.some((a) => a.address === s.serverAddress))?.name;
  if (!iif) return [];
  const contains = (p: string, a: string) => (a.includes(':') ? containsAddress6(p, a) : containsAddress(p, a));
  const v = inputVerdict(nftModel(vars, t, facts), { iif, saddr: s.clientAddress, dport: s.serverPort }, contains);
  if (v.verdict === 'accept') return [];
  const port = s.serverPort !== vars.edge_ssh_port ? `; sshd answers on ${s.serverPort} but edge_ssh_port is ${vars.edge_ssh_port}` : '';
  return [
    `table inet edge, chain input, rule "${v.rule}" would refuse new SSH connections like edge's own (${s.clientAddress} to ${s.serverAddress}:${s.serverPort} on ${iif}): add ${s.clientAddress}'s network to edge_ssh_allowed_sources or edge_mgmt_subnets, or set edge_mgmt_interface${port}`,
  ];
}

const params = taskParams.nftables;

export const nftablesTask: Task<z.infer<typeof params>> = {
  name: 'nftables',
  description: "edge's own nftables table: WAN marks, firewall, NAT; validated, replaced atomically, loaded at boot",
  params,
  needs() {
    return { files: [PATHS.nftRuleset], nftTables: [NFT_TABLE] };
  },
  plan({ vars, facts }: TaskContext) {
    const r = resolveTopology(vars, facts);
    if (!r.ok) return notPlanned(r.missing);
    const dead6 = unroutedIpv6Rules(vars, resolveIpv6(vars, facts, r.topology));
    if (dead6.length) return { changes: [], failures: dead6 };
    const content = renderEdgeNft(nftModel(vars, r.topology, facts));
    // Validated with nft -c before it replaces the file; loading replaces only table inet edge.
    const file = fileChange(facts, { path: PATHS.nftRuleset, content, mode: '0600' }, 'nft -c -f');
    const changes: Change[] = [];
    if (file) {
      changes.push({ ...file, summary: `${file.summary} and load table ${NFT_TABLE}`, ops: [...file.ops, load(r.topology)] });
    } else if (!liveTableOk(facts)) {
      // The file is right but the table is gone (someone ran `nft flush ruleset`, say): load it again.
      changes.push({
        summary: `load table ${NFT_TABLE} from ${PATHS.nftRuleset} (it is not loaded)`,
        diff: runtimeDiff('nft', facts.nftTableText[NFT_TABLE] ? [`table ${NFT_TABLE} (without map ${PREFERRED_MAP})`] : [], [`table ${NFT_TABLE} from ${PATHS.nftRuleset}`]),
        ops: [load(r.topology)],
      });
    }
    const lockout = changes.length ? sshLockout(vars, r.topology, facts) : [];
    return lockout.length ? { changes, lockout } : { changes };
  },
  verify() {
    return `nft list map ${NFT_FAMILY} ${NFT_NAME} ${PREFERRED_MAP} >/dev/null || edge_fail ${shQuote(`table ${NFT_TABLE} with map ${PREFERRED_MAP} is not loaded`)}`;
  },
};

/**
 * The lab's wiring: network namespaces, veth pairs, addresses and routes (all driven with
 * `ip -n NS -batch -`, one process per namespace). The command lists are pure functions of the
 * address plan; applying, checking and sweeping them is here too.
 *
 *   root ns:   bridge elab-mgmt (198.18.K.1/24) ── elab-rN-m ═ mgmt0 (in elab-rN)
 *   elab-rN:   wan1 ═ down0 (elab-rN-isp1)   wan2 ═ down0 (elab-rN-isp2)   lan0 ═ eth0 (elab-rN-lan)
 *   elab-rN-ispX: up0 ═ rN-ispX (elab-inet); default via the internet; forwards; no NAT
 *   elab-inet: targets + whoami on lo; a route back to each ISP link via that ISP's uplink
 *
 * IPv6 alongside (addresses in plan.ts): each ISP has the link's /64 and a ULA uplink, routes its
 * delegated prefixes to the router's link-local address (a real ISP installs that route when it
 * delegates; here the one prefix it can delegate is known), and the internet routes every ISP
 * prefix back to its ISP. The static addresses skip duplicate address detection (nodad): nothing
 * else on these links can hold them, and a tentative address would refuse the daemons for a second.
 *
 * The router's own interfaces are left down and unaddressed: systemd-networkd inside the
 * container configures them. Only the bridge is in the host's namespace; it gets forwarding off
 * and IPv6 off, so nothing from the lab is ever routed by the host.
 */
import { writeFileSync } from 'node:fs';
import type { LabPlan, RouterPlan } from './plan.js';
import { CLIENT_IF, ISP_IFS, ROUTER_IFS, macOf, routerNamespaces } from './plan.js';
import type { LabPaths, LabState } from './state.js';
import { recordObjects } from './state.js';
import { inNetns, ipBatch, linkNames, netnsList, run } from './sys.js';

export interface NsBatch {
  /** null = the root namespace */
  ns: string | null;
  lines: string[];
}

export function bridgeBatch(plan: LabPlan): string[] {
  return [
    `link add ${plan.bridge} type bridge`,
    `addr replace ${plan.hostMgmt}/24 dev ${plan.bridge}`,
    `link set ${plan.bridge} up`,
  ];
}

export function inetBatch(plan: LabPlan): string[] {
  return ['link set lo up', ...inet6Batch(plan), ...[...plan.targets, plan.whoami.address].map((a) => `addr add ${a}/32 dev lo`)];
}

/** The internet's IPv6 targets (`addr replace`: re-applied to an internet made before the lab had IPv6). */
export function inet6Batch(plan: LabPlan): string[] {
  return [...plan.targets6, plan.whoami6.address].map((a) => `addr replace ${a}/128 dev lo`);
}

/** Everything of one router, in order (namespaces first, then one batch per namespace). */
export function routerBatches(r: RouterPlan, plan: LabPlan): NsBatch[] {
  const mac = (i: Parameters<typeof macOf>[2], side: 'router' | 'peer') => macOf(r, plan.instance, i, side);
  const isp = (link: RouterPlan['isp1'], extra: string[]): NsBatch => ({
    ns: link.ns,
    lines: [
      'link set lo up',
      `link add ${ISP_IFS.up} type veth peer name ${link.uplink.inetIf} netns ${plan.inetNs}`,
      `addr add ${link.gateway}/${link.prefixLen} dev ${ISP_IFS.down}`,
      ...extra,
      `addr add ${link.uplink.isp}/30 dev ${ISP_IFS.up}`,
      `addr add ${link.v6.gateway}/64 dev ${ISP_IFS.down} nodad`,
      `addr add ${link.v6.uplink.isp}/64 dev ${ISP_IFS.up} nodad`,
      `link set ${ISP_IFS.down} up`,
      `link set ${ISP_IFS.up} up`,
      `route add default via ${link.uplink.inet} dev ${ISP_IFS.up}`,
      `route add ::/0 via ${link.v6.uplink.inet} dev ${ISP_IFS.up}`,
      ...[link.v6.delegated, link.v6.altDelegated].map((p) => `route add ${p} via ${link.v6.routerLinkLocal} dev ${ISP_IFS.down}`),
    ],
  });
  const uplink = (link: RouterPlan['isp1']) => [
    `addr add ${link.uplink.inet}/30 dev ${link.uplink.inetIf}`,
    `addr add ${link.v6.uplink.inet}/64 dev ${link.uplink.inetIf} nodad`,
    `link set ${link.uplink.inetIf} up`,
    `route add ${link.subnet} via ${link.uplink.isp} dev ${link.uplink.inetIf}`,
    ...[link.v6.link, link.v6.delegated, link.v6.altDelegated].map((p) => `route add ${p} via ${link.v6.uplink.isp} dev ${link.uplink.inetIf}`),
  ];
  return [
    {
      ns: null,
      lines: [
        ...routerNamespaces(r).map((ns) => `netns add ${ns}`),
        `link add ${r.hostVeth} address ${mac('mgmt', 'peer')} type veth peer name ${ROUTER_IFS.mgmt} address ${mac('mgmt', 'router')} netns ${r.ns}`,
        `link set ${r.hostVeth} master ${plan.bridge}`,
        `link set ${r.hostVeth} up`,
      ],
    },
    {
      ns: r.ns,
      lines: [
        `link add ${ROUTER_IFS.wan1} address ${mac('wan1', 'router')} type veth peer name ${ISP_IFS.down} address ${mac('wan1', 'peer')} netns ${r.isp1.ns}`,
        `link add ${ROUTER_IFS.wan2} address ${mac('wan2', 'router')} type veth peer name ${ISP_IFS.down} address ${mac('wan2', 'peer')} netns ${r.isp2.ns}`,
        `link add ${ROUTER_IFS.lan} address ${mac('lan', 'router')} type veth peer name ${CLIENT_IF} address ${mac('lan', 'peer')} netns ${r.lanNs}`,
      ],
    },
    isp(r.isp1, [`addr add ${r.isp1.altGateway}/${r.isp1.prefixLen} dev ${ISP_IFS.down}`]),
    isp(r.isp2, []),
    {
      ns: r.lanNs,
      lines: [
        'link set lo up',
        `addr add ${r.lan.client}/${r.lan.prefixLen} dev ${CLIENT_IF}`,
        `link set ${CLIENT_IF} up`,
        `route add default via ${r.lan.router} dev ${CLIENT_IF}`,
      ],
    },
    { ns: plan.inetNs, lines: [...uplink(r.isp1), ...uplink(r.isp2)] },
  ];
}

/** Per-namespace sysctls: ISPs and the internet forward (no NAT); the router starts as Debian ships (no forwarding). */
export function routerSysctls(r: RouterPlan): { ns: string; settings: string[] }[] {
  const isp = ['net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv6.conf.all.forwarding=1'];
  return [
    { ns: r.ns, settings: ['net.ipv4.ip_forward=0'] },
    { ns: r.isp1.ns, settings: isp },
    { ns: r.isp2.ns, settings: isp },
  ];
}

async function sysctl(ns: string, settings: string[]): Promise<void> {
  await inNetns(ns, 'sysctl', ['-q', '-w', ...settings]);
}

function hostSysctl(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch {
    /* IPv6 disabled on the host, or the link is gone: nothing to do */
  }
}

/** The bridge (created if missing; its address, state and safety settings made right either way). */
export async function ensureBridge(paths: LabPaths, state: LabState, plan: LabPlan): Promise<void> {
  recordObjects(paths, state, 'links', [plan.bridge]);
  const have = (await linkNames(null)).includes(plan.bridge);
  await ipBatch(null, have ? bridgeBatch(plan).slice(1) : bridgeBatch(plan));
  hostSysctl(`/proc/sys/net/ipv4/conf/${plan.bridge}/forwarding`, '0');
  hostSysctl(`/proc/sys/net/ipv6/conf/${plan.bridge}/disable_ipv6`, '1');
}

export async function ensureInternet(paths: LabPaths, state: LabState, plan: LabPlan): Promise<boolean> {
  const exists = (await netnsList()).includes(plan.inetNs);
  if (!exists) {
    recordObjects(paths, state, 'netns', [plan.inetNs]);
    await ipBatch(null, [`netns add ${plan.inetNs}`]);
    await ipBatch(plan.inetNs, inetBatch(plan));
  } else await ipBatch(plan.inetNs, inet6Batch(plan));
  await sysctl(plan.inetNs, ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  return !exists;
}

export async function createRouterNetwork(paths: LabPaths, state: LabState, plan: LabPlan, r: RouterPlan): Promise<void> {
  recordObjects(paths, state, 'netns', routerNamespaces(r));
  recordObjects(paths, state, 'links', [r.hostVeth]);
  for (const b of routerBatches(r, plan)) await ipBatch(b.ns, b.lines);
  for (const s of routerSysctls(r)) await sysctl(s.ns, s.settings);
  hostSysctl(`/proc/sys/net/ipv6/conf/${r.hostVeth}/disable_ipv6`, '1');
}

/** Is all of the router's wiring in place (so a running router can be left alone)? */
export async function routerNetworkOk(r: RouterPlan, plan: LabPlan, have: { netns: Set<string>; rootLinks: Set<string> }): Promise<boolean> {
  if (!routerNamespaces(r).every((ns) => have.netns.has(ns)) || !have.rootLinks.has(r.hostVeth)) return false;
  const want: [string, string[]][] = [
    [r.ns, Object.values(ROUTER_IFS)],
    [r.isp1.ns, [ISP_IFS.down, ISP_IFS.up]],
    [r.isp2.ns, [ISP_IFS.down, ISP_IFS.up]],
    [r.lanNs, [CLIENT_IF]],
    [plan.inetNs, [r.isp1.uplink.inetIf, r.isp2.uplink.inetIf]],
  ];
  for (const [ns, links] of want) {
    const got = new Set(await linkNames(ns));
    if (!links.every((l) => got.has(l))) return false;
  }
  // a router wired before the lab had IPv6 is wired again
  const v6 = await ipJson<{ addr_info?: { local: string }[] }>(r.isp1.ns, ['-6', 'addr', 'show', 'dev', ISP_IFS.down]);
  return v6.some((l) => l.addr_info?.some((a) => a.local === r.isp1.v6.gateway));
}

/**
 * Remove a router's namespaces (its processes must be stopped first). The links that leave them —
 * the uplinks into the internet namespace and the management veth in the root namespace — are
 * deleted explicitly first: the kernel frees a deleted namespace (and the veths in it) later, in
 * the background, and a quick re-create would find the old names still taken.
 */
export async function deleteRouterNetwork(r: RouterPlan, plan: LabPlan): Promise<void> {
  await ipBatch(plan.inetNs, [`link del ${r.isp1.uplink.inetIf}`, `link del ${r.isp2.uplink.inetIf}`], { force: true });
  await ipBatch(null, [`link del ${r.hostVeth}`, ...routerNamespaces(r).map((ns) => `netns del ${ns}`)], { force: true });
}

/**
 * Remove every namespace and root link named with the lab prefix (recorded or not), plus the ones
 * recorded in the state. Returns what was removed.
 */
export async function sweepNetwork(prefix: string, recorded: { netns: string[]; links: string[] }): Promise<{ netns: string[]; links: string[] }> {
  const mine = (n: string) => n.startsWith(`${prefix}-`);
  const existingNs = new Set(await netnsList());
  const netns = [...new Set([...recorded.netns, ...[...existingNs].filter(mine)])].filter((n) => existingNs.has(n));
  await ipBatch(null, netns.map((n) => `netns del ${n}`), { force: true });
  const existingLinks = new Set(await linkNames(null));
  const links = [...new Set([...recorded.links, ...[...existingLinks].filter(mine)])].filter((l) => existingLinks.has(l));
  // veths first (deleting one end removes both), then bridges
  await ipBatch(null, links.map((l) => `link del ${l}`), { force: true });
  return { netns, links };
}

/** `ip -n NS -j ARGS…` parsed (empty when the namespace or object is missing). */
export async function ipJson<T>(ns: string, args: string[]): Promise<T[]> {
  const r = await run('ip', ['-n', ns, '-j', ...args], { allowFail: true });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  return JSON.parse(r.stdout) as T[];
}

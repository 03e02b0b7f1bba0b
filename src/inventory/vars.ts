import { isIP } from 'node:net';
import { z } from 'zod';
import { ansibleBool } from '../config/ansible-cfg.js';
import { pathSchema } from '../config/text.js';
import { SYSCTL_KEY_PATTERN, SYSCTL_KEY_RULE, SYSCTL_VALUE_PATTERN, SYSCTL_VALUE_RULE } from '../encode/index.js';
import { windowSchema } from '../playbook/window-schema.js';
import { formatPrefix6, hasHostBits6, ip6ToBig, parsePrefix6 } from '../ipv6.js';
import { addressProblem, hostBitsProblem } from './address-rules.js';
import { deadRules, overlappingPort, portRange } from './steering.js';
import { SSH_USER_RE, sshArgsProblem, type SshArgsField } from './ssh-args.js';

/**
 * edge's own inventory variables (all optional, with defaults that are safe for production).
 * Connection variables use Ansible's names so an existing inventory loads unchanged.
 * Validated per host after precedence is applied (all < parent group < child group < host).
 */

const ipv4 = z.ipv4({ error: 'expected an IPv4 address like 192.0.2.1' });
/** A host edge talks to or routes through (gateway, health target): one unicast address. */
const unicast4 = (role: string) =>
  ipv4.superRefine((a, ctx) => {
    const problem = addressProblem(a, role);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
/** An IPv6 health-check target: global unicast (not link-local, multicast, ULA or unspecified). */
const unicast6 = z.ipv6({ error: 'expected an IPv6 address like 2001:db8::1' }).superRefine((a, ctx) => {
  const n = ip6ToBig(a);
  if (n === undefined) return; // not an address: z.ipv6 has said so
  const top = Number(n >> 120n);
  if (n <= 1n || top === 0xff || (top & 0xfe) === 0xfc || (n >> 118n) === 0x3fan)
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(a)} is not a global unicast address: refused as a health-check target` });
});
/** A network (subnets, allowed sources): written as its network address, host bits clear. */
const cidr4 = z.cidrv4({ error: 'expected an IPv4 prefix like 198.18.0.0/15' }).superRefine((c, ctx) => {
  const problem = hostBitsProblem(c);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
/** An IPv6 network, written as its network address like the IPv4 ones. */
const cidr6 = z.cidrv6({ error: 'expected an IPv6 prefix like 2001:db8::/48' }).superRefine((c, ctx) => {
  if (hasHostBits6(c))
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(c)} has host bits set: refused — write the network ${formatPrefix6(parsePrefix6(c)!)}` });
});
/** Who may reach the router: IPv4 or IPv6 prefixes. */
const cidr = z.union([cidr4, cidr6], { error: 'expected an IPv4 or IPv6 prefix like 198.18.0.0/15 or 2001:db8::/48' });
/** A prefix the LAN uses or a WAN is given: /48 to /64 (SLAAC needs a /64 on the LAN). */
const sitePrefix6 = (what: string) =>
  cidr6.refine((c) => {
    const len = Number(c.split('/')[1]);
    return len >= 48 && len <= 64;
  }, `${what} must be a /48 to /64`);
const ifname = z
  .string()
  .regex(/^[A-Za-z0-9_.:@-]{1,15}$/, 'expected a Linux interface name (1-15 chars of A-Z a-z 0-9 _ . : @ -)');
const mark = z
  .union([z.number().int(), z.string().regex(/^(0x[0-9a-fA-F]+|[0-9]+)$/, 'expected a number like 0x1')])
  .transform((v) => (typeof v === 'number' ? v : Number(v)))
  .pipe(z.number().int().min(1).max(0xffffffff));
const tableId = z.number().int().min(1).max(0xfffffffe).refine((n) => ![253, 254, 255].includes(n), {
  message: 'table ids 253 (default), 254 (main) and 255 (local) are reserved',
});
// The kernel's own tables (rt_tables: 255 local, 254 main, 253 default, 0 unspec): a WAN table by
// one of these names would rename the kernel's table in rt_tables and route through it.
const RESERVED_TABLE_NAMES = ['local', 'main', 'default', 'unspec'];
const tableName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,30}$/, 'expected a table name like wan1')
  .refine((n) => !RESERVED_TABLE_NAMES.includes(n.toLowerCase()), {
    message: 'local, main, default and unspec are the kernel\'s own routing tables: refused (edge would rename one in rt_tables and route WAN traffic through it)',
  });
// A sysctl setting goes into /etc/sysctl.d as `key = value` and to `sysctl -w`, as root: the key
// must be in a networking family (kernel.core_pattern runs a command at the next core dump) and a
// newline in the value would add a second setting of the author's choosing.
const sysctlKeySchema = z.string().max(200, SYSCTL_KEY_RULE).regex(SYSCTL_KEY_PATTERN, SYSCTL_KEY_RULE);
const sysctlValueSchema = z.union([z.string().regex(SYSCTL_VALUE_PATTERN, SYSCTL_VALUE_RULE), z.number()]);
const seconds = (min: number, max: number) => z.number().min(min).max(max);

// Where edge connects: an IP address or a DNS name, nothing a resolver or a log line would misread.
const DNS_LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const DNS_NAME = new RegExp(`^${DNS_LABEL}(?:\\.${DNS_LABEL})*\\.?$`);
const sshAddress = z
  .string()
  .max(253)
  .refine((a) => isIP(a) !== 0 || DNS_NAME.test(a), 'expected an IP address or a DNS name (letters, digits, _ and - in dot-separated labels)');
const sshUser = z.string().regex(SSH_USER_RE, 'expected a user name (letters, digits, _ . @ - \\, at most 64)');

// Ansible's boolean(): INI gives `ansible_become=yes` as text, YAML as a boolean.
const ansibleBoolean = z.preprocess(
  (v) => (typeof v === 'string' ? (ansibleBool(v) ?? v) : v === 1 || v === 0 ? v === 1 : v),
  z.boolean({ error: 'expected a boolean (true/false, yes/no)' }),
);
// A password typed into INI as digits arrives as a number; Ansible passes it to sudo as text.
const becomePassword = z
  .union([z.string(), z.number()], { error: 'expected the sudo password as text' })
  .transform(String)
  .optional()
  .describe('sudo password of the login user; only ever written to sudo\'s stdin, never logged');
/** The sudo plugin's names for the password, in Ansible's order (a later name wins, as in Ansible). */
export const BECOME_PASSWORD_VARS = ['ansible_become_password', 'ansible_become_pass', 'ansible_sudo_pass'] as const;
const becomePasswordVars = Object.fromEntries(BECOME_PASSWORD_VARS.map((k) => [k, becomePassword])) as Record<
  (typeof BECOME_PASSWORD_VARS)[number],
  typeof becomePassword
>;

function sshArgs(field: SshArgsField) {
  return z
    .string({ error: 'expected ssh options as one string, e.g. "-o ProxyJump=bastion"' })
    .superRefine((s, ctx) => {
      const problem = sshArgsProblem(s, field);
      if (problem) ctx.addIssue({ code: 'custom', message: `${problem}: refused` });
    })
    .optional();
}

export const connectionVarsSchema = z.object({
  ansible_host: sshAddress.optional().describe('Address or name edge connects to (default: the inventory host name)'),
  ansible_user: sshUser.optional().describe('SSH user'),
  // Ansible takes the port as int(value): ansible_port: "2222" is a port too.
  ansible_port: z
    .preprocess((v) => (typeof v === 'string' && /^\s*\+?[0-9]+\s*$/.test(v) ? Number(v) : v), z.number().int().min(1).max(65535))
    .optional()
    .describe('SSH port'),
  ansible_ssh_private_key_file: pathSchema('key file path').optional().describe('SSH private key file'),
  ansible_become: ansibleBoolean.optional().describe('Become root with sudo when the login user is not root (every edge task needs root)'),
  ansible_become_method: z
    .literal('sudo', { error: 'edge becomes root with sudo only: other become methods (su, doas, pbrun, …) are not supported' })
    .optional()
    .describe('Only sudo is supported'),
  ansible_become_user: z
    .literal('root', { error: 'edge runs everything on a router as root: ansible_become_user must be root (or unset)' })
    .optional()
    .describe('Only root: every edge task needs root'),
  ansible_become_exe: z
    .literal('sudo', { error: 'edge runs sudo from the router\'s PATH: ansible_become_exe must be sudo (or unset)' })
    .optional()
    .describe('Only sudo'),
  ...becomePasswordVars,
  ansible_ssh_args: sshArgs('ssh_args').describe('ssh options before the user and port (replaces ansible.cfg ssh_args); edge honours ProxyJump/-J, Port, User, IdentityFile, UserKnownHostsFile, StrictHostKeyChecking, ConnectTimeout, ServerAliveInterval/CountMax and refuses others'),
  ansible_ssh_common_args: sshArgs('ssh_common_args').describe('ssh options after the user and port, e.g. -o ProxyJump=bastion (same options as ansible_ssh_args, ConnectTimeout excepted)'),
  ansible_ssh_extra_args: sshArgs('ssh_extra_args').describe('ssh options after ansible_ssh_common_args, e.g. -J bastion'),
  edge_known_hosts_file: pathSchema('known_hosts path').optional().describe('known_hosts file for this host (default ~/.ssh/known_hosts)'),
});

// Why each role may not share an interface with another, said where the second one is set.
const ROLE_CLASH: Record<string, string> = {
  'edge_wan1_interface/edge_wan2_interface': 'WAN1 and WAN2 must be different interfaces (failover needs two uplinks)',
  'edge_wan1_interface/edge_lan_interface': 'the LAN cannot be a WAN interface: LAN clients would be NATed to themselves and the internet treated as the LAN',
  'edge_wan2_interface/edge_lan_interface': 'the LAN cannot be a WAN interface: LAN clients would be NATed to themselves and the internet treated as the LAN',
  'edge_wan1_interface/edge_mgmt_interface':
    'the management interface cannot be a WAN: the firewall accepts everything arriving on it, so every service of the router would be open to the internet',
  'edge_wan2_interface/edge_mgmt_interface':
    'the management interface cannot be a WAN: the firewall accepts everything arriving on it, so every service of the router would be open to the internet',
  'edge_lan_interface/edge_mgmt_interface':
    'the management interface cannot be the LAN: it is trusted with every service, so every LAN client would get management access (leave edge_mgmt_interface unset when the router is managed over its LAN)',
};
const ROLE_VARS = ['edge_wan1_interface', 'edge_wan2_interface', 'edge_lan_interface', 'edge_mgmt_interface'] as const;

/** WAN1, WAN2, LAN and management: all distinct; each clash reported at the later of the two variables. */
function interfaceRoleIssues(v: Partial<Record<(typeof ROLE_VARS)[number], string>>): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  ROLE_VARS.forEach((b, j) => {
    const a = ROLE_VARS.slice(0, j).find((x) => v[x] !== undefined && v[x] === v[b]);
    if (a) out.push({ path: [b], message: `is ${JSON.stringify(v[b])}, the same as ${a}: refused — ${ROLE_CLASH[`${a}/${b}`]}` });
  });
  return out;
}

// A steering rule's destination port: 5060 or "10000-20000".
const steerPort = z
  .union([z.number().int(), z.string()])
  .refine((p) => portRange(p) !== undefined, 'expected a port 1-65535 or a range like "10000-20000" (low-high)');

const steeringRule = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/, 'expected a name like phones (letters, digits, _ and -, at most 32)').describe('Name shown in status and counters'),
    source: cidr.optional().describe('LAN source prefix the flow comes from (IPv4, or IPv6 with translated IPv6)'),
    destination: cidr.optional().describe('Destination prefix (the same family as source)'),
    protocol: z.enum(['tcp', 'udp', 'icmp']).optional().describe('IP protocol'),
    ports: z.array(steerPort).min(1).max(32).optional().describe('Destination ports or ranges (needs protocol tcp or udp)'),
    action: z.enum(['wan1', 'wan2', 'balance']).describe('WAN new matching flows use; balance: by edge_wan1_weight/edge_wan2_weight'),
    on_down: z
      .enum(['fallback', 'only'])
      .default('fallback')
      .describe("When the action's WAN is down: fallback to the other WAN (default), or only (drop: never the other WAN)"),
  })
  .superRefine((r, ctx) => {
    if (r.ports && r.protocol !== 'tcp' && r.protocol !== 'udp')
      ctx.addIssue({ code: 'custom', path: ['ports'], message: 'ports need protocol: tcp or protocol: udp' });
    const clash = r.ports && overlappingPort(r.ports);
    if (clash) ctx.addIssue({ code: 'custom', path: ['ports', clash.index], message: `overlaps ports[${clash.other}]: write each port once` });
    if (r.source && r.destination && r.source.includes(':') !== r.destination.includes(':'))
      ctx.addIssue({ code: 'custom', path: ['destination'], message: 'is not the family of source: a flow is IPv4 or IPv6, so no flow would match (write one rule per family)' });
    if (r.action === 'balance' && r.on_down === 'only')
      ctx.addIssue({ code: 'custom', path: ['on_down'], message: 'only needs action wan1 or wan2 (balance uses whichever WAN is up)' });
  });

/** Rule names are unique (they name the counters) and no rule is dead behind an earlier one. */
function steeringIssues(rules: z.output<typeof steeringRule>[]): { path: PropertyKey[]; message: string }[] {
  const out: { path: PropertyKey[]; message: string }[] = [];
  rules.forEach((r, j) => {
    const i = rules.findIndex((o) => o.name === r.name);
    if (i < j) out.push({ path: [j, 'name'], message: `${JSON.stringify(r.name)} is already the name of edge_steering[${i}]` });
  });
  for (const d of deadRules(rules))
    out.push({
      path: [d.index],
      message: `rule ${JSON.stringify(rules[d.index]!.name)} never matches: edge_steering[${d.by}] (${JSON.stringify(rules[d.by]!.name)}) comes first and matches every flow it would: remove it or move it above`,
    });
  return out;
}

export const DEFAULT_WAN1_TARGETS = ['1.1.1.1', '8.8.8.8', '9.9.9.9'];
export const DEFAULT_WAN2_TARGETS = ['1.0.0.1', '8.8.4.4', '149.112.112.112'];
export const DEFAULT_WAN1_TARGETS6 = ['2606:4700:4700::1111', '2001:4860:4860::8888', '2620:fe::fe'];
export const DEFAULT_WAN2_TARGETS6 = ['2606:4700:4700::1001', '2001:4860:4860::8844', '2620:fe::9'];

export const edgeVarsSchema = z
  .object({
    edge_wan1_interface: ifname.optional().describe('Interface of the primary uplink (WAN1)'),
    edge_wan2_interface: ifname.optional().describe('Interface of the secondary uplink (WAN2)'),
    edge_lan_interface: ifname.optional().describe('Interface facing the LAN'),
    edge_mgmt_interface: ifname.optional().describe('Dedicated management interface, if any'),
    edge_mgmt_subnets: z.array(cidr).max(1024).default([]).describe('Subnets operators manage the router from (IPv4 or IPv6)'),
    edge_ssh_allowed_sources: z
      .array(cidr)
      .max(1024)
      .optional()
      .describe('Sources allowed to SSH to the router; default: management subnets, the LAN, and the management interface'),
    edge_ssh_port: z.number().int().min(1).max(65535).default(22).describe('Port sshd listens on (kept reachable by the firewall)'),

    edge_wan1_gateway: unicast4('a gateway').optional().describe('Static gateway of WAN1; default: learned from the router (DHCP or its network config)'),
    edge_wan2_gateway: unicast4('a gateway').optional().describe('Static gateway of WAN2; default: learned from the router (DHCP or its network config)'),
    edge_wan1_targets: z.array(unicast4('a health-check target')).min(1).max(16).default(DEFAULT_WAN1_TARGETS).describe('Health-check targets probed through WAN1'),
    edge_wan2_targets: z.array(unicast4('a health-check target')).min(1).max(16).default(DEFAULT_WAN2_TARGETS).describe('Health-check targets probed through WAN2'),
    edge_wan1_targets6: z.array(unicast6).min(1).max(16).default(DEFAULT_WAN1_TARGETS6).describe('IPv6 health-check targets probed through WAN1 (translated IPv6: they decide where IPv6 flows go)'),
    edge_wan2_targets6: z.array(unicast6).min(1).max(16).default(DEFAULT_WAN2_TARGETS6).describe('IPv6 health-check targets probed through WAN2'),
    edge_health_interval: seconds(0.05, 10).default(0.15).describe('Seconds between probes to each health-check target (each WAN sends targets / interval packets per second)'),
    edge_health_timeout: seconds(0.3, 60)
      .default(1.2)
      .describe('A WAN is down as soon as fewer than edge_health_success_threshold targets answered within this many seconds'),
    edge_health_rise: seconds(1, 3600)
      .default(8)
      .describe('Seconds a WAN that was down must stay healthy, without a break, before new flows use it again'),
    edge_health_success_threshold: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('Targets that must be answering for a WAN to be healthy (n of m)'),
    // Quality defaults, from the state machine's unit tests (seeded loss, 10 minutes each): 20 %
    // loss each way (36 % of round trips) is degraded within seconds; 10 % each way (19 %) and one
    // dead target of three never are; +1 s on both WANs degrades both and moves nothing.
    edge_health_window: seconds(2, 300).default(10).describe('Seconds over which each WAN\'s loss and round-trip time are measured'),
    edge_health_degraded_loss: z.number().min(1).max(100)
      .default(30)
      .describe('A WAN is degraded once more than this percentage of its probes went unanswered over the window (100: never for loss)'),
    edge_health_recovery_loss: z.number().min(0).max(100).default(10).describe('Loss (percent) at or under which a degraded WAN is good again'),
    edge_health_degraded_rtt: z.number().int().min(1).max(60_000)
      .default(1000)
      .describe('A WAN is degraded once its mean round-trip time over the window passes this many milliseconds'),
    edge_health_recovery_rtt: z.number().int().min(0).max(60_000).default(500).describe('Round-trip time (ms) at or under which a degraded WAN is good again'),
    edge_health_recovery_hold: seconds(0, 3600)
      .default(30)
      .describe('Seconds a degraded WAN must stay good, without a break, before new flows use it again (longer than a brownout\'s good spells)'),

    edge_wan_mode: z
      .enum(['failover', 'balance'])
      .default('failover')
      .describe('failover: new LAN flows use WAN1 while it is healthy; balance: spread over the healthy WANs by weight'),
    edge_wan1_weight: z.number().int().min(1).max(100).default(1).describe('Share of new flows WAN1 takes in balance (weight against edge_wan2_weight)'),
    edge_wan2_weight: z.number().int().min(1).max(100).default(1).describe('Share of new flows WAN2 takes in balance (weight against edge_wan1_weight)'),
    edge_balance_sticky_timeout: z.number().int().min(0).max(86400)
      .default(0)
      .describe('Seconds a LAN source keeps the WAN balance gave it after its last new flow (0: per flow only)'),
    edge_steering: z
      .array(steeringRule)
      .max(64)
      .default([])
      .superRefine((rules, ctx) => {
        for (const issue of steeringIssues(rules)) ctx.addIssue({ code: 'custom', ...issue });
      })
      .describe('Steering rules, first match wins, before the mode: match source, destination, protocol, ports; action wan1, wan2 or balance'),

    edge_wan1_mark: mark.default(0x1).describe('fwmark / ct mark of flows pinned to WAN1'),
    edge_wan2_mark: mark.default(0x2).describe('fwmark / ct mark of flows pinned to WAN2'),
    edge_wan1_table: tableId.default(101).describe('Routing table id for WAN1'),
    edge_wan2_table: tableId.default(102).describe('Routing table id for WAN2'),
    edge_wan1_table_name: tableName.default('wan1').describe('Name of the WAN1 routing table in rt_tables'),
    edge_wan2_table_name: tableName.default('wan2').describe('Name of the WAN2 routing table in rt_tables'),
    edge_rule_priority: z
      .number()
      .int()
      .min(1)
      .max(32000)
      .default(1000)
      .describe('First ip rule priority edge uses; edge owns this and the next 99'),

    edge_ipv6_mode: z
      .enum(['auto', 'translated', 'native', 'off'])
      .default('off')
      .describe(
        "IPv6 on the LAN: translated (one stable LAN prefix, NPTv6 to the prefix of the WAN a flow leaves by; fails over like IPv4), native (a /64 of each ISP's prefix on the LAN, each leaving by its own ISP; a switch deprecates the failed WAN's prefix in the router advertisements, RFC 8475), auto (translated when both WANs have an IPv6 prefix, else off), off (default: edge leaves IPv6 alone)",
      ),
    edge_ipv6_lan_prefix: sitePrefix6('the LAN prefix')
      .optional()
      .describe('The LAN\'s stable IPv6 prefix in translated mode (default: a ULA /64 derived from the LAN interface\'s MAC address)'),
    edge_ipv6_subnet: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(0)
      .describe("Which subnet of each WAN's IPv6 prefix the LAN uses: translated to (of the LAN prefix's length), or announced (native, a /64)"),
    edge_wan1_ipv6_prefix: sitePrefix6('a WAN prefix')
      .optional()
      .describe('Static IPv6 prefix ISP1 routes to the router; default: the prefix delegated by DHCPv6-PD on WAN1'),
    edge_wan2_ipv6_prefix: sitePrefix6('a WAN prefix')
      .optional()
      .describe('Static IPv6 prefix ISP2 routes to the router; default: the prefix delegated by DHCPv6-PD on WAN2'),

    edge_conntrack_flush: z.boolean().default(true).describe('Flush flows pinned to a WAN when it fails'),
    edge_tcp_reset: z
      .boolean()
      .default(true)
      .describe("Reset TCP flows pinned to a WAN that failed at the client's next packet, so it reconnects through the other WAN at once"),
    edge_sysctl: z
      .record(sysctlKeySchema, sysctlValueSchema)
      .default({})
      .describe('Extra sysctl settings, key: value'),
    edge_packages_upgrade: z.boolean().default(false).describe('Upgrade packages that are already installed'),
    edge_metrics: z
      .boolean()
      .default(true)
      .describe("Write Prometheus metrics for node_exporter's textfile collector (edge-metrics; installs and enables prometheus-node-exporter)"),
    edge_metrics_interval: seconds(1, 300).default(5).describe('Seconds between two writes of the metrics file'),
    edge_snapshots_keep: z.number().int().min(1).max(1000).default(10).describe('Snapshots kept per host for rollback'),
    edge_window: windowSchema
      .optional()
      .describe('Maintenance window for these hosts (e.g. per site); wins over the play\'s window'),
  })
  .superRefine((v, ctx) => {
    if (v.edge_wan1_mark === v.edge_wan2_mark)
      ctx.addIssue({ code: 'custom', path: ['edge_wan2_mark'], message: 'must differ from edge_wan1_mark' });
    if (v.edge_wan1_table === v.edge_wan2_table)
      ctx.addIssue({ code: 'custom', path: ['edge_wan2_table'], message: 'must differ from edge_wan1_table' });
    if (v.edge_wan1_table_name === v.edge_wan2_table_name)
      ctx.addIssue({ code: 'custom', path: ['edge_wan2_table_name'], message: 'must differ from edge_wan1_table_name' });
    for (const issue of interfaceRoleIssues(v)) ctx.addIssue({ code: 'custom', ...issue });
    for (const k of ['edge_wan1_targets', 'edge_wan2_targets', 'edge_wan1_targets6', 'edge_wan2_targets6'] as const)
      if (v.edge_health_success_threshold > v[k].length)
        ctx.addIssue({
          code: 'custom',
          path: ['edge_health_success_threshold'],
          message: `is ${v.edge_health_success_threshold} but ${k} has only ${v[k].length} targets`,
        });
    if (v.edge_health_recovery_loss >= v.edge_health_degraded_loss)
      ctx.addIssue({ code: 'custom', path: ['edge_health_recovery_loss'], message: `must be under edge_health_degraded_loss (${v.edge_health_degraded_loss}): the gap between them is the hysteresis` });
    if (v.edge_health_recovery_rtt >= v.edge_health_degraded_rtt)
      ctx.addIssue({ code: 'custom', path: ['edge_health_recovery_rtt'], message: `must be under edge_health_degraded_rtt (${v.edge_health_degraded_rtt}): the gap between them is the hysteresis` });
    if (v.edge_health_window < 10 * v.edge_health_interval)
      ctx.addIssue({ code: 'custom', path: ['edge_health_window'], message: 'must hold at least 10 probes per target (10 × edge_health_interval)' });
    if (v.edge_health_timeout < 3 * v.edge_health_interval)
      ctx.addIssue({
        code: 'custom',
        path: ['edge_health_timeout'],
        message: 'must be at least 3 × edge_health_interval, so that one lost probe never takes a WAN down',
      });
  });

/**
 * All variables of a host: edge's (validated, defaulted), connection ones, and anything else (kept as-is).
 * One loose object rather than an intersection: zod cannot merge an intersection whose sides
 * disagree, and edge_wan1_mark: "0x2" (kept as text on the loose side, a number on the other) threw.
 * safeExtend keeps edgeVarsSchema's cross-field checks.
 */
export const hostVarsSchema = edgeVarsSchema.safeExtend(connectionVarsSchema.shape).loose();

export type EdgeVars = z.output<typeof edgeVarsSchema>;
export type ConnectionVars = z.output<typeof connectionVarsSchema>;
export type HostVars = EdgeVars & ConnectionVars & Record<string, unknown>;

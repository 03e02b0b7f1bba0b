import { z } from 'zod';
import { windowSchema } from '../playbook/window-schema.js';

/**
 * edge's own inventory variables (all optional, with defaults that are safe for production).
 * Connection variables use Ansible's names so an existing inventory loads unchanged.
 * Validated per host after precedence is applied (all < parent group < child group < host).
 */

const ipv4 = z.ipv4({ error: 'expected an IPv4 address like 192.0.2.1' });
const cidr4 = z.cidrv4({ error: 'expected an IPv4 prefix like 198.18.0.0/15' });
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
const tableName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,30}$/, 'expected a table name like wan1');
const seconds = (min: number, max: number) => z.number().min(min).max(max);

export const connectionVarsSchema = z.object({
  ansible_host: z.string().min(1).optional().describe('Address or name edge connects to (default: the inventory host name)'),
  ansible_user: z.string().min(1).optional().describe('SSH user'),
  // Ansible takes the port as int(value): ansible_port: "2222" is a port too.
  ansible_port: z
    .preprocess((v) => (typeof v === 'string' && /^\s*\+?[0-9]+\s*$/.test(v) ? Number(v) : v), z.number().int().min(1).max(65535))
    .optional()
    .describe('SSH port'),
  ansible_ssh_private_key_file: z.string().min(1).optional().describe('SSH private key file'),
  ansible_become: z.boolean().optional().describe('Use sudo for commands that need root'),
  ansible_become_method: z.literal('sudo').optional().describe('Only sudo is supported'),
  edge_known_hosts_file: z.string().min(1).optional().describe('known_hosts file for this host (default ~/.ssh/known_hosts)'),
});

export const DEFAULT_WAN1_TARGETS = ['1.1.1.1', '8.8.8.8', '9.9.9.9'];
export const DEFAULT_WAN2_TARGETS = ['1.0.0.1', '8.8.4.4', '149.112.112.112'];

export const edgeVarsSchema = z
  .object({
    edge_wan1_interface: ifname.optional().describe('Interface of the primary uplink (WAN1)'),
    edge_wan2_interface: ifname.optional().describe('Interface of the secondary uplink (WAN2)'),
    edge_lan_interface: ifname.optional().describe('Interface facing the LAN'),
    edge_mgmt_interface: ifname.optional().describe('Dedicated management interface, if any'),
    edge_mgmt_subnets: z.array(cidr4).default([]).describe('Subnets operators manage the router from'),
    edge_ssh_allowed_sources: z
      .array(cidr4)
      .optional()
      .describe('Sources allowed to SSH to the router; default: management subnets, the LAN, and the management interface'),
    edge_ssh_port: z.number().int().min(1).max(65535).default(22).describe('Port sshd listens on (kept reachable by the firewall)'),

    edge_wan1_gateway: ipv4.optional().describe('Static gateway of WAN1; default: learned from the router (DHCP or its network config)'),
    edge_wan2_gateway: ipv4.optional().describe('Static gateway of WAN2; default: learned from the router (DHCP or its network config)'),
    edge_wan1_targets: z.array(ipv4).min(1).default(DEFAULT_WAN1_TARGETS).describe('Health-check targets probed through WAN1'),
    edge_wan2_targets: z.array(ipv4).min(1).default(DEFAULT_WAN2_TARGETS).describe('Health-check targets probed through WAN2'),
    edge_health_interval: seconds(1, 60).default(2).describe('Seconds between health checks'),
    edge_health_timeout: seconds(0.2, 10).default(1).describe('Per-probe timeout in seconds'),
    edge_health_fall: z.number().int().min(1).max(100).default(3).describe('Failed checks in a row before a WAN is down'),
    edge_health_rise: z.number().int().min(1).max(100).default(5).describe('Passed checks in a row before a WAN is up'),
    edge_health_success_threshold: z
      .number()
      .int()
      .min(1)
      .default(1)
      .describe('Targets that must answer for a check to pass (n of m)'),

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

    edge_conntrack_flush: z.boolean().default(true).describe('Flush flows pinned to a WAN when it fails'),
    edge_sysctl: z
      .record(z.string().regex(/^[a-z0-9_.-]+$/, 'expected a sysctl key like net.ipv4.ip_forward'), z.union([z.string(), z.number()]))
      .default({})
      .describe('Extra sysctl settings, key: value'),
    edge_packages_upgrade: z.boolean().default(false).describe('Upgrade packages that are already installed'),
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
    const ifs = [v.edge_wan1_interface, v.edge_wan2_interface, v.edge_lan_interface].filter(Boolean);
    if (new Set(ifs).size !== ifs.length)
      ctx.addIssue({ code: 'custom', path: ['edge_lan_interface'], message: 'WAN1, WAN2 and LAN must be different interfaces' });
    for (const k of ['edge_wan1_targets', 'edge_wan2_targets'] as const)
      if (v.edge_health_success_threshold > v[k].length)
        ctx.addIssue({
          code: 'custom',
          path: ['edge_health_success_threshold'],
          message: `is ${v.edge_health_success_threshold} but ${k} has only ${v[k].length} targets`,
        });
    if (v.edge_health_timeout * 1 >= v.edge_health_interval)
      ctx.addIssue({
        code: 'custom',
        path: ['edge_health_timeout'],
        message: 'must be shorter than edge_health_interval so a check finishes before the next one',
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

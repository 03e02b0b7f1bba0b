import { z } from 'zod';
import { TASK_NAMES, type TaskName } from '../tasks/contract.js';

/**
 * Parameters each task accepts in a playbook. For now a plain map; the lead wires each task
 * module's own `params` schema in here later. Unknown parameters are errors (strict objects).
 */
const none = z.strictObject({}).optional();

export const taskParamSchemas: Record<TaskName, z.ZodType> = {
  'inventory-check': none,
  sysctl: none,
  packages: z
    .strictObject({
      upgrade: z.boolean().optional().describe('Upgrade packages that are already installed (overrides edge_packages_upgrade)'),
    })
    .optional(),
  tables: none,
  nftables: none,
  persistence: none,
  failover: none,
  verify: z
    .strictObject({
      probes: z.boolean().optional().describe('Also run the WAN health probes as part of verification'),
    })
    .optional(),
};

export function isTaskName(name: string): name is TaskName {
  return (TASK_NAMES as readonly string[]).includes(name);
}

import { z } from 'zod';
import type { TaskName } from './contract.js';

/**
 * The parameters each task accepts in a playbook, in one place: the tasks plan with them and the
 * playbook loader validates (and the JSON Schema documents) exactly the same shapes. Unknown
 * parameters are errors (strict objects).
 */
const none = z.strictObject({}).optional();

export const taskParams = {
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
      probes: z.boolean().optional().describe("Run each WAN's health check through its own path (default true)"),
    })
    .optional(),
} satisfies Record<TaskName, z.ZodType>;

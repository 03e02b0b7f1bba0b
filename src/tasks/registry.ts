import type { Task, TaskName } from './contract.js';
import { failoverTask } from './failover.js';
import { inventoryCheckTask } from './inventory-check.js';
import { nftablesTask } from './nftables.js';
import { packagesTask } from './packages.js';
import { persistenceTask } from './persistence.js';
import { sysctlTask } from './sysctl.js';
import { tablesTask } from './tables.js';
import { verifyTask } from './verify.js';

/** Every task edge knows, by playbook name. */
export const TASKS: Partial<Record<TaskName, Task<any>>> = {
  'inventory-check': inventoryCheckTask,
  sysctl: sysctlTask,
  packages: packagesTask,
  tables: tablesTask,
  nftables: nftablesTask,
  persistence: persistenceTask,
  failover: failoverTask,
  verify: verifyTask,
};

export function getTask(name: TaskName): Task<unknown> {
  const t = TASKS[name];
  if (!t) throw new Error(`task ${name} is not implemented`);
  return t as Task<unknown>;
}

import type { TaskName } from './contract.js';

/**
 * What a task relies on another task having done, for --tags/--skip-tags: running a task without
 * what it needs would plan against state that is not there. inventory-check is the gate every
 * task relies on (the host can carry the design, no lockout); failover's scripts drive the nft map
 * and routes that nftables and tables make, with keepalived from packages; persistence brings back
 * at boot what tables and nftables write.
 */
export const TASK_REQUIRES: Readonly<Record<TaskName, readonly TaskName[]>> = {
  'inventory-check': [],
  sysctl: ['inventory-check'],
  packages: ['inventory-check'],
  tables: ['inventory-check'],
  nftables: ['inventory-check'],
  persistence: ['inventory-check', 'tables', 'nftables'],
  failover: ['inventory-check', 'packages', 'tables', 'nftables'],
  verify: ['inventory-check'],
};

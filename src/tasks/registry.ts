import type { Task, TaskName } from './contract.js';
import { sysctlTask } from './sysctl.js';

/** Every task edge knows, by playbook name. */
export const TASKS: Partial<Record<TaskName, Task<any>>> = {
  sysctl: sysctlTask,
};

export function getTask(name: TaskName): Task<unknown> {
  const t = TASKS[name];
  if (!t) throw new Error(`task ${name} is not implemented`);
  return t as Task<unknown>;
}

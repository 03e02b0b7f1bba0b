import { z } from 'zod';
import { labelSchema } from '../config/text.js';
import { TASK_NAMES, type TaskName } from '../tasks/contract.js';
import { taskParams } from '../tasks/params.js';

/** A task entry's `name:`, shown in progress and recap. */
export const taskLabelSchema = labelSchema('task name');

/** Parameters each task accepts in a playbook: the tasks' own schemas (tasks/params.ts). */
export const taskParamSchemas: Record<TaskName, z.ZodType> = taskParams;

export function isTaskName(name: string): name is TaskName {
  return (TASK_NAMES as readonly string[]).includes(name);
}

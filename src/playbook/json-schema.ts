import { z } from 'zod';
import { inventoryFileSchema } from '../inventory/file-schema.js';
import { KNOWN_VARS } from '../inventory/var-names.js';
import { hostVarsSchema } from '../inventory/vars.js';
import { playSchema } from './play-schema.js';
import { taskLabelSchema, taskParamSchemas } from './task-params.js';
import { TASK_NAMES } from '../tasks/contract.js';

/**
 * JSON Schemas for editors (yaml-language-server), generated from the same zod schemas the
 * loaders use, describing what may be WRITTEN (zod's input side: defaults are optional).
 * Definitions are built once: schema ids live in zod's global registry and must be unique.
 */

const hostVars = hostVarsSchema
  .describe('Host variables: edge\'s (below), Ansible connection variables, and any others')
  .meta({ id: 'hostVars' });

const inventoryFile = inventoryFileSchema(hostVars, 'group');

function unwrapOptional(s: z.ZodType): z.ZodType {
  return s instanceof z.ZodOptional ? (s.unwrap() as z.ZodType) : s;
}

/** One task entry: a bare name, or { [name], <task>: params } (see playbook/task-entries.ts). */
const taskEntry = z
  .union([
    z.enum(TASK_NAMES).describe('A task with no parameters'),
    ...TASK_NAMES.map((t) =>
      z
        .strictObject({
          name: taskLabelSchema.optional().describe('Shown in progress and recap'),
          [t]: z.union([unwrapOptional(taskParamSchemas[t]), z.null()]).describe(`Parameters of ${t}`),
        })
        .describe(`The ${t} task`),
    ),
  ])
  .meta({ id: 'task' });

const play = playSchema({ task: taskEntry, vars: hostVars }).meta({ id: 'play' });
const playbookFile = z.union([z.array(play).min(1), play]).describe('edge playbook: a list of plays, or one play');

/** Unknown variables are fine, except in edge's own namespace: flag `edge_` typos in the editor too. */
function rejectUnknownEdgeVars(schema: Record<string, unknown>): Record<string, unknown> {
  const defs = schema.$defs as Record<string, Record<string, unknown>> | undefined;
  const vars = defs?.hostVars;
  if (vars) {
    vars.propertyNames = {
      anyOf: [{ enum: KNOWN_VARS.filter((k) => k.startsWith('edge_')) }, { not: { pattern: '^edge_' } }],
    };
  }
  return schema;
}

function generate(schema: z.ZodType, title: string): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
  return rejectUnknownEdgeVars({ title, ...json });
}

export function inventoryJsonSchema(): Record<string, unknown> {
  return generate(inventoryFile, 'edge inventory (Ansible YAML inventory format)');
}

export function playbookJsonSchema(): Record<string, unknown> {
  return generate(playbookFile, 'edge playbook');
}

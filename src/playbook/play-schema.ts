import { z } from 'zod';
import { labelSchema } from '../config/text.js';
import { varNameSchema } from '../inventory/names.js';
import { durationSchema } from './duration.js';
import { serialSchema } from './serial.js';
import { windowSchema } from './window-schema.js';

/** A host pattern (see inventory/limit.ts); a list is joined with commas, as Ansible allows. */
const patternText = labelSchema('host pattern');
const hostPattern = z
  .union([patternText, z.array(patternText).min(1)], { error: 'expected a host pattern like "edge" or "rtr-*,!rtr-nyc-1"' })
  .transform((v) => (Array.isArray(v) ? v.join(',') : v));

/**
 * The keys of a play. Parameterized by how tasks and vars are described: the loader checks tasks
 * itself (for precise per-entry errors) and vars per host after merging, while the JSON Schema for
 * editors spells both out.
 */
export function playSchema(parts: { task: z.ZodType; vars: z.ZodType }) {
  return z
    .strictObject({
      name: labelSchema('play name').optional().describe('Name shown in progress and recap (default: the hosts pattern)'),
      hosts: hostPattern.describe('Hosts to run on: names, groups, globs, !exclude, &intersect'),
      vars: parts.vars.nullable().optional().describe('Variables for this play; override the inventory\'s'),
      tasks: z.array(parts.task).min(1).describe('Tasks, in order: `- sysctl` or `- packages: {upgrade: true}` with an optional `name:`'),
      serial: serialSchema.optional(),
      max_fail_percentage: z
        .number()
        .min(0)
        .max(100)
        .default(0)
        .describe('Stop the rollout when more than this % of a batch fails (default 0: any failure stops it)'),
      window: windowSchema.optional(),
      pause_between_batches: durationSchema.default(0).describe('Wait between batches: seconds or "30s", "5m"'),
      confirm_timeout: durationSchema
        .pipe(z.number().min(1, 'expected at least 1 second'))
        .default(120)
        .describe('Seconds to confirm a host is still reachable after a change before it is rolled back'),
      confirm: z
        .enum(['auto', 'manual'])
        .default('auto')
        .describe('auto: edge confirms over a new SSH connection; manual: the operator confirms'),
    })
    .describe('A play: which hosts, which tasks, and how to roll out');
}

/** The play schema the loader uses: tasks and vars are checked separately. */
export const playStructureSchema = playSchema({ task: z.unknown(), vars: z.record(varNameSchema, z.unknown()) });

export const PLAY_KEYS: readonly string[] = Object.keys(playStructureSchema.shape);

import { z } from 'zod';
import { groupNameSchema, hostNameSchema, varNameSchema } from './names.js';

/** The keys a group may have in Ansible's YAML inventory format. */
export const GROUP_KEYS = ['hosts', 'vars', 'children'] as const;

/**
 * Ansible's YAML inventory structure: top-level groups (normally just `all`), each with `hosts`
 * (name → that host's variables, or nothing), `vars`, and `children` (groups, recursively). Every
 * mapping may be empty (null) as Ansible allows. Parameterized by the variables schema so the
 * loader can check structure only (variables are validated per host after precedence) while the
 * JSON Schema for editors describes edge's variables.
 */
export function inventoryFileSchema(varsSchema: z.ZodType, groupId?: string) {
  const hosts = z.record(hostNameSchema, varsSchema.nullable()).nullable().describe('Hosts of this group: name → host variables');
  let group: z.ZodType = z
    .strictObject({
      hosts: hosts.optional(),
      vars: varsSchema.nullable().optional().describe('Variables of every host in this group'),
      get children() {
        return z.record(groupNameSchema, group).nullable().optional().describe('Child groups: name → group');
      },
    })
    .nullable()
    .describe('An inventory group');
  // A named definition makes the recursive JSON Schema readable ($defs.group); only the JSON Schema
  // generator asks for one, since ids live in zod's global registry and must be unique.
  if (groupId) group = group.meta({ id: groupId });
  return z.record(groupNameSchema, group).describe('Ansible YAML inventory: groups by name, normally just `all`');
}

/** Structure-only form used by the loader. */
export const inventoryStructureSchema = inventoryFileSchema(z.record(varNameSchema, z.unknown()));

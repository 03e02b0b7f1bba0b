import type { EdgeError } from '../errors.js';
import type { YamlPath } from '../config/yaml-position.js';
import type { YamlSource } from '../config/yaml-source.js';
import { issuesToErrors, PARSE_PARAMS, placeIn } from '../config/zod-issues.js';
import { unknownEdgeVarErrors } from '../inventory/var-names.js';
import { hostVarsSchema } from '../inventory/vars.js';
import { WINDOW_KEYS } from './window-schema.js';

const FIELDS = hostVarsSchema.shape as Record<string, (typeof hostVarsSchema.shape)[keyof typeof hostVarsSchema.shape]>;

/**
 * Checks a play's vars on their own, so a bad value is reported when the playbook is read, not
 * only once it meets an inventory. Cross-variable checks need the merged host vars: see
 * resolvePlayHosts.
 */
export function playVarErrors(source: YamlSource, vars: Record<string, unknown>, varsPath: YamlPath): EdgeError[] {
  const errors = unknownEdgeVarErrors(vars, varsPath, source);
  for (const [k, v] of Object.entries(vars)) {
    const field = FIELDS[k];
    if (!field) continue;
    const result = field.safeParse(v, PARSE_PARAMS);
    if (!result.success) {
      const knownKeys = (path: PropertyKey[]) => (k === 'edge_window' && path.length === 0 ? WINDOW_KEYS : undefined);
      errors.push(...issuesToErrors(result.error.issues, { data: v, locate: placeIn(source, [...varsPath, k]), knownKeys }));
    }
  }
  return errors;
}

import { EdgeError } from '../errors.js';
import { formatFieldPath } from '../config/field-path.js';
import { didYouMean } from '../config/suggest.js';
import { positionOf, type YamlPath } from '../config/yaml-position.js';
import type { YamlSource } from '../config/yaml-source.js';
import { hostVarsSchema } from './vars.js';

/** Every variable name edge defines (its own and the Ansible connection ones it reads). */
export const KNOWN_VARS: readonly string[] = Object.keys(hostVarsSchema.shape);
const EDGE_VARS = KNOWN_VARS.filter((k) => k.startsWith('edge_'));

/**
 * Other variables are allowed (Ansible inventories carry many), but `edge_` is edge's namespace:
 * a name there that edge does not know is a typo that would silently fall back to a default.
 */
export function unknownEdgeVarErrors(vars: Record<string, unknown>, basePath: YamlPath, source: YamlSource): EdgeError[] {
  return Object.keys(vars)
    .filter((k) => k.startsWith('edge_') && !EDGE_VARS.includes(k))
    .map(
      (k) =>
        new EdgeError('CONFIG', `unknown edge variable ${k}${didYouMean(k, EDGE_VARS)}`, {
          pos: positionOf(source, [...basePath, k], 'key'),
          field: formatFieldPath([...basePath, k]),
        }),
    );
}

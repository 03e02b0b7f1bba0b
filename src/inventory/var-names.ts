import { EdgeError } from '../errors.js';
import { formatFieldPath } from '../config/field-path.js';
import { didYouMean } from '../config/suggest.js';
import { positionOf, type YamlPath } from '../config/yaml-position.js';
import type { YamlSource } from '../config/yaml-source.js';
import { ANSIBLE_VARS, isKnownAnsibleVar } from './ansible-vars.js';
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

/**
 * `ansible_` is Ansible's namespace: a name there that neither Ansible nor edge knows is most
 * likely a typo (ansible_hots), which both would ignore. A warning, not an error: the inventory
 * may serve newer Ansible plugins edge does not list.
 */
export function unknownAnsibleVarWarnings(vars: Record<string, unknown>, basePath: YamlPath, source: YamlSource): EdgeError[] {
  return Object.keys(vars)
    .filter((k) => k.startsWith('ansible_') && !isKnownAnsibleVar(k))
    .map(
      (k) =>
        new EdgeError('CONFIG', `unknown Ansible variable ${k}, ignored${didYouMean(k, [...ANSIBLE_VARS, ...KNOWN_VARS.filter((v) => v.startsWith('ansible_'))])}`, {
          pos: positionOf(source, [...basePath, k], 'key'),
          field: formatFieldPath([...basePath, k]),
        }),
    );
}

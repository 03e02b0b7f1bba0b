import { formatFieldPath } from '../config/field-path.js';
import { positionOf, type YamlPath } from '../config/yaml-position.js';
import type { YamlSource } from '../config/yaml-source.js';
import type { VarSource } from './types.js';

/** Where each variable of one `vars` mapping (or host entry) is written. */
export function varSourcesOf(
  source: YamlSource,
  vars: Record<string, unknown>,
  basePath: YamlPath,
  scope: VarSource['scope'],
  group?: string,
): Record<string, VarSource> {
  const out: Record<string, VarSource> = {};
  for (const k of Object.keys(vars)) {
    const yamlPath = [...basePath, k];
    out[k] = { ...positionOf(source, yamlPath), path: formatFieldPath(yamlPath), yamlPath, scope, group };
  }
  return out;
}

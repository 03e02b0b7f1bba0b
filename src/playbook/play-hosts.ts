import { EdgeErrors, type EdgeError } from '../errors.js';
import { selectHosts } from '../inventory/limit.js';
import type { Inventory, ResolvedHost } from '../inventory/types.js';
import { mergeHostErrors, validateHostVars } from '../inventory/validate-host-vars.js';
import type { Play, Playbook } from './types.js';

/**
 * The hosts a play runs on (its `hosts` pattern, narrowed by `--limit`), in inventory order, each
 * with the play's vars merged over the inventory's (play vars win, as in Ansible; -e wins over both) and the result
 * validated again — cross-variable checks see the merged values, and each error points at the
 * value that won, in the inventory or in the playbook.
 */
export function resolvePlayHosts(inventory: Inventory, playbook: Playbook, play: Play, limit?: string): ResolvedHost[] {
  const names = selectHosts(inventory, limit, play.hosts, play.hostsPos);
  const errors: EdgeError[] = [];
  const out: ResolvedHost[] = [];
  for (const name of names) {
    const host = inventory.hosts.get(name)!;
    // -e beats play vars, as in Ansible
    const raw = { ...host.rawVars, ...play.vars, ...inventory.extraVars.vars };
    const sources = { ...host.varSources, ...play.varSources, ...inventory.extraVars.sources };
    const result = validateHostVars({
      host: name,
      raw,
      sources,
      hostSource: host.source,
      hostPath: host.yamlPath,
      files: [...inventory.sources, playbook.source],
    });
    if (result.errors) errors.push(...result.errors);
    else out.push({ ...host, vars: result.vars, varSources: sources, rawVars: raw });
  }
  if (errors.length > 0) throw new EdgeErrors(mergeHostErrors(errors));
  return out;
}

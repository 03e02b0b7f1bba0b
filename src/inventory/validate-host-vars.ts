import { sshNameProblem } from '../encode/index.js';
import { EdgeError } from '../errors.js';
import { formatFieldPath } from '../config/field-path.js';
import { positionOf, type YamlPath } from '../config/yaml-position.js';
import type { YamlSource } from '../config/yaml-source.js';
import { issuesToErrors, PARSE_PARAMS, type IssuePlace } from '../config/zod-issues.js';
import { WINDOW_KEYS } from '../playbook/window-schema.js';
import type { VarSource } from './types.js';
import { hostVarsSchema, type HostVars } from './vars.js';

export interface HostVarsInput {
  host: string;
  raw: Record<string, unknown>;
  sources: Record<string, VarSource>;
  /** Where the host is listed; errors about defaulted values point there. */
  hostSource: YamlSource;
  hostPath: YamlPath;
  /** Every file a source may name (the inventory, and the playbook for play vars). */
  files: readonly YamlSource[];
}

/**
 * Validates a host's merged variables. Each error points at the value that won precedence, in
 * whichever file it is; an error about a value left at its default (a cross-field check) points at
 * the host. Errors found through a group's or play's vars name the host they were found for.
 */
export function validateHostVars(input: HostVarsInput): { vars: HostVars; errors?: undefined } | { errors: EdgeError[] } {
  const addressError = nameAsAddressError(input);
  if (addressError) return { errors: [addressError] };
  const result = hostVarsSchema.safeParse(input.raw, PARSE_PARAMS);
  if (result.success) return { vars: result.data as HostVars };
  const locate = (path: PropertyKey[], at: 'value' | 'key'): IssuePlace => {
    const src = input.sources[String(path[0])];
    const file = src && input.files.find((f) => f.file === src.file);
    if (src && file) {
      const full = [...src.yamlPath, ...path.slice(1)];
      return {
        pos: positionOf(file, full, at),
        field: formatFieldPath(full),
        host: src.scope === 'host' ? undefined : input.host,
      };
    }
    const full = [...input.hostPath, ...path];
    return { pos: positionOf(input.hostSource, full, at), field: formatFieldPath(full) };
  };
  const knownKeys = (path: PropertyKey[]) => (path.length === 1 && path[0] === 'edge_window' ? WINDOW_KEYS : undefined);
  return { errors: issuesToErrors(result.error.issues, { data: input.raw, locate, knownKeys }) };
}

/** Without ansible_host the name is the SSH address: one that is shell syntax is refused at the name. */
function nameAsAddressError(input: HostVarsInput): EdgeError | undefined {
  const problem = input.raw.ansible_host === undefined ? sshNameProblem(input.host) : undefined;
  if (!problem) return undefined;
  return new EdgeError('CONFIG', `host name ${JSON.stringify(input.host)} is the SSH address (no ansible_host) and ${problem}`, {
    pos: positionOf(input.hostSource, input.hostPath, 'key'),
    field: formatFieldPath(input.hostPath),
    hint: 'set ansible_host to the address to connect to, or rename the host',
  });
}

/**
 * The same problem found for many hosts (a bad value in a group's vars) is reported once; when it
 * concerns several hosts they are named in the hint instead.
 */
export function mergeHostErrors(errors: readonly EdgeError[]): EdgeError[] {
  const byKey = new Map<string, { first: EdgeError; hosts: string[] }>();
  for (const e of errors) {
    const key = `${e.pos?.file}:${e.pos?.line}:${e.pos?.col}|${e.field}|${e.message}`;
    const seen = byKey.get(key);
    if (seen) {
      if (e.host && !seen.hosts.includes(e.host)) seen.hosts.push(e.host);
    } else byKey.set(key, { first: e, hosts: e.host ? [e.host] : [] });
  }
  return [...byKey.values()].map(({ first, hosts }) => {
    if (hosts.length <= 1) return first;
    const list = hosts.length > 6 ? `${hosts.slice(0, 5).join(', ')} and ${hosts.length - 5} more` : hosts.join(', ');
    return new EdgeError('CONFIG', first.message, { pos: first.pos, field: first.field, hint: `for hosts ${list}` });
  });
}

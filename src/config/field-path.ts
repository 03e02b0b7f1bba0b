import type { YamlPath } from './yaml-position.js';

const PLAIN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * `all.children.edge.hosts.r1.edge_wan1_targets[1]`; keys that would be ambiguous after a dot
 * (host names like r1.example.com, addresses) are quoted: `hosts["10.0.0.1"]`.
 */
export function formatFieldPath(path: YamlPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      out += PLAIN.test(s) ? (out ? `.${s}` : s) : `[${JSON.stringify(s)}]`;
    }
  }
  return out;
}

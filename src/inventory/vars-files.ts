import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { EdgeError } from '../errors.js';
import { FILE_CAPS, readBoundedText } from '../config/read-file.js';
import { parseYaml, type YamlSource } from '../config/yaml-source.js';

/** One group_vars / host_vars file: its variables and where they are written. */
export interface VarsFile {
  source: YamlSource;
  vars: Record<string, unknown>;
}

// Ansible's YAML_FILENAME_EXTENSIONS; a name with no extension is tried first.
const EXTENSIONS = ['', '.yml', '.yaml', '.json'];

function kindOf(p: string): 'dir' | 'file' | undefined {
  try {
    const st = statSync(p);
    return st.isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/** A directory of vars files: sorted, recursively; hidden files, backups (~) and other extensions skipped. */
function dirFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.') || name.endsWith('~')) continue;
    const full = path.join(dir, name);
    const ext = path.extname(name);
    const kind = kindOf(full);
    if (kind === 'dir' && !ext) out.push(...dirFiles(full));
    else if (kind === 'file' && EXTENSIONS.includes(ext)) out.push(full);
  }
  return out;
}

/** The names in a directory, or undefined where it is not one. */
export function listDir(dir: string): ReadonlySet<string> | undefined {
  return kindOf(dir) === 'dir' ? new Set(readdirSync(dir)) : undefined;
}

/**
 * The files Ansible's host_group_vars plugin reads for one group or host below `baseDir`
 * (`group_vars/NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` — the first that exists — or a
 * directory `NAME/` of such files), in the order it reads them. `listed` gives the names in
 * group_vars/ or host_vars/ (a load lists each once: 10,000 hosts stat'ed their candidates for a second).
 */
export function findVarsFiles(baseDir: string, kind: 'group_vars' | 'host_vars', name: string, listed = listDir): string[] {
  if (name.startsWith('/')) return [];
  const dir = path.join(baseDir, kind);
  const names = listed(dir);
  if (!names) return [];
  for (const ext of EXTENSIONS) {
    if (!names.has(`${name}${ext}`)) continue;
    const p = path.join(dir, `${name}${ext}`);
    const k = kindOf(p);
    if (k === 'dir') return dirFiles(p);
    if (k === 'file') return [p];
  }
  return [];
}

const VAULT_HINT = 'edge does not decrypt Ansible Vault: decrypt it (ansible-vault decrypt FILE) or pass the secret with -e @FILE from a file only you can read';

/** Reads a vars file (YAML or JSON). Vault-encrypted files and values are refused, never skipped. */
export function readVarsFile(shown: string, abs: string): VarsFile | undefined {
  const text = readBoundedText(shown, { what: 'vars file', maxBytes: FILE_CAPS.config, readFrom: abs });
  if (text.startsWith('$ANSIBLE_VAULT;')) {
    throw new EdgeError('CONFIG', `${shown} is encrypted with Ansible Vault`, { pos: { file: shown, line: 1, col: 1 }, hint: VAULT_HINT });
  }
  const source = parseYaml(text, shown); // !vault values are refused by the parser
  if (source.data === null) return undefined; // Ansible ignores empty files
  if (typeof source.data !== 'object' || Array.isArray(source.data)) {
    throw new EdgeError('CONFIG', `${shown}: expected a mapping of variables (name: value), got ${Array.isArray(source.data) ? 'a list' : 'a single value'}`, {
      pos: { file: shown, line: 1, col: 1 },
    });
  }
  return { source, vars: source.data as Record<string, unknown> };
}

import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { EdgeError } from '../errors.js';
import { FILE_CAPS, readBoundedText } from './read-file.js';
import { requireTrusted } from './trusted.js';

/**
 * ansible.cfg as Ansible reads it: the first file found of $ANSIBLE_CONFIG (a directory means
 * DIR/ansible.cfg), ./ansible.cfg (skipped when the current directory is world-writable),
 * ~/.ansible.cfg, /etc/ansible/ansible.cfg — only that one file, never merged. Parsed like
 * Python's configparser with `;` inline comments (what Ansible uses): sections, `key = value` or
 * `key: value`, keys case-insensitive, indented lines continue a value, `#`/`;` comment lines.
 */

export interface CfgValue {
  value: string;
  file: string;
  line: number;
}

export interface AnsibleCfg {
  file: string;
  /** The [defaults] section, keys lower-cased. */
  defaults: Map<string, CfgValue>;
  /** Every section by name ([defaults] and [privilege_escalation] are the ones edge reads). */
  sections: Map<string, Map<string, CfgValue>>;
}

export interface CfgLookup {
  /** The file Ansible would use; undefined when there is none. */
  file?: string;
  /** Why a candidate that exists was passed over (world-writable cwd). */
  warnings: string[];
}

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return existsSync(file);
  } catch {
    return false;
  }
}

/** Where Ansible would find its config, in Ansible's order. */
export function findAnsibleCfg(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), home = homedir()): CfgLookup {
  const candidates: string[] = [];
  const warnings: string[] = [];
  const fromEnv = env.ANSIBLE_CONFIG;
  if (fromEnv !== undefined) {
    const p = path.resolve(cwd, fromEnv.replace(/^~(?=$|\/)/, home));
    candidates.push(existsSync(p) && statSync(p).isDirectory() ? path.join(p, 'ansible.cfg') : p);
  }
  const cwdCfg = path.join(cwd, 'ansible.cfg');
  try {
    // Ansible ignores ./ansible.cfg in a world-writable directory: anyone could have put it there.
    if (statSync(cwd).mode & 0o002) {
      if (existsSync(cwdCfg)) warnings.push(`${cwdCfg} ignored: ${cwd} is world-writable (as Ansible does)`);
    } else candidates.push(cwdCfg);
  } catch {
    // cwd gone: nothing to read there
  }
  candidates.push(path.join(home, '.ansible.cfg'), '/etc/ansible/ansible.cfg');
  const file = candidates.find(readable);
  if (file === cwdCfg) requireTrusted(file, 'ansible.cfg');
  return { file, warnings };
}

/** Parses an ansible.cfg; a line that is not a section, an option or a continuation is an error at file:line. */
export function parseAnsibleCfg(text: string, file: string): AnsibleCfg {
  const sections = new Map<string, Map<string, CfgValue>>([['defaults', new Map()]]);
  let section: string | undefined;
  let last: { key: string; value: CfgValue } | undefined;
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const lineNo = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) {
      last = trimmed === '' ? undefined : last;
      continue;
    }
    if (/^\s/.test(raw) && last) {
      last.value.value = `${last.value.value}\n${stripInline(trimmed)}`;
      continue;
    }
    const sec = /^\[([^\]]+)\]\s*$/.exec(trimmed);
    if (sec) {
      section = sec[1]!.trim();
      last = undefined;
      continue;
    }
    const opt = /^([^=:\s][^=:]*?)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (!opt || section === undefined) {
      const why = section === undefined ? 'an option before any [section]' : 'not a section, option or continuation line';
      throw new EdgeError('CONFIG', `${why}: ${trimmed}`, { pos: { file, line: lineNo, col: 1 } });
    }
    const key = opt[1]!.toLowerCase();
    const value: CfgValue = { value: stripInline(opt[2]!), file, line: lineNo };
    const options = sections.get(section) ?? sections.set(section, new Map()).get(section)!;
    if (options.has(key))
      throw new EdgeError('CONFIG', `option ${key} appears twice in [${section}] (first at line ${options.get(key)!.line})`, {
        pos: { file, line: lineNo, col: 1 },
      });
    options.set(key, value);
    last = { key, value };
  }
  return { file, defaults: sections.get('defaults')!, sections };
}

/** configparser's inline_comment_prefixes=(';',): a `;` after whitespace starts a comment. */
function stripInline(v: string): string {
  const m = /\s;/.exec(v);
  return (m ? v.slice(0, m.index) : v).trim();
}

export function readAnsibleCfg(file: string): AnsibleCfg {
  return parseAnsibleCfg(readBoundedText(file, { what: 'ansible.cfg', maxBytes: FILE_CAPS.config }), file);
}

/** Ansible's booleans (ansible.module_utils.parsing.convert_bool). */
export function ansibleBool(v: string): boolean | undefined {
  const s = v.trim().toLowerCase();
  if (['y', 'yes', 'on', '1', 'true', 't'].includes(s)) return true;
  if (['n', 'no', 'off', '0', 'false', 'f', ''].includes(s)) return false;
  return undefined;
}

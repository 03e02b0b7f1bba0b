import type { Facts } from '../facts/types.js';
import { fileDiff } from '../render/diff.js';
import { removeFileCommand, writeFileCommand } from '../render/shell.js';
import type { Change } from './contract.js';

export interface DesiredFile {
  path: string;
  content: string;
  mode: string; // "0644"
  owner?: string;
  group?: string;
}

function factOf(facts: Facts, path: string) {
  const f = facts.files[path];
  // A task that manages a file must list it in needs(); otherwise planning would be a guess.
  if (!f) throw new Error(`internal: ${path} was not gathered; add it to the task's needs()`);
  return f;
}

/** The change that makes `desired.path` hold exactly `desired`, or null if it already does. */
export function fileChange(facts: Facts, desired: DesiredFile): Change | null {
  const now = factOf(facts, desired.path);
  const owner = desired.owner ?? 'root';
  const group = desired.group ?? 'root';
  if (
    now.exists &&
    now.content === desired.content &&
    now.mode === desired.mode &&
    now.owner === owner &&
    now.group === group
  )
    return null;
  const before = now.exists ? { content: now.content ?? '', mode: now.mode } : undefined;
  let diff = fileDiff(desired.path, before, { content: desired.content, mode: desired.mode });
  if (now.exists && (now.owner !== owner || now.group !== group))
    diff = `owner ${desired.path}: ${now.owner}:${now.group} → ${owner}:${group}\n${diff}`;
  return {
    summary: `${now.exists ? 'update' : 'create'} ${desired.path}`,
    diff,
    apply: writeFileCommand(desired.path, desired.content, desired.mode, owner, group),
    snapshot: { files: [desired.path] },
  };
}

/** The change that removes `path`, or null if it is already absent. */
export function fileAbsent(facts: Facts, path: string): Change | null {
  const now = factOf(facts, path);
  if (!now.exists) return null;
  return {
    summary: `remove ${path}`,
    diff: fileDiff(path, { content: now.content ?? '', mode: now.mode }, undefined),
    apply: removeFileCommand(path),
    snapshot: { files: [path] },
  };
}

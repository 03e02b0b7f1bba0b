import { contentHash } from '../facts/content-hash.js';
import type { Facts, FileFact } from '../facts/types.js';
import { fileDiff } from '../render/diff.js';
import type { Change } from './contract.js';

export interface DesiredFile {
  path: string;
  content: string;
  mode: string; // "0644"
  owner?: string;
  group?: string;
}

/**
 * Thrown while planning when a file differs from what edge wants but the probe sent only its hash
 * (it held what the run expected, and the plan now wants something else): its diff needs the
 * content. The engine fetches the contents and plans again; planning stays a function of facts.
 */
export class ContentNeeded extends Error {
  constructor(readonly path: string) {
    super(`internal: the content of ${path} is needed for its diff and was not gathered`);
  }
}

function contentOf(f: FileFact): string {
  if (f.content !== undefined) return f.content;
  // Only a hash came back: the content exists but was not sent. (A directory has none.)
  if (f.sha256 !== undefined) throw new ContentNeeded(f.path);
  return '';
}

/** Does the file hold exactly `content`? By content when it was sent, else by hash. */
function holds(f: FileFact, content: string): boolean {
  return f.content !== undefined ? f.content === content : f.sha256 === contentHash(content);
}

function factOf(facts: Facts, path: string) {
  const f = facts.files[path];
  // A task that manages a file must list it in needs(); otherwise planning would be a guess.
  if (!f) throw new Error(`internal: ${path} was not gathered; add it to the task's needs()`);
  return f;
}

/**
 * The change that makes `desired.path` hold exactly `desired`, or null if it already does. With
 * `check` (a command given the new content's temp file, e.g. `nft -c -f`), the content must pass it
 * before it replaces the file.
 */
export function fileChange(facts: Facts, desired: DesiredFile, check?: string): Change | null {
  const now = factOf(facts, desired.path);
  const owner = desired.owner ?? 'root';
  const group = desired.group ?? 'root';
  if (
    now.exists &&
    holds(now, desired.content) &&
    now.mode === desired.mode &&
    now.owner === owner &&
    now.group === group
  )
    return null;
  const before = now.exists ? { content: holds(now, desired.content) ? desired.content : contentOf(now), mode: now.mode } : undefined;
  let diff = fileDiff(desired.path, before, { content: desired.content, mode: desired.mode });
  if (now.exists && (now.owner !== owner || now.group !== group))
    diff = `owner ${desired.path}: ${now.owner}:${now.group} → ${owner}:${group}\n${diff}`;
  return {
    summary: `${now.exists ? 'update' : 'create'} ${desired.path}`,
    diff,
    ops: [{ kind: 'file', path: desired.path, content: desired.content, mode: desired.mode, owner, group, ...(check ? { check } : {}) }],
  };
}

/** The change that removes `path`, or null if it is already absent. */
export function fileAbsent(facts: Facts, path: string): Change | null {
  const now = factOf(facts, path);
  if (!now.exists) return null;
  return {
    summary: `remove ${path}`,
    diff: fileDiff(path, { content: contentOf(now), mode: now.mode }, undefined),
    ops: [{ kind: 'remove', path }],
  };
}

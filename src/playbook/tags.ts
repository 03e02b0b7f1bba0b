import { suggest } from '../config/suggest.js';
import { EdgeError } from '../errors.js';
import { TASK_REQUIRES } from '../tasks/requires.js';
import type { Play, TaskEntry } from './types.js';

/**
 * --tags / --skip-tags, on task names: a tag matches a task entry by its task (`nftables`) or its
 * `name:`; `all` matches every task. A selected task brings along the tasks it needs (said in a
 * note, never silently); skipping a task that a selected one needs is an error that says which.
 */
export interface TaskSelection {
  tags?: readonly string[];
  skipTags?: readonly string[];
}

export interface SelectedTasks {
  tasks: TaskEntry[];
  notes: string[];
}

function matches(t: TaskEntry, tag: string): boolean {
  return tag === 'all' || t.task === tag || t.name === tag;
}

function checkKnown(play: Play, tags: readonly string[], flag: string): void {
  for (const tag of tags) {
    if (play.tasks.some((t) => matches(t, tag))) continue;
    const names = play.tasks.flatMap((t) => [t.task, t.name]);
    const near = suggest(tag, names);
    throw new EdgeError('USAGE', `no task of play "${play.name}" is called ${tag}${near ? ` (did you mean ${near}?)` : ''}`, {
      field: flag,
      hint: `its tasks: ${[...new Set(names)].join(', ')}`,
    });
  }
}

/** The play's tasks that run, in playbook order, with what was added for what. */
export function selectTasks(play: Play, sel: TaskSelection): SelectedTasks {
  const tags = sel.tags ?? [];
  const skip = sel.skipTags ?? [];
  checkKnown(play, tags, '--tags');
  checkKnown(play, skip, '--skip-tags');
  const skipped = (t: TaskEntry) => skip.some((s) => matches(t, s));
  const chosen = new Set(play.tasks.filter((t) => (tags.length === 0 || tags.some((g) => matches(t, g))) && !skipped(t)));
  const notes: string[] = [];
  // Bring in what the chosen tasks need, transitively, from this play's own tasks.
  for (let grew = true; grew; ) {
    grew = false;
    for (const t of [...chosen]) {
      for (const need of TASK_REQUIRES[t.task]) {
        const entry = play.tasks.find((x) => x.task === need);
        if (!entry || chosen.has(entry)) continue;
        if (skipped(entry)) {
          throw new EdgeError('USAGE', `${t.name} needs ${entry.name}, which --skip-tags skips`, {
            field: '--skip-tags',
            hint: `skip ${t.name} as well, or do not skip ${entry.name}`,
          });
        }
        chosen.add(entry);
        notes.push(`also running ${entry.name}: ${t.name} needs it`);
        grew = true;
      }
    }
  }
  return { tasks: play.tasks.filter((t) => chosen.has(t)), notes };
}

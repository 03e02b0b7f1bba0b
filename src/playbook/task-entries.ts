import { EdgeError } from '../errors.js';
import { formatFieldPath } from '../config/field-path.js';
import { didYouMean } from '../config/suggest.js';
import { positionOf, type YamlPath } from '../config/yaml-position.js';
import type { YamlSource } from '../config/yaml-source.js';
import { issuesToErrors, PARSE_PARAMS, placeIn } from '../config/zod-issues.js';
import { TASK_NAMES, type TaskName } from '../tasks/contract.js';
import { isTaskName, taskLabelSchema, taskParamSchemas } from './task-params.js';
import type { TaskEntry } from './types.js';

/**
 * The one task-entry form (Ansible's shape, minus modules):
 *
 *   - sysctl                        # a bare task name: no parameters
 *   - packages: { upgrade: true }   # one task key; its value is the parameters (or empty)
 *   - name: Upgrade what is there   # optionally with a name shown in progress and recap
 *     packages: { upgrade: true }
 *
 * Exactly one task per entry; any other key is an unknown task.
 */

const KNOWN = `known tasks: ${TASK_NAMES.join(', ')}`;

function paramKeys(task: TaskName): string[] {
  let s: unknown = taskParamSchemas[task];
  // unwrap .optional()/.nullable() to reach the object's keys
  while (s && typeof s === 'object' && 'unwrap' in s && typeof (s as { unwrap: unknown }).unwrap === 'function') {
    s = (s as { unwrap(): unknown }).unwrap();
  }
  return s && typeof s === 'object' && 'shape' in s ? Object.keys((s as { shape: object }).shape) : [];
}

function parseParams(source: YamlSource, task: TaskName, value: unknown, path: YamlPath, errors: EdgeError[]): unknown {
  const given = value === null ? undefined : value;
  const result = taskParamSchemas[task].safeParse(given, PARSE_PARAMS);
  if (result.success) return result.data;
  const keys = paramKeys(task);
  errors.push(
    ...issuesToErrors(result.error.issues, {
      data: given,
      locate: (p, at) => {
        const place = placeIn(source, path)(p, at);
        return at === 'key' && keys.length === 0 ? { ...place, hint: `${task} takes no parameters` } : place;
      },
      knownKeys: () => keys,
    }).map((e) =>
      e.message.startsWith('unknown key') ? new EdgeError('CONFIG', e.message.replace('unknown key', `unknown ${task} parameter`), e) : e,
    ),
  );
  return undefined;
}

/** Parses a play's `tasks` list; every problem is pushed to `errors`. */
export function parseTaskEntries(source: YamlSource, items: readonly unknown[], tasksPath: YamlPath, errors: EdgeError[]): TaskEntry[] {
  const entries: TaskEntry[] = [];
  items.forEach((item, i) => {
    const path = [...tasksPath, i];
    const at = (p: YamlPath, where: 'value' | 'key' = 'value') => ({
      pos: positionOf(source, p, where),
      field: formatFieldPath(p),
    });
    if (typeof item === 'string') {
      if (!isTaskName(item)) {
        errors.push(new EdgeError('CONFIG', `unknown task ${item}${didYouMean(item, TASK_NAMES)}`, { ...at(path), hint: KNOWN }));
        return;
      }
      const params = parseParams(source, item, undefined, path, errors);
      entries.push({ task: item, name: item, params, pos: at(path).pos });
      return;
    }
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      errors.push(
        new EdgeError('CONFIG', 'expected a task name (- sysctl) or a mapping (- packages: {upgrade: true})', {
          ...at(path),
          hint: KNOWN,
        }),
      );
      return;
    }
    const record = item as Record<string, unknown>;
    const name = record.name;
    if (name !== undefined) {
      const checked = taskLabelSchema.safeParse(name, PARSE_PARAMS);
      if (!checked.success) {
        errors.push(...issuesToErrors(checked.error.issues, { data: name, locate: placeIn(source, [...path, 'name']) }));
      }
    }
    const keys = Object.keys(record).filter((k) => k !== 'name');
    const tasks = keys.filter(isTaskName);
    for (const k of keys.filter((k) => !isTaskName(k))) {
      errors.push(new EdgeError('CONFIG', `unknown task ${k}${didYouMean(k, TASK_NAMES)}`, { ...at([...path, k], 'key'), hint: KNOWN }));
    }
    if (keys.length === 0) {
      errors.push(new EdgeError('CONFIG', 'no task in this entry', { ...at(path), hint: KNOWN }));
    }
    if (tasks.length > 1) {
      errors.push(
        new EdgeError('CONFIG', `one task per entry, found ${tasks.join(', ')}`, {
          ...at([...path, tasks[1]!], 'key'),
          hint: 'start a new list item (- ) for each task',
        }),
      );
    }
    const task = tasks[0];
    if (task === undefined || tasks.length > 1) return;
    const params = parseParams(source, task, record[task], [...path, task], errors);
    entries.push({ task, name: taskLabelSchema.safeParse(name).data ?? task, params, pos: at(path).pos });
  });
  return entries;
}

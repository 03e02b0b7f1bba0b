import { ListrTaskEventType, type ListrRenderer } from 'listr2';
import type { HostResult, RunReporter, TaskResult } from '../engine/types.js';
import type { HostTask } from './live.js';
import { describeTask } from './recap.js';

/**
 * The plain view, for CI logs, pipes, --json's stderr and -v: one line per event, `host: what`.
 * The lines are what a host's listr2 task outputs (run-view.ts); the live view shows the latest.
 */

export function stepLine(step: Parameters<RunReporter['hostStep']>[1], detail?: string): string {
  return `${step}${detail ? ` — ${detail}` : ''}`;
}

export function taskLine(r: TaskResult): string {
  return `${r.task}: ${describeTask(r)}`;
}

/** A failed host's error is on its line; other hosts' errors are said in the recap. */
export function outcomeLine(r: HostResult): string {
  const extra = r.error && r.status !== 'failed' ? '' : r.error ? ` — ${r.error}` : '';
  return `${r.status}${extra}${r.rollback ? ` — ${r.rollback}` : ''}`;
}

export type LineRendererOptions = {
  /** Writes one line (the caller puts it through the terminal encoder: it holds router text). */
  write(line: string): void;
};

/**
 * listr2's fallback renderer for edge: SimpleRenderer would print `[STARTED] r1` and
 * `[OUTPUT] …`; CI logs and tests read `r1: failed — …`, so each output is written as that line.
 */
export class LineRenderer implements ListrRenderer {
  static nonTTY = true;
  static rendererOptions: LineRendererOptions;
  static rendererTaskOptions: Record<PropertyKey, never>;

  constructor(
    private readonly tasks: readonly HostTask[],
    private readonly options: LineRendererOptions,
  ) {}

  render(): void {
    for (const t of this.tasks) t.on(ListrTaskEventType.OUTPUT, (line) => this.options.write(`${t.title}: ${line}`));
  }

  end(): void {}
}

import { Listr, type ListrTaskWrapper, type ListrRenderer } from 'listr2';
import type { HostResult, RunReporter, TaskResult } from '../engine/types.js';
import { LiveRenderer, type HostTask, type Terminal } from './live.js';
import { LineRenderer, outcomeLine, stepLine, taskLine } from './progress.js';

/**
 * A batch's progress as listr2 tasks: the engine reports events (it knows nothing of listr2),
 * this maps them onto one task per host. A task's output is the host's latest line; it ends
 * when the host does: completed (ok, changed), failed (failed, unreachable, interrupted) or
 * skipped. listr2 picks the renderer: the live view on a terminal, the plain lines elsewhere.
 */

export interface RunViewOptions {
  /** The live view (a terminal that nothing else writes to); else plain lines. */
  live: boolean;
  term: Terminal;
  /** Where plain lines go, through the terminal encoder. */
  writeLine(line: string): void;
}

const FAILED: readonly HostResult['status'][] = ['failed', 'unreachable', 'interrupted'];

type Wrapper = ListrTaskWrapper<unknown, typeof ListrRenderer, typeof ListrRenderer>;

export class RunView implements RunReporter {
  /** Resolves once every host has finished and the view is gone (erased, on a terminal). */
  readonly done: Promise<unknown>;
  private readonly tasks = new Map<string, HostTask>();
  private readonly results = new Map<string, HostResult>();
  private readonly ends = new Map<string, () => void>();
  private readonly stopped = new AbortController();

  constructor(hosts: readonly string[], opts: RunViewOptions) {
    const ended = new Map(hosts.map((h) => [h, new Promise<void>((r) => this.ends.set(h, r))]));
    const list = new Listr(
      hosts.map((host) => ({ title: host, task: (_ctx: unknown, task: Wrapper) => ended.get(host)!.then(() => this.settle(host, task)) })),
      {
        concurrent: true,
        exitOnError: false,
        // edge handles SIGINT itself (interrupt.ts): listr2's handler would exit 127 mid-rollback.
        registerSignalListeners: false,
        renderer: LiveRenderer,
        rendererOptions: { term: opts.term, outcome: (h: string) => this.results.get(h), stop: this.stopped.signal },
        fallbackRenderer: LineRenderer,
        fallbackRendererOptions: { write: opts.writeLine },
        fallbackRendererCondition: !opts.live,
      },
    );
    for (const t of list.tasks) this.tasks.set(t.title ?? '', t as unknown as HostTask);
    this.done = list.run();
  }

  /** Ends the view now (an interrupted run): the live view is erased before the recap is written. */
  stop(): void {
    this.stopped.abort();
    for (const end of this.ends.values()) end();
  }

  /** The host's task ends as the host did; a host never finished (stop) just completes. */
  private settle(host: string, task: Wrapper): void {
    const r = this.results.get(host);
    if (r?.status === 'skipped') task.skip(outcomeLine(r));
    else if (r && FAILED.includes(r.status)) throw new Error(outcomeLine(r));
  }

  private say(host: string, line: string): void {
    const t = this.tasks.get(host);
    if (t) t.output$ = line;
  }

  hostStarted(host: string): void {
    this.say(host, 'started');
  }
  hostStep(host: string, step: Parameters<RunReporter['hostStep']>[1], detail?: string): void {
    this.say(host, stepLine(step, detail));
  }
  /** Not a line of its own: a task is said when it finishes (apply steps are said as they start). */
  taskStarted(): void {}
  taskFinished(host: string, r: TaskResult): void {
    this.say(host, taskLine(r));
  }
  hostFinished(r: HostResult): void {
    this.results.set(r.host, r);
    this.say(r.host, outcomeLine(r));
    this.ends.get(r.host)?.();
  }
}

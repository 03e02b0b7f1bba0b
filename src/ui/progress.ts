import { Listr, type ListrTask } from 'listr2';
import type { HostResult, RunReporter, TaskResult } from '../engine/types.js';
import type { TaskName } from '../tasks/contract.js';
import { deferred, type Deferred } from './deferred.js';
import { describeTask } from './recap.js';

interface HostRow {
  step: Deferred<void>;
  stepText: string;
  tasks: Map<TaskName, Deferred<TaskResult | undefined>>;
  done: Deferred<HostResult>;
}

/**
 * Live progress: one listr2 row per host with its tasks as subtasks, collapsed when done. The engine
 * does the work; rows only wait on the engine's events. Large fleets and non-TTY output use the
 * plain line reporter instead (see lineReporter).
 */
export class ListrReporter implements RunReporter {
  private rows = new Map<string, HostRow>();
  private listr: Listr | undefined;

  private row(host: string): HostRow {
    let r = this.rows.get(host);
    if (!r) {
      r = { step: deferred(), stepText: 'waiting', tasks: new Map(), done: deferred() };
      this.rows.set(host, r);
    }
    return r;
  }

  /** Starts rendering; resolves when every host row has finished. */
  start(hosts: string[], tasks: TaskName[]): Promise<unknown> {
    for (const h of hosts) {
      const r = this.row(h);
      for (const t of tasks) r.tasks.set(t, deferred());
    }
    const rows: ListrTask[] = hosts.map((h) => ({
      title: h,
      task: async (_ctx, row) => {
        const r = this.row(h);
        const sub: ListrTask[] = tasks.map((t) => ({
          title: t,
          task: async (_c, st) => {
            const res = await r.tasks.get(t)!.promise;
            if (!res) return st.skip(`${t}: not run`);
            st.title = `${t}: ${describeTask(res)}`;
            if (res.status === 'skipped') st.skip(st.title);
            if (res.status === 'failed') throw new Error(`${t}: ${res.error ?? 'failed'}`);
          },
        }));
        const list = row.newListr(sub, { concurrent: false, exitOnError: true });
        void r.done.promise.then((hr) => {
          row.title = `${h}: ${hr.status}${hr.rollback ? ` (${hr.state})` : ''}`;
        });
        return list;
      },
    }));
    this.listr = new Listr(rows, {
      concurrent: true,
      exitOnError: false,
      rendererOptions: { collapseSubtasks: true, collapseErrors: false },
    });
    return this.listr.run().catch(() => undefined);
  }

  hostStarted(): void {}
  hostStep(host: string, step: string): void {
    this.row(host).stepText = step;
  }
  taskStarted(): void {}
  taskFinished(host: string, result: TaskResult): void {
    this.row(host).tasks.get(result.task)?.resolve(result);
  }
  hostFinished(result: HostResult): void {
    const r = this.row(result.host);
    // Tasks that never ran (unreachable host, earlier failure) finish as "not run".
    for (const d of r.tasks.values()) d.resolve(undefined);
    r.done.resolve(result);
  }
}

/** One line per event, for CI logs, pipes and large fleets. */
export function lineReporter(write: (line: string) => void): RunReporter {
  return {
    hostStarted(host) {
      write(`${host}: started`);
    },
    hostStep(host, step, detail) {
      write(`${host}: ${step}${detail ? ` — ${detail}` : ''}`);
    },
    taskStarted() {},
    taskFinished(host, r) {
      write(`${host}: ${r.task}: ${describeTask(r)}`);
    },
    hostFinished(r) {
      const extra = r.error && r.status !== 'failed' ? '' : r.error ? ` — ${r.error}` : '';
      write(`${r.host}: ${r.status}${extra}${r.rollback ? ` — ${r.rollback}` : ''}`);
    },
  };
}

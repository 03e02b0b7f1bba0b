import type { RunReporter } from '../engine/types.js';
import { describeTask } from './recap.js';

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

import type { RemoteRun } from './rollback.js';
import type { RunResult } from './types.js';

/** One run as `edge runs` shows it: each host once, with the truest state known of it. */
export interface RunRow {
  runId: string;
  playbook?: string;
  check?: boolean;
  status?: string;
  startedAt?: string;
  /** Per host: the host's own word for the run, else what the journal recorded (marked so), else why it is unknown. */
  hosts: Record<string, string>;
  /** More of a host's word, for people: who restored the run and when, which run superseded it. */
  details: Record<string, string>;
  /** Hosts a stopped rollout never started (and are not in `hosts`), with why it stopped. */
  notStarted: { name: string; why: string }[];
}

/**
 * Merges what the journal says of run `runId` with what each host says (`remote`: its runs, or
 * why it could not be asked). Pure. A host that knows the run is the truth about it; otherwise a
 * host the rollout never started is listed as not started (not also as the journal's
 * "unchanged"); otherwise the journal's word, or why the host could not be asked.
 */
export function runRow(runId: string, journal: RunResult | undefined, status: string | undefined, names: readonly string[], remote: ReadonlyMap<string, RemoteRun[] | string>): RunRow {
  const details: Record<string, string> = {};
  const hosts: Record<string, string> = {};
  const stopped = notStarted(journal);
  const notStartedHere: RunRow['notStarted'] = [];
  for (const n of names) {
    const r = remote.get(n);
    const onHost = Array.isArray(r) ? r.find((x) => x.runId === runId) : undefined;
    const never = stopped.find((x) => x.name === n);
    if (onHost) {
      hosts[n] = onHost.state;
      if (onHost.detail) details[n] = onHost.detail;
    } else if (never) notStartedHere.push(never);
    else {
      const inJournal = journal?.hosts.find((h) => h.host === n);
      const state = typeof r === 'string' ? r : inJournal ? `${inJournal.state} (journal)` : undefined;
      if (state) hosts[n] = state;
    }
  }
  return { runId, playbook: journal?.playbook, check: journal?.check, status, startedAt: journal?.startedAt, hosts, details, notStarted: notStartedHere };
}

/** The hosts a stopped rollout never started, and why it stopped. */
function notStarted(j: RunResult | undefined): RunRow['notStarted'] {
  return (j?.rollout ?? []).flatMap((r) =>
    r.hosts.filter((h) => h.state === 'not-started').map((h) => ({ name: h.name, why: r.stop?.message ?? (j?.status === 'running' ? 'its batch has not started yet' : 'the rollout ended before its batch') })),
  );
}

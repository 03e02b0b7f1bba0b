import type { Facts, UnitFact } from '../facts/types.js';
import { runtimeDiff } from '../render/diff.js';
import { shQuote } from '../encode/index.js';
import type { Change, SnapshotScope } from './contract.js';
import { createdByServices } from './paths.js';

export interface WantedUnit {
  name: string; // "keepalived.service"
  /** Restart it (if it is running) because a file it reads changed. */
  restart: boolean;
}

function describe(u: UnitFact | undefined): string {
  if (!u || u.load === 'not-found') return 'not installed';
  return `${u.enabled}, ${u.active}`;
}

/**
 * The change that leaves every unit enabled and running, restarting those whose files changed
 * (after a daemon-reload when unit files or drop-ins changed), or null if nothing is needed.
 * Planned from the units' facts; the snapshot records their enabled/active state for rollback, and
 * the files the units write when they start (SERVICE_CREATES: the task must list them in needs()).
 */
export function unitsChange(facts: Facts, units: WantedUnit[], daemonReload: boolean): Change | null {
  const steps: string[] = [];
  const actions: string[] = [];
  const before: string[] = [];
  const after: string[] = [];
  if (daemonReload) steps.push('systemctl daemon-reload');
  for (const u of units) {
    const now = facts.units[u.name];
    const enabled = now?.enabled === 'enabled';
    const active = now?.active === 'active';
    const todo: string[] = [];
    if (!enabled) {
      steps.push(`systemctl enable --quiet ${shQuote(u.name)}`);
      todo.push('enable');
    }
    if (!active) {
      steps.push(`systemctl start ${shQuote(u.name)}`);
      todo.push('start');
    } else if (u.restart) {
      steps.push(`systemctl restart ${shQuote(u.name)}`);
      todo.push('restart');
    }
    if (todo.length) {
      actions.push(`${todo.join(' + ')} ${u.name}`);
      before.push(`${u.name}: ${describe(now)}`);
      after.push(`${u.name}: enabled, active${todo.includes('restart') ? ' (restarted)' : ''}`);
    }
  }
  if (!actions.length && !daemonReload) return null;
  const names = units.map((u) => u.name);
  const files = createdByServices(names);
  const snapshot: SnapshotScope = files.length ? { units: names, files } : { units: names };
  if (!actions.length) {
    // Unit files changed but every unit is enabled, running and needs no restart (a drop-in only
    // read at the next start, say): a daemon-reload alone is the change.
    return { summary: 'systemctl daemon-reload', diff: runtimeDiff('systemd', [], ['daemon-reload']), apply: steps.join('\n'), snapshot };
  }
  return {
    summary: `systemd: ${actions.join(', ')}`,
    diff: runtimeDiff('systemd units', before, after),
    apply: steps.join('\n'),
    snapshot,
  };
}

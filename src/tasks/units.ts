import type { Facts, UnitFact } from '../facts/types.js';
import { runtimeDiff } from '../render/diff.js';
import type { ChangeOp, UnitAction } from './change-ops.js';
import type { Change } from './contract.js';

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
 * Planned from the units' facts; its scope (change-ops.ts) records their enabled/active state for
 * rollback, and the files and links the units make when they start (paths.ts: the task must list
 * those files in needs()).
 */
export function unitsChange(facts: Facts, units: WantedUnit[], daemonReload: boolean): Change | null {
  const actions: UnitAction[] = [];
  const said: string[] = [];
  const before: string[] = [];
  const after: string[] = [];
  for (const u of units) {
    const now = facts.units[u.name];
    const todo: UnitAction['action'][] = [];
    if (now?.enabled !== 'enabled') todo.push('enable');
    if (now?.active !== 'active') todo.push('start');
    else if (u.restart) todo.push('restart');
    if (!todo.length) continue;
    actions.push(...todo.map((action) => ({ unit: u.name, action })));
    said.push(`${todo.join(' + ')} ${u.name}`);
    before.push(`${u.name}: ${describe(now)}`);
    after.push(`${u.name}: enabled, active${todo.includes('restart') ? ' (restarted)' : ''}`);
  }
  if (!actions.length && !daemonReload) return null;
  const ops: Change['ops'] = [{ kind: 'units', daemonReload, actions, units: units.map((u) => u.name) }];
  // Unit files changed but every unit is enabled, running and needs no restart (a drop-in only
  // read at the next start, say): a daemon-reload alone is the change.
  if (!actions.length) return { summary: 'systemctl daemon-reload', diff: runtimeDiff('systemd', [], ['daemon-reload']), ops };
  return { summary: `systemd: ${said.join(', ')}`, diff: runtimeDiff('systemd units', before, after), ops };
}

/**
 * The change that stops and disables a unit edge no longer wants, with `alsoOps` after it (files
 * its run left), or null when it neither runs nor is enabled. `why` ends the summary.
 */
export function disableChange(facts: Facts, unit: string, why: string, alsoOps: ChangeOp[] = []): Change | null {
  const u = facts.units[unit];
  if (!u || (u.active !== 'active' && u.enabled !== 'enabled')) return null;
  return {
    summary: `systemd: stop + disable ${unit} (${why})`,
    diff: runtimeDiff('systemd units', [`${unit}: ${u.enabled}, ${u.active}`], [`${unit}: disabled, inactive`]),
    ops: [{ kind: 'units', daemonReload: false, actions: [{ unit, action: 'disable' }], units: [unit] }, ...alsoOps],
  };
}

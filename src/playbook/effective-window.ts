import type { HostVars } from '../inventory/vars.js';
import type { Play } from './types.js';
import type { Window } from './window-schema.js';

/**
 * A host's maintenance window: its `edge_window` (set per group in the inventory — sites differ
 * in time zone — or in the play's vars) wins over the play's `window`, which is the fleet-wide
 * default. Undefined: no window, batches may start at any time.
 */
export function effectiveWindow(play: Pick<Play, 'window'>, vars: Pick<HostVars, 'edge_window'>): Window | undefined {
  return vars.edge_window ?? play.window;
}

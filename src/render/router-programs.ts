import { routerFile } from '../router-files.js';

export { routerFile };

/**
 * The programs edge installs on a router live as shell files of their own in src/router/ (linted by
 * shellcheck, run as they are by the unit tests). Nothing in them is rendered: all they know of a
 * router is in the conf files edge renders (conf.ts).
 */
export const ROUTER_PROGRAMS = ['edge-probe', 'edge-failover', 'edge-routes', 'edge-health', 'edge-metrics'] as const;
export type RouterProgram = (typeof ROUTER_PROGRAMS)[number];

/** The shared library; a program sources it with exactly this line (and its shellcheck directive). */
export const LIBRARY = 'lib.sh';
const SOURCE_LINES = '# shellcheck source-path=SCRIPTDIR source=lib.sh\n. "${BASH_SOURCE[0]%/*}/lib.sh" # edge bundles the library here\n';

/**
 * The program as the router gets it: the library in place of the line that sources it, so the
 * installed file is whole (no second file to keep in step, nothing to find at run time).
 */
export function routerProgram(name: RouterProgram): string {
  const text = routerFile(`${name}.sh`);
  if (!text.includes(SOURCE_LINES)) throw new Error(`internal: src/router/${name}.sh does not source ${LIBRARY} with the expected line`);
  const lib = routerFile(LIBRARY).replace(/^# shellcheck shell=bash.*\n/, '');
  return text.replace(SOURCE_LINES, () => `# --- ${LIBRARY} (bundled by edge)\n${lib}# --- end of ${LIBRARY}\n`);
}

/** edge-probe's state machine (mawk reads it from its own file on the router). */
export function probeMachine(): string {
  return routerFile('edge-probe.awk');
}

import { shQuote } from '../encode/index.js';
import { routerFile } from '../render/router-programs.js';
import { BASELINE_DIR } from './host-layout.js';

/**
 * The packages part of a snapshot: the shell library (src/router/pkg-state.sh) that records, around
 * apt, what dpkg did not have before and what the install changed under /etc, and that a restore
 * runs to purge those packages and put /etc back. The apply exec of a run that runs apt carries it,
 * and so does the restore.sh of every snapshot that may hold such a record (the run's, the baseline's).
 */
export const PKG_LIBRARY = 'pkg-state.sh';

/** Where a snapshot dir keeps its packages record. */
export const PKG_DIR = 'pkgs';

/** The library with where the baseline keeps its record and its items (another place only for tests). */
export function pkgStateLib(baseline = BASELINE_DIR): string {
  return `EDGE_PKG_BASELINE=${shQuote(`${baseline}/${PKG_DIR}`)}\nEDGE_BASELINE_ITEMS=${shQuote(`${baseline}/items`)}\n${routerFile(PKG_LIBRARY)}`;
}

/** The restore's step: purge what the record says apt added and put /etc back ($D: the snapshot dir). */
export const PKG_RESTORE = `edge_pkgs_restore "$D/${PKG_DIR}"`;

/** The line restore.sh prints with the packages it removed (edge rollback names them). */
export const PKGS_REMOVED_MARK = 'EDGE-PKGS-REMOVED';

/**
 * What a restore's output says it removed, for the rollback's message ('' when nothing): every
 * package by name, so an operator who came to depend on one edge installed learns it is gone.
 */
export function removedPackagesNote(stdout: string): string {
  const names = stdout
    .split('\n')
    .filter((l) => l.startsWith(`${PKGS_REMOVED_MARK} `))
    .flatMap((l) => l.slice(PKGS_REMOVED_MARK.length + 1).split(' ').filter(Boolean));
  return names.length ? `; removed the packages edge had installed: ${[...new Set(names)].join(', ')}` : '';
}

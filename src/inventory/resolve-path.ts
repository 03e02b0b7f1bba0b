import { existsSync } from 'node:fs';
import path from 'node:path';
import { requireTrusted } from '../config/trusted.js';
import { EdgeError } from '../errors.js';
import { defaultInventoryPath, labInstance, labPaths } from '../lab/state.js';

/**
 * `-i prod` → `inventories/prod.yaml` (or `.yml`) under cwd; anything else is taken as a path.
 * A name wins only when it is a bare name (no slash, no extension) and the file exists, so a file
 * called `prod` in cwd is still reachable as `./prod`. A name found under inventories/ is held to
 * trusted.ts's rule, the directory and the file both: a bare name is a lookup in cwd, which may be shared.
 */
export function resolveInventoryPath(nameOrPath: string, cwd: string = process.cwd()): string {
  // `-i lab` is the lab EDGE_LAB_INSTANCE selects: another instance keeps its inventory in its state dir.
  if (nameOrPath === 'lab' && labInstance() !== 0) return defaultInventoryPath(labPaths());
  const bare = !nameOrPath.includes('/') && !nameOrPath.includes(path.sep) && path.extname(nameOrPath) === '';
  if (bare) {
    for (const ext of ['.yaml', '.yml']) {
      const candidate = path.join('inventories', `${nameOrPath}${ext}`);
      if (existsSync(path.resolve(cwd, candidate))) return trustedInventory(candidate, cwd);
    }
  }
  if (existsSync(path.resolve(cwd, nameOrPath))) return nameOrPath;
  throw new EdgeError('USAGE', `inventory not found: ${nameOrPath}`, {
    hint: bare ? `looked for inventories/${nameOrPath}.yaml, inventories/${nameOrPath}.yml and ./${nameOrPath}` : undefined,
  });
}

function trustedInventory(candidate: string, cwd: string): string {
  for (const p of [path.dirname(candidate), candidate]) requireTrusted(path.resolve(cwd, p), `the inventory ${candidate}`);
  return candidate;
}

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderBootGenerator } from '../../../src/engine/boot-hook.js';
import { deadmanUnit } from '../../../src/engine/deadman.js';
import { EDGE_VAR, snapshotDir } from '../../../src/engine/host-layout.js';
import { settlePendingScript } from '../../../src/engine/host-lock.js';
import { newRunId, RUN_ID_CASE, RUN_ID_RE } from '../../../src/engine/run-id.js';

const TRAVERSAL = '1T1Z-/../../../x';
const IDS = [newRunId(), '20261106T000000Z-0006', '20261106T000000Z-00a6beef', 'baseline', TRAVERSAL, '20261106T000000Z-0006/../x', '20261106T000000Z-00G6', '20261106T000000Z-0006 ', '', '$(reboot)'];

/**
 * A router whose /var/lib/edge/pending was written by someone else: the boot hook and the settle
 * step read a run id back from disk and make it a path. Only RUN_ID_RE's exact shape may become one.
 */
function routerWithPlantedPending(): { root: string; pwned: string } {
  const root = mkdtempSync(join(tmpdir(), 'edge-runid-'));
  const pwned = join(root, 'PWNED');
  // What `1T1Z-/../../../x` resolves to from the snapshot root: a restore.sh the attacker wrote.
  mkdirSync(join(root, 'var/lib/edge/snapshots/1T1Z-'), { recursive: true });
  mkdirSync(join(root, 'var/x'), { recursive: true });
  writeFileSync(join(root, 'var/x/restore.sh'), `touch ${pwned}\n`);
  writeFileSync(join(root, 'var/lib/edge/pending'), `${TRAVERSAL}\n`);
  return { root, pwned };
}

const rooted = (script: string, root: string) => script.split(EDGE_VAR).join(join(root, EDGE_VAR));

describe('a run id reaches a router path or unit only in its exact shape', () => {
  it('the shell case pattern accepts exactly what RUN_ID_RE accepts (bash decides)', () => {
    for (const id of IDS) {
      const r = spawnSync('bash', ['-c', `case "$1" in ${RUN_ID_CASE}) echo yes ;; *) echo no ;; esac`, '_', id], { encoding: 'utf8' });
      expect(r.stdout.trim(), id).toBe(RUN_ID_RE.test(id) ? 'yes' : 'no');
    }
  });

  it('snapshot paths and dead-man units refuse anything else', () => {
    expect(snapshotDir('baseline')).toBe('/var/lib/edge/baseline');
    expect(deadmanUnit('20261106T000000Z-0006')).toBe('edge-confirm-20261106T000000Z-0006');
    for (const bad of [TRAVERSAL, '20261106T000000Z-0006/../x', '$(reboot)', '']) {
      expect(() => snapshotDir(bad)).toThrow(/refusing to use .* as a run id/);
      expect(() => deadmanUnit(bad)).toThrow(/refusing to use .* as a run id/);
    }
  });

  it('the boot hook refuses a planted pending mark instead of running what it points at', () => {
    const { root, pwned } = routerWithPlantedPending();
    const r = spawnSync('sh', ['-c', rooted(renderBootGenerator(), root), 'edge-boot-restore', 'restore'], { encoding: 'utf8' });
    expect(r.stderr).toContain('malformed');
    expect(r.status).toBe(1);
    expect(existsSync(pwned)).toBe(false);
  });

  it('the settle step before a change refuses it loudly, naming the file', () => {
    const { root, pwned } = routerWithPlantedPending();
    const lib = 'edge_fail() { echo "edge: $*" >&2; exit 3; }\n';
    const r = spawnSync('bash', ['-c', rooted(lib + settlePendingScript(), root)], { encoding: 'utf8' });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(`${join(root, EDGE_VAR)}/pending holds no run id`);
    expect(existsSync(pwned)).toBe(false);
  });
});

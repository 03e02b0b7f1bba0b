import { describe, expect, it } from 'vitest';
import { BASELINE_ID } from '../../../src/engine/host-layout.js';
import { parseBootId } from '../../../src/engine/host-settle.js';
import { rollbackOutcome } from '../../../src/engine/rollback.js';

const ID = '20261206T070000Z-1a2b3c4d';
const view = (state: string, restoredBy: string | undefined, rebooted: boolean) => ({ state, restoredBy, rebooted, bootId: rebooted ? 'b2' : 'b1' });

/**
 * Issue 20, item 5: an `edge rollback` whose session a reboot cut reports what the host did, as
 * `edge run` does — not "failed — connection lost". What the host's answer means (pure).
 */
describe('a rollback cut by a reboot: the host says how it ended (issue 20)', () => {
  it('restored at boot: the restore the rollback began was finished by the boot hook', () => {
    expect(rollbackOutcome(ID, view('rolled-back', 'boot', true))).toEqual({
      status: 'restored-at-boot',
      message: `the host rebooted during the rollback and finished restoring the state from before run ${ID} at boot; it is reachable again`,
    });
    expect(rollbackOutcome(BASELINE_ID, view('rolled-back', 'boot', true))?.message).toContain('finished restoring the state from before edge first changed this host at boot');
  });

  it('finished before the session went: rolled back, as the host says, without claiming who did it', () => {
    expect(rollbackOutcome(ID, view('rolled-back', 'rollback', false))).toEqual({
      status: 'rolled-back',
      message: `the host is back on the state from before run ${ID} (restored by rollback); the session was lost on the way`,
    });
  });

  it('rebooted before the restore began, or the boot-time restore did not finish: failed, saying how to finish', () => {
    expect(rollbackOutcome(ID, view('confirmed', undefined, true))).toEqual({
      status: 'failed',
      message: `the host rebooted before the rollback changed anything: run ${ID} is still confirmed on it; roll it back with: edge rollback ${ID}`,
    });
    expect(rollbackOutcome(BASELINE_ID, view('restoring', 'rollback', true))).toEqual({
      status: 'failed',
      message: 'the host rebooted during the rollback and its boot-time restore did not finish (state restoring); finish it with: edge rollback --baseline',
    });
  });

  it('no reboot seen yet and not restored: not settled, edge keeps asking', () => {
    expect(rollbackOutcome(ID, view('restoring', 'rollback', false))).toBeUndefined();
    expect(rollbackOutcome(ID, view('confirmed', undefined, false))).toBeUndefined();
  });

  it("reads the host's boot id from the line the rollback sends first", () => {
    expect(parseBootId('edge: something\nEDGE-BOOT-ID 5f1c2d3e-aaaa-bbbb-cccc-0123456789ab 1796540400\n')).toEqual({ bootId: '5f1c2d3e-aaaa-bbbb-cccc-0123456789ab', clockSec: 1796540400 });
    expect(parseBootId('edge: the host is locked by run x')).toBeUndefined();
  });
});

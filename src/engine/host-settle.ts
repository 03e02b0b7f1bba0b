import { EdgeError, errorMessage } from '../errors.js';
import type { SshConnection } from '../ssh/connection.js';
import { withConnection } from './connect.js';
import { parseStateOutput, stateScript, type RunStateOnHost } from './deadman.js';

/**
 * What edge does when it loses a host in the middle of changing it (`edge run`'s apply or confirm,
 * `edge rollback`'s restore): the host finishes on its own (dead-man timer, boot-time restore), so
 * edge asks it how the run ended instead of reporting the lost connection.
 */

/** Shell that tells edge the host's boot id (and clock) on stderr, first thing: a later different id means it rebooted. */
export const BOOT_ID_ECHO = 'echo "EDGE-BOOT-ID $(cat /proc/sys/kernel/random/boot_id) $(date +%s)" >&2\n';

/** The boot id and the host's clock (s) from BOOT_ID_ECHO's line, if it came. */
export function parseBootId(stderr: string): { bootId: string; clockSec: number } | undefined {
  const m = /^EDGE-BOOT-ID (\S+) (\d+)/m.exec(stderr);
  return m ? { bootId: m[1]!, clockSec: Number(m[2]) } : undefined;
}

/** True when an exec failed because the session is gone or no longer answers (a reboot, a cut link), not because of what it ran. */
export function sessionCutOff(conn: SshConnection, e: unknown): boolean {
  return !conn.isAlive || (e instanceof EdgeError && (e.code === 'TIMEOUT' || e.code === 'CONNECT'));
}

/** How long after its deadline edge keeps asking: a restore takes seconds, a reboot about ten. */
export const SETTLE_MARGIN_MS = 60_000;

/** The run's state on the host, and whether the host rebooted since edge last saw its boot id. */
export interface SettleView extends RunStateOnHost {
  rebooted: boolean;
}

/**
 * Asks the host every 2 s, over a new connection, how run `runId` stands, until `settled` makes
 * something of it, or until SETTLE_MARGIN_MS past `dueBy` (when the host should have finished on
 * its own); then `undefined` with the last thing seen. A reboot is seen as soon as the host answers.
 */
export async function awaitHostSettled<T>(
  connect: () => Promise<SshConnection>,
  runId: string,
  opts: { bootId: string | undefined; dueBy: number },
  settled: (view: SettleView) => T | undefined,
): Promise<{ value: T } | { value: undefined; last: string }> {
  const deadline = opts.dueBy + SETTLE_MARGIN_MS;
  let last = 'unreachable';
  for (;;) {
    try {
      const out = await withConnection(connect, (c) => c.exec(stateScript(runId), { timeoutMs: 30_000 }));
      const st = parseStateOutput(out.stdout);
      last = st.state;
      const value = settled({ ...st, rebooted: st.bootId !== undefined && opts.bootId !== undefined && st.bootId !== opts.bootId });
      if (value !== undefined) return { value };
    } catch (e) {
      last = `unreachable: ${errorMessage(e)}`;
    }
    if (Date.now() >= deadline) return { value: undefined, last };
    await sleep(2000);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

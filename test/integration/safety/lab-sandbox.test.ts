import { describe, expect, it, beforeAll } from 'vitest';
import { decodeCaps } from '../../../src/lab/caps.js';
import { edge } from '../edge-cli.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * Issue 20, item 6: a command run in the lab has a router root's capabilities, not the host's —
 * so `edge lab exec r1 -- date -s ...` cannot step the host's clock (which every lab's routers
 * share). The capability is checked gone BEFORE date -s is ever tried: the test never steps the
 * clock even if the sandbox were broken. What the lab's faults and tests need (nft, ip, sysctl
 * under net) still works.
 */
describe.skipIf(!isRoot)('the lab is a sandbox for the host (issue 20)', () => {
  let lab: Lab;
  const labExec = (target: string, ...argv: string[]) => edge(['lab', 'exec', target, '--', ...argv], { env: { EDGE_LAB_INSTANCE: String(lab.instance) } });
  const effective = async (target: string) => {
    const r = await labExec(target, 'grep', '^CapEff:', '/proc/self/status');
    expect(r.code, r.stderr).toBe(0);
    return decodeCaps(r.stdout.split(/\s+/)[1]!);
  };

  beforeAll(async () => {
    lab = await ensureLab();
  }, 300_000);

  it('lab exec has no CAP_SYS_TIME (router and LAN client); date -s is refused and the host clock is unchanged', async () => {
    const router = await effective('r1');
    const lan = await effective('r1-lan');
    expect(router).not.toContain('sys_time');
    expect(lan).not.toContain('sys_time');
    expect(router).toEqual(expect.arrayContaining(['net_admin', 'net_raw', 'sys_admin']));
    // Only now, with the capability proven gone, is the step attempted.
    if (router.includes('sys_time')) throw new Error('CAP_SYS_TIME present: not trying date -s');
    const before = Date.now();
    const r = await labExec('r1', 'date', '-s', '+1 day');
    const after = Date.now();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Operation not permitted');
    // The host's clock moved only by the time the command took (a day's step would be 86,400 s).
    expect(after - before).toBeGreaterThanOrEqual(0);
    expect(after - before).toBeLessThan(120_000);
    // The router's root can still do what the lab's routers and faults need.
    const ok = await labExec('r1', 'bash', '-c', 'nft list tables >/dev/null && ip rule show >/dev/null && sysctl -n net.ipv4.ip_forward');
    expect(ok.code, ok.stderr).toBe(0);
  }, 120_000);
});

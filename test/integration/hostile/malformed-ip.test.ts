import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { edge, REPO } from '../edge-cli.js';
import { managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * Issue 20, item 5 on a real router: its `ip -j link` prints malformed JSON (an `ip` earlier in
 * root's PATH, as a broken or hostile host may have). The run is refused naming the host, the
 * command and the parse error, and nothing on the router changes.
 */
const ROUTER = 'r1';
const PLAYBOOK = join(REPO, 'playbooks', 'failover.yaml');
const WRAPPER = '/usr/local/sbin/ip';

describe.skipIf(!isRoot)('malformed ip -j output is refused (issue 20)', () => {
  let lab: Lab;
  const sh = async (script: string) => (await lab.run(ROUTER, ['bash', '-c', script], { allowFail: true })).stdout.trim();

  beforeAll(async () => {
    lab = await ensureLab();
  }, 300_000);

  afterAll(async () => {
    await sh(`rm -f ${WRAPPER}`);
  });

  it('names host, command and what was wrong; nothing changes', async () => {
    expect(await sh(`[ -e ${WRAPPER} ] && echo exists || echo absent`)).toBe('absent');
    // Every `ip` call works as before but `ip -j -d link show`, whose JSON is cut short.
    await sh(`printf '%s\\n' '#!/bin/sh' 'if [ "$*" = "-j -d link show" ]; then /usr/sbin/ip "$@" | head -c 40; else exec /usr/sbin/ip "$@"; fi' > ${WRAPPER} && chmod 0755 ${WRAPPER}`);
    const before = await managedFingerprint(lab, ROUTER);
    const r = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', ROUTER]);
    expect(r.code, r.stdout + r.stderr).not.toBe(0);
    const said = r.stdout + r.stderr;
    expect(said).toContain(ROUTER);
    expect(said).toContain('the facts the host sent are malformed: `ip -j -d link show` printed output that is not JSON (');
    expect(said).not.toContain('which this host does not have');
    expect(await managedFingerprint(lab, ROUTER)).toBe(before);
  }, 300_000);
});

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PREAMBLE } from '../../../src/render/shell.js';
import { verifyTask } from '../../../src/tasks/verify.js';
import { freshRouter, labVars } from '../../fixtures/facts.js';

const vars = labVars();
const script = (params?: { probes?: boolean }, v = vars) => verifyTask.verify!({ host: 'r1', vars: v, facts: freshRouter(), params })!;
const dir = mkdtempSync(join(tmpdir(), 'edge-verify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the verify script with the router's commands replaced by stubs that answer as told. */
function runWith(stubs: Record<string, string>): { status: number | null; stderr: string } {
  for (const [name, body] of Object.entries(stubs)) writeFileSync(join(dir, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
  const s = script()
    .replaceAll('/usr/local/sbin/edge-routes', join(dir, 'edge-routes'))
    .replaceAll('/usr/local/sbin/edge-health', join(dir, 'edge-health'));
  const r = spawnSync('bash', ['-c', `${PREAMBLE.replace(/^export LC_ALL=C PATH=.*$/m, `export LC_ALL=C PATH=${dir}:/usr/bin:/bin`)}\n${s}`], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

const healthy = {
  'edge-routes': 'exit 0',
  'edge-health': 'echo "edge-health: $1: 3 of 3 targets answered"; exit 0',
  nft: 'exit 0',
  systemctl: 'exit 0',
  ip: 'echo "3: $5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500"',
};

describe('verify task', () => {
  it('always verifies, plans nothing', () => {
    expect(verifyTask.alwaysVerify).toBe(true);
    expect(verifyTask.plan({ host: 'r1', vars, facts: freshRouter(), params: undefined })).toEqual({ changes: [] });
  });

  it('is valid bash and checks rules, tables, ruleset, services and both WANs through their own paths', () => {
    const s = script();
    expect(spawnSync('bash', ['-n'], { input: `${PREAMBLE}\n${s}` }).status).toBe(0);
    expect(s).toContain('/usr/local/sbin/edge-routes check');
    expect(s).toContain('nft list map inet edge preferred_wan');
    for (const u of ['edge-routes.service', 'edge-nftables.service', 'keepalived.service']) expect(s).toContain(`systemctl is-active --quiet ${u}`);
    expect(s).toContain('/usr/local/sbin/edge-health wan1');
    expect(s).toContain('/usr/local/sbin/edge-health wan2');
    expect(script({ probes: false })).not.toContain('edge-health');
  });

  it('passes on a healthy router', () => {
    expect(runWith(healthy)).toEqual({ status: 0, stderr: '' });
  });

  it('a WAN whose link is down is a warning, not a failure', () => {
    const r = runWith({ ...healthy, ip: 'if [ "$5" = wan1 ]; then echo "3: wan1: <NO-CARRIER,BROADCAST,MULTICAST,UP>"; else echo "4: $5: <BROADCAST,UP,LOWER_UP>"; fi' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('edge: warning: WAN1 (wan1) link is down: table wan1 is empty and new flows use the other WAN; not checked\n');
  });

  it('reports every problem, then fails', () => {
    const r = runWith({
      ...healthy,
      'edge-routes': 'echo "edge-routes: missing rule: 1010: from all fwmark 0x1 lookup 101" >&2; exit 1',
      sleep: 'exit 0', // verify waits up to 10 s for edge-routes to converge: 50 retries, at once here
      systemctl: '[ "$3" != keepalived.service ]',
      'edge-health': '[ "$1" = wan1 ] || { echo "edge-health: wan2: 0 of 3 targets answered" >&2; exit 1; }',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('missing rule: 1010');
    expect(r.stderr).toContain('edge: ip rules or WAN tables are not what edge wants');
    expect(r.stderr).toContain('edge: keepalived.service is not active');
    expect(r.stderr).toContain('edge: WAN2 (wan2) fails its health check through its own path (mark + source address → table wan2): edge-health: wan2: 0 of 3 targets answered');
  });

  it('without interface variables: fails loudly instead of verifying nothing', () => {
    expect(script(undefined, labVars({ edge_wan1_interface: undefined }))).toContain('edge_fail');
  });
});

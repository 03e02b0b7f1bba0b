import { beforeAll, describe, expect, it } from 'vitest';
import type { StatusJson } from '../../../src/commands/json-output.js';
import { edge } from '../edge-cli.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';

/**
 * `edge status` over the whole shared lab: the fleet's figures in --json agree with its hosts, one
 * exec per router, and the text is one screen (24 lines of at most 80 columns off a terminal) that
 * lists the routers worst first as the summary orders them. Read-only: it works whatever state
 * earlier test files left the routers in.
 */
describe.skipIf(!isRoot)('edge status for the whole lab', () => {
  let lab: Lab;
  beforeAll(async () => {
    lab = await ensureLab(3);
  });

  it('the figures add up, one exec per router, and the text fits one screen worst first', async () => {
    const j = await edge(['status', '-i', lab.inventory, '--json']);
    expect(j.code, j.stderr).toBe(0);
    const doc = JSON.parse(j.stdout) as StatusJson;
    const s = doc.summary;
    expect(s.routers).toBe(doc.hosts.length);
    expect(s.onWan.wan1 + s.onWan.wan2 + s.onWan.unknown + s.unreachable).toBe(doc.hosts.length);
    for (const [wan, n] of Object.entries({ wan1: s.onWan.wan1, wan2: s.onWan.wan2 })) {
      expect(n, wan).toBe(doc.hosts.filter((h) => h.ok && h.preferred === wan).length);
    }
    expect(s.drifted).toBe(doc.hosts.filter((h) => h.drift && (h.drift.pending > 0 || h.drift.tasks.some((t) => t.failures?.length))).length);
    for (const h of doc.hosts) expect(h.execs, h.host).toBe(1);

    const t = await edge(['status', '-i', lab.inventory]);
    expect(t.code, t.stderr).toBe(0);
    const lines = t.stdout.trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
    if (lines[1]?.startsWith('  on WAN1 ')) {
      // the fleet view: its routers in the summary's order
      const listed = lines.slice(4).map((l) => l.trim().split(/\s+/)[0]).filter((n) => doc.hosts.some((h) => h.host === n));
      expect(listed).toEqual(s.worst.map((r) => r.host).slice(0, listed.length));
    }
  }, 240_000);
});

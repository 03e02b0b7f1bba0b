import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  driftOf,
  hasDrift,
  hostStatusFrom,
  parseConntrack,
  parseNatCounters,
  parsePolicy,
  parsePreferredMap,
  parseRenumbered,
  parseSwitches,
  parseStatus,
  splitStatusSections,
  statusNeeds,
  statusScript,
  statusTargetOf,
  type HostPlay,
  type HostStatus,
  type StatusTarget,
} from '../../../src/engine/status.js';
import { plannedTasks } from '../../../src/engine/run-playbook.js';
import { parseFacts, splitSections } from '../../../src/facts/parse.js';
import { probeScript } from '../../../src/facts/probe.js';
import { emptyNeeds } from '../../../src/facts/types.js';
import { hostVarsSchema, type HostVars } from '../../../src/inventory/vars.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { parseYaml } from '../../../src/config/yaml-source.js';
import type { Task, TaskName } from '../../../src/tasks/contract.js';
import { agoText, bytesText, driftLines, hostStatusText, policyLines, renumberedLine, statusText, switchLines, whenText } from '../../../src/ui/status.js';

/**
 * Fixtures are the stdout of ONE real status exec on lab routers (statusScript of the failover
 * playbook): r1 right after its WAN1 upstream was cut (new flows on WAN2), r2 before edge was
 * applied (no table, no state files, units inactive).
 */
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const R1 = fixture('r1-on-wan2.out');
const R2 = fixture('r2-not-applied.out');

const LAB_VARS = hostVarsSchema.parse({
  ansible_host: '198.18.4.11',
  edge_wan1_interface: 'wan1',
  edge_wan2_interface: 'wan2',
  edge_lan_interface: 'lan0',
  edge_mgmt_interface: 'mgmt0',
  edge_mgmt_subnets: ['198.18.4.0/24'],
  edge_wan1_targets: ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
  edge_wan2_targets: ['192.0.2.1', '192.0.2.2', '192.0.2.3'],
}) as HostVars;
const TARGET = statusTargetOf(LAB_VARS);
const FAILOVER = parsePlaybook(parseYaml(readFileSync(new URL('../../../playbooks/failover.yaml', import.meta.url), 'utf8'), 'playbooks/failover.yaml'));
const FAILOVER_PLAY: HostPlay = { name: 'dual-WAN failover', vars: LAB_VARS, tasks: plannedTasks(FAILOVER.plays[0]!) };
const NEEDS = statusNeeds([FAILOVER_PLAY]);

describe('one exec, two parsers', () => {
  it('the script is the status sections, then the facts probe unchanged, and is valid bash', () => {
    const script = statusScript(TARGET, NEEDS);
    const probe = probeScript(NEEDS);
    expect(script.endsWith(probe)).toBe(true);
    const status = script.slice(0, script.length - probe.length);
    expect(status).toContain("echo '@@EDGE-STATUS@@ end'");
    expect(status).not.toContain('@@EDGE@@');
    expect(status).toContain('nft -j list map inet edge preferred_wan');
    expect(status).toContain('nft -j list chain inet edge postrouting');
    expect(status).toContain('conntrack -L -f ipv4 -m 0x1');
    expect(status).toContain('conntrack -L -f ipv4 -m 0x2');
    const syntax = spawnSync('bash', ['-n'], { input: script });
    expect(syntax.status, syntax.stderr.toString()).toBe(0);
  });

  it('names each WAN whose ISP renumbered since the last run, reading the router\'s record as its programs do', () => {
    const script = statusScript(TARGET, NEEDS);
    const body = script.slice(script.indexOf("echo '@@EDGE-STATUS@@ prefix6'"), script.indexOf("echo '@@EDGE-STATUS@@ conntrack'"));
    const dir = mkdtempSync(join(tmpdir(), 'edge-status-pd-'));
    try {
      const conf = "V6_PD1='2001:db8:11:100::/56'\nV6_SUB1='2001:db8:11:100::/64'\nV6_PD2='2001:db8:21:100::/56'\nV6_SUB2='2001:db8:21:100::/64'\n";
      writeFileSync(join(dir, 'routing.conf'), conf);
      const run = () => {
        const text = body.replaceAll('/etc/edge/routing.conf', join(dir, 'routing.conf')).replaceAll('/run/edge', dir);
        return parseRenumbered(spawnSync('bash', ['-c', text], { encoding: 'utf8' }).stdout);
      };
      expect(run()).toEqual([]);
      writeFileSync(join(dir, 'prefix6'), 'wan1 2001:db8:11:100::/56 2001:db8:12:100::/56 2001:db8:11:100::/64 2001:db8:12:100::/64\n');
      const rows = run();
      expect(rows).toEqual([{ wan: 'wan1', rendered: '2001:db8:11:100::/56', now: '2001:db8:12:100::/56', subnet: '2001:db8:12:100::/64' }]);
      expect(renumberedLine(rows[0]!, false)).toBe(
        'IPv6: ISP1 renumbered to 2001:db8:12:100::/56 (LAN subnet 2001:db8:12:100::/64; the last run rendered 2001:db8:11:100::/56): followed by the router, rendered by the next run',
      );
      // a record made under another routing.conf (a run has rendered since): nothing to say
      writeFileSync(join(dir, 'routing.conf'), conf.replaceAll('11:100', '12:100'));
      expect(run()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('marks follow the inventory', () => {
    const t = statusTargetOf({ ...LAB_VARS, edge_wan1_mark: 0x10, edge_wan2_mark: 0x20 });
    const s = statusScript(t, emptyNeeds());
    expect(s).toContain('-m 0x10');
    expect(s).toContain('-m 0x20');
  });

  it('status sections end where the facts begin; the facts parser never sees status sections', () => {
    const s = splitStatusSections(R1);
    expect([...s.keys()]).toEqual(['now', 'map', 'nat', 'run', 'conntrack', 'switches', 'units']);
    for (const v of s.values()) expect(v).not.toContain('@@EDGE@@');
    const f = splitSections(R1);
    expect([...f.keys()].some((k) => k.includes('STATUS') || k === 'map' || k === 'now')).toBe(false);
    expect(f.get('hostname')?.trim()).toBe('r1');
    const facts = parseFacts('r1', R1, NEEDS);
    expect(facts.hostname).toBe('r1');
    expect(facts.interfaces.map((i) => i.name)).toEqual(expect.arrayContaining(['wan1', 'wan2', 'lan0', 'mgmt0']));
    expect(facts.nftTableText['inet edge']).toContain('map preferred_wan');
  });

  it('a status section cut short by the facts probe (no end marker) still stops at the first facts marker', () => {
    const out = '@@EDGE-STATUS@@ now\n100\n@@EDGE-STATUS@@ units\nkeepalived.service active\n@@EDGE@@ hostname\nr9\n@@EDGE@@ end\n';
    const s = splitStatusSections(out);
    expect(s.get('units')).toBe('keepalived.service active');
    expect(splitSections(out).get('hostname')).toBe('r9');
  });
});

describe('parseStatus on real output', () => {
  it('r1 after a WAN1 cut: new flows on WAN2, WAN1 down since the switch, counters and flows', () => {
    const facts = parseFacts('r1', R1, NEEDS);
    const s = parseStatus('r1', R1, TARGET, facts);
    expect(s).toMatchObject({
      host: 'r1',
      ok: true,
      routerTime: '2026-11-23T21:46:08Z',
      preferred: 'wan2',
      preferredMark: '0x2',
      flows: { total: 99 },
      units: { keepalived: 'active', 'edge-routes': 'active', 'edge-nftables': 'active' },
    });
    expect(s.preferredNote).toBeUndefined();
    const [w1, w2] = s.wans;
    expect(w1).toMatchObject({
      wan: 'wan1',
      interface: 'wan1',
      mark: '0x1',
      link: 'up',
      address: '198.51.100.14/29',
      state: 'down',
      since: '2026-11-23T21:45:39Z',
      sinceAgoSec: 29,
      check: { result: 'pass', answered: 3, targets: 3, at: '2026-11-23T21:46:06Z', agoSec: 2 },
      keepalived: 'FAULT',
      flows: 0,
      nat: { packets: 364, bytes: 31484 },
    });
    expect(w2).toMatchObject({ wan: 'wan2', state: 'up', keepalived: 'MASTER', nat: { packets: 360, bytes: 30240 } });
  });

  it('r2 before edge was applied: preferred unknown and why, no state, units inactive', () => {
    const s = parseStatus('r2', R2, TARGET, parseFacts('r2', R2, NEEDS));
    expect(s.preferred).toBe('unknown');
    expect(s.preferredNote).toMatch(/table inet edge is not loaded/);
    expect(s.wans.map((w) => [w.state, w.since, w.check, w.keepalived, w.keepalivedLast, w.nat, w.link])).toEqual([
      ['unknown', undefined, undefined, 'STOPPED', undefined, undefined, 'up'],
      ['unknown', undefined, undefined, 'STOPPED', undefined, undefined, 'up'],
    ]);
    expect(s.units).toEqual({ keepalived: 'inactive', 'edge-routes': 'inactive', 'edge-nftables': 'inactive' });
  });

  it('without facts (unparseable), the failover part still parses; link is not guessed', () => {
    const s = parseStatus('r1', R1, TARGET);
    expect(s.preferred).toBe('wan2');
    expect(s.wans[0]!.link).toBeUndefined();
  });
});

describe('section parsers', () => {
  const map = (elem: unknown) => JSON.stringify({ nftables: [{ metainfo: {} }, { map: { name: 'preferred_wan', elem } }] });

  it('preferred_wan: numbers, hex strings, element objects; the LAN element is the one that counts', () => {
    expect(parsePreferredMap(map([['lan0', 1]]), 'lan0')).toEqual({ mark: 1 });
    expect(parsePreferredMap(map([['lan0', '0x00000002']]), 'lan0')).toEqual({ mark: 2 });
    expect(parsePreferredMap(map([[{ elem: { val: 'lan0' } }, 2]]), 'lan0')).toEqual({ mark: 2 });
    expect(parsePreferredMap(map([['lan9', 1], ['lan0', 2]]), 'lan0')).toEqual({ mark: 2 });
    expect(parsePreferredMap(map([['lan9', 1]]), undefined)).toEqual({ mark: 1 });
  });

  it('preferred_wan: missing table, empty map, no element for the LAN', () => {
    expect(parsePreferredMap('', 'lan0').note).toMatch(/not loaded/);
    expect(parsePreferredMap('Error: No such file or directory', 'lan0').note).toMatch(/not loaded/);
    expect(parsePreferredMap(map(undefined), 'lan0').note).toMatch(/is empty/);
    expect(parsePreferredMap(map([['lan9', 1]]), 'lan0').note).toMatch(/no element for lan0 \(it has lan9\)/);
  });

  it('a mark that is neither WAN\'s is reported, not guessed', () => {
    const out = `@@EDGE-STATUS@@ map\n${map([['lan0', 7]])}\n@@EDGE-STATUS@@ end\n`;
    const s = parseStatus('r1', out, TARGET);
    expect(s.preferred).toBe('unknown');
    expect(s.preferredMark).toBe('0x7');
    expect(s.preferredNote).toBe("mark 0x7 is neither WAN's (wan1 0x1, wan2 0x2)");
  });

  it('NAT counters: by edge\'s comment, else by the oifname matched; rules without masquerade ignored', () => {
    const rule = (comment: string | undefined, oif: string, packets: number, masq = true) => ({
      rule: {
        ...(comment ? { comment } : {}),
        expr: [
          { match: { op: '==', left: { meta: { key: 'oifname' } }, right: oif } },
          { counter: { packets, bytes: packets * 100 } },
          ...(masq ? [{ masquerade: null }] : [{ accept: null }]),
        ],
      },
    });
    const doc = JSON.stringify({ nftables: [rule('NAT WAN1', 'whatever', 5), rule(undefined, 'wan2', 7), rule(undefined, 'wan1', 9, false)] });
    expect(parseNatCounters(doc, TARGET)).toEqual({ wan1: { packets: 5, bytes: 500 }, wan2: { packets: 7, bytes: 700 } });
    expect(parseNatCounters('', TARGET)).toEqual({});
  });

  it('conntrack counts, and a router without conntrack', () => {
    expect(parseConntrack('wan1 3\nwan2 0\ntotal 12\n')).toEqual({ absent: false, counts: { wan1: 3, wan2: 0, total: 12 } });
    expect(parseConntrack('absent\n')).toEqual({ absent: true, counts: {} });
    const s = parseStatus('r1', '@@EDGE-STATUS@@ conntrack\nabsent\n@@EDGE-STATUS@@ end\n', TARGET);
    expect(s.flows).toBeUndefined();
    expect(s.wans[0]!.flows).toBeUndefined();
  });

  it('keepalived stopped: the instance states recorded before are the last ones, not the current', () => {
    const out = '@@EDGE-STATUS@@ run\nwan1.vrrp MASTER 990\n@@EDGE-STATUS@@ units\nkeepalived.service failed\n@@EDGE-STATUS@@ end\n';
    const s = parseStatus('r1', out, TARGET);
    expect(s.wans[0]).toMatchObject({ keepalived: 'STOPPED', keepalivedLast: 'MASTER' });
    expect(s.wans[0]!.keepalivedSince).toBeUndefined();
    expect(hostStatusText({ ...s, execs: 1, ms: 1 }).split('\n')).toContain('  keepalived stopped (last: WAN1 MASTER, WAN2 none); edge-probe switches without it');
  });

  it('edge-probe not running: failover is inactive, said plainly, and no WAN shows a stale decision', () => {
    const out = R1.replace('edge-probe.service active', 'edge-probe.service failed');
    const s = parseStatus('r1', out, TARGET);
    expect(s.failoverInactive).toMatch(/^edge-probe is failed: nothing measures the WANs or switches new flows/);
    expect(s.wans.map((w) => w.state)).toEqual(['unknown', 'unknown']);
    expect(hostStatusText({ ...s, execs: 1, ms: 1 })).toContain('FAILOVER INACTIVE: edge-probe is failed');
    expect(parseStatus('r1', R1, TARGET).failoverInactive).toBeUndefined();
    // active but silent (SIGSTOP, wedged): no health line from either WAN for 14 s
    const silent = parseStatus('r1', R1.replace('@@EDGE-STATUS@@ now\n1795470368', '@@EDGE-STATUS@@ now\n1795470380'), TARGET);
    expect(silent.failoverInactive).toMatch(/^edge-probe is running but has measured nothing for 14s \(stopped or wedged/);
    expect(parseStatus('r1', R1.replace('@@EDGE-STATUS@@ now\n1795470368', '@@EDGE-STATUS@@ now\n1795470370'), TARGET).failoverInactive).toBeUndefined();
  });

  it('a WAN decided up whose last check had no target answering shows down, never up', () => {
    const out = R1.replace('wan2.health pass 3/3', 'wan2.health fail 0/3');
    expect(parseStatus('r1', out, TARGET).wans[1]!.state).toBe('down');
    expect(parseStatus('r1', R1.replace('wan2.health pass 3/3', 'wan2.health fail 1/3'), TARGET).wans[1]!.state).toBe('up');
  });

  it('translated IPv6: its own preferred WAN and decisions, in the JSON and on one line of 80 columns', () => {
    const map6 = '{"nftables": [{"map": {"family": "inet", "name": "preferred_wan6", "table": "edge", "type": "ifname", "map": "mark", "elem": [["lan0", 2]]}}]}';
    const out = R1.replace('@@EDGE-STATUS@@ nat', `@@EDGE-STATUS@@ map6\n${map6}\n@@EDGE-STATUS@@ nat`).replace(
      'wan2.probe up',
      'wan1v6.probe down 1795470300.120 0 of 3 targets answered within 1.2 s (1 needed): 2001:db8:ffff::1 1.3 s ago, 2001:db8:ffff::2 1.3 s ago\nwan2v6.probe up 1795470100.000 3 of 3 targets answered (first measurement)\nwan2.probe up',
    );
    const s = parseStatus('r1', out, TARGET);
    expect(s.ipv6).toEqual({
      preferred: 'wan2',
      wans: [
        { wan: 'wan1', state: 'down', since: '2026-11-23T21:45:00Z', why: '0 of 3 targets answered within 1.2 s (1 needed): 2001:db8:ffff::1 1.3 s ago, 2001:db8:ffff::2 1.3 s ago' },
        { wan: 'wan2', state: 'up', since: '2026-11-23T21:41:40Z', why: '3 of 3 targets answered (first measurement)' },
      ],
    });
    const line = hostStatusText({ ...s, execs: 1, ms: 1 }).split('\n')[1]!;
    expect(line).toMatch(/^ {2}IPv6: new flows use WAN2; WAN1 down since 21:45:00Z: 0 of 3 targets answered …$/);
    expect(line).toHaveLength(80);
    // not translated: no map6 section output, no IPv6 part at all
    expect(parseStatus('r1', R1, TARGET).ipv6).toBeUndefined();
    expect(hostStatusText({ ...parseStatus('r1', R1, TARGET), execs: 1, ms: 1 })).not.toContain('IPv6');
  });

  it('state files with odd content, and one no edge script writes, are read without guessing', () => {
    const out = '@@EDGE-STATUS@@ now\n1000\n@@EDGE-STATUS@@ run\nwan1.probe bogus 12\nwan1.vrrp BACKUP 990\nwan1.starting \nwan2.health fail 0/3 995\n@@EDGE-STATUS@@ end\n';
    const [w1, w2] = parseStatus('r1', out, TARGET).wans;
    expect(w1).toMatchObject({ state: 'unknown', keepalived: 'BACKUP' });
    expect(w1).not.toHaveProperty('starting');
    expect(w1!.since).toBeUndefined();
    expect(w2!.check).toEqual({ result: 'fail', answered: 0, targets: 3, at: '1970-01-01T00:16:35Z', agoSec: 5 });
  });
});

describe('drift', () => {
  const fakeTask = (name: TaskName, plan: Task['plan']): Task => ({
    name,
    description: name,
    params: z.unknown(),
    needs: () => ({ sysctl: [`k.${name}`] }),
    plan,
  });
  const change = (summary: string) => ({ summary, diff: '', ops: [] });
  const facts = () => parseFacts('r1', R1, NEEDS);

  it('counts the changes a run would make, per task, with their summaries and refusals', () => {
    const plays: HostPlay[] = [
      {
        name: 'p',
        vars: LAB_VARS,
        tasks: [
          { task: fakeTask('inventory-check', () => ({ changes: [], failures: ['edge_lan_interface lan9 does not exist'] })), params: undefined },
          { task: fakeTask('sysctl', () => ({ changes: [change('net.ipv4.ip_forward: 0 → 1'), change('write 90-edge.conf')] })), params: undefined },
          {
            task: fakeTask('tables', () => {
              throw new Error('boom');
            }),
            params: undefined,
          },
          { task: fakeTask('verify', () => ({ changes: [] })), params: undefined },
        ],
      },
    ];
    expect(statusNeeds(plays).sysctl).toEqual(['k.inventory-check', 'k.sysctl', 'k.tables', 'k.verify']);
    const d = driftOf('r1', 'pb.yaml', plays, facts());
    expect(d.pending).toBe(2);
    expect(d.tasks).toEqual([
      { task: 'inventory-check', changes: 0, summaries: [], failures: ['edge_lan_interface lan9 does not exist'] },
      { task: 'sysctl', changes: 2, summaries: ['net.ipv4.ip_forward: 0 → 1', 'write 90-edge.conf'] },
      { task: 'tables', changes: 0, summaries: [], failures: ['could not plan: boom'] },
      { task: 'verify', changes: 0, summaries: [] },
    ]);
    expect(hasDrift(d)).toBe(true);
    expect(driftLines(d)).toEqual([
      'drift: 2 changes pending against pb.yaml (sysctl 2)',
      '  sysctl           net.ipv4.ip_forward: 0 → 1',
      '                   write 90-edge.conf',
      '  inventory-check  refuses the host: edge_lan_interface lan9 does not exist',
      '  tables           refuses the host: could not plan: boom',
    ]);
  });

  it('names the play when the host is in several; none when it is in none', () => {
    const t = { task: fakeTask('sysctl', () => ({ changes: [change('x')] })), params: undefined };
    const d = driftOf('r1', 'pb.yaml', [{ name: 'a', vars: LAB_VARS, tasks: [t] }, { name: 'b', vars: LAB_VARS, tasks: [t] }], facts());
    expect(d.tasks.map((x) => `${x.play}/${x.task}`)).toEqual(['a/sysctl', 'b/sysctl']);
    expect(driftLines(d)[0]).toBe('drift: 2 changes pending against pb.yaml (a/sysctl 1, b/sysctl 1)');
    const none = driftOf('r1', 'pb.yaml', [], facts());
    expect(none).toMatchObject({ notInPlaybook: true, pending: 0 });
    expect(hasDrift(none)).toBe(false);
    expect(driftLines(none)).toEqual(['drift: - (the host is in no play of pb.yaml)']);
  });

  it('the failover playbook against a router edge never touched: every task planned, changes pending', () => {
    const s = hostStatusFrom('r2', R2, TARGET, [FAILOVER_PLAY], 'playbooks/failover.yaml', NEEDS);
    expect(s.drift!.tasks.map((t) => t.task)).toEqual(FAILOVER.plays[0]!.tasks.map((t) => t.task));
    expect(s.drift!.pending).toBeGreaterThan(0);
    expect(s.drift!.tasks.find((t) => t.task === 'sysctl')!.changes).toBeGreaterThan(0);
    expect(s.drift!.tasks.find((t) => t.task === 'verify')!.changes).toBe(0);
  });

  it('facts that cannot be read: the status stands, drift is unknown', () => {
    const out = R1.slice(0, R1.indexOf('@@EDGE@@ hostname'));
    const s = hostStatusFrom('r1', out, TARGET, [FAILOVER_PLAY], 'pb.yaml', NEEDS);
    expect(s.preferred).toBe('wan2');
    expect(s.drift).toMatchObject({ pending: 0, tasks: [], error: expect.stringMatching(/facts could not be read/) });
    expect(driftLines(s.drift)[0]).toMatch(/^drift: unknown \(facts could not be read/);
  });
});

describe('rendering', () => {
  it('ages, instants and byte counts', () => {
    expect([0, 59, 119, 120, 3599, 3600, 7260, 172_799, 172_800, 200_000].map(agoText)).toEqual([
      '0s', '59s', '119s', '2m', '59m', '1h00m', '2h01m', '47h59m', '2d0h', '2d7h',
    ]);
    expect(whenText('2026-11-23T21:45:39.000Z', 29)).toBe('21:45:39Z (29s ago)');
    expect(whenText('2026-11-20T21:45:39Z', 300_000)).toBe('2026-11-20 21:45Z (3d11h ago)');
    expect(whenText(undefined, undefined)).toBe('-');
    expect([0, 1023, 1024, 31484, 10 * 1024 * 1024, 5e12].map(bytesText)).toEqual(['0 B', '1023 B', '1.0 KB', '31 KB', '10 MB', '4.5 TB']);
  });

  const r1 = (): HostStatus => ({ ...hostStatusFrom('r1', R1, TARGET, [], 'pb.yaml', NEEDS), address: '198.18.4.11', execs: 1, ms: 300 });

  it('one router: the preferred WAN, a row per WAN, flows and units, drift', () => {
    const text = hostStatusText(r1());
    const lines = text.split('\n');
    expect(lines[0]).toBe('r1 (198.18.4.11): new flows use WAN2 (wan2, mark 0x2)');
    expect(lines[1]).toBe('  WAN   INTERFACE              STATE  SINCE  CHECK  LOSS RTT  FLOWS  NAT');
    expect(lines[2]).toMatch(/^ {2}wan1 {2}wan1 198\.51\.100\.14\/29 {2}down {3}29s {4}3\/3 {4}- {9}0 {6}31 KB$/);
    expect(lines[3]).toMatch(/^ {2}wan2 .* up {5}\S+ +3\/3 {4}0% 3ms {4}0 {6}30 KB$/);
    expect(lines[4]).toBe('  flows: 99 in all');
    expect(lines[5]).toBe('  units: keepalived edge-probe edge-routes edge-nftables: active');
    expect(lines[6]).toBe('  switches: 3 in 24 h; last 21:45:39Z (29s ago) to WAN2 after 3m on WAN1');
    expect(lines[7]).toBe('    why: wan1 down: 0 of 3 targets answered within 1.2 s (1 needed): 192.0.2.1 …');
    expect(lines[7]!.length).toBeLessThanOrEqual(80);
    expect(lines[8]).toBe('  drift: - (the host is in no play of pb.yaml)');
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
    // columns line up: every row has its SINCE at the same offset as the header's
    const col = lines[1]!.indexOf('SINCE');
    expect(lines[2]!.slice(col)).toMatch(/^29s /);
    expect(text).not.toContain('\x1b[');
    expect(hostStatusText(r1(), { color: true })).toContain('\x1b[31mdown\x1b[0m');
  });

  it('a degraded WAN: its state, the loss and RTT of the window, and which threshold it passed', () => {
    const out = R1.replace(/^wan1\.probe .*$/m, 'wan1.probe degraded 1795470339.412 loss 41 % > 30 % over the last 10 s (rtt 35 ms)').replace(
      /^wan1\.health .*$/m,
      'wan1.health pass 3/3 1795470366 0 4000 900 140.0 41.2 35 0',
    );
    const s: HostStatus = { ...hostStatusFrom('r1', out, TARGET, [], 'pb.yaml', NEEDS), execs: 1, ms: 1 };
    expect(s.wans[0]).toMatchObject({ state: 'degraded', why: 'loss 41 % > 30 % over the last 10 s (rtt 35 ms)', quality: { lossPct: 41.2, rttMs: 35, good: false } });
    expect(s.wans[1]!.quality).toEqual({ lossPct: 0, rttMs: 3, good: true });
    const lines = hostStatusText(s).split('\n');
    expect(lines[2]).toBe('  wan1  wan1 198.51.100.14/29  degraded  29s    3/3    41% 35ms  0      31 KB');
    expect(lines[4]).toBe('  WAN1 degraded: loss 41 % > 30 % over the last 10 s (rtt 35 ms)');
    expect(hostStatusText(s, { color: true })).toContain('\x1b[33mdegraded\x1b[0m');
    // a degraded WAN whose last second found nothing answering is down, as an up one is
    expect(hostStatusFrom('r1', out.replace('wan1.health pass 3/3', 'wan1.health fail 0/3'), TARGET, [], 'pb.yaml', NEEDS).wans[0]!.state).toBe('down');
  });

  it('mode and steering: the weight in effect (0 for an avoided WAN) and the new flows each rule matched', () => {
    const counters = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { counter: { family: 'inet', name: 'steer_2', table: 'edge', comment: 'steering guest', packets: 7, bytes: 420 } },
        { counter: { family: 'inet', name: 'steer_1', table: 'edge', comment: 'steering phones', packets: 40, bytes: 2400 } },
      ],
    });
    const avoid = JSON.stringify({ nftables: [{ map: { family: 'inet', name: 'avoid', table: 'edge', type: 'mark', map: 'mark', elem: [[2, 1]] } }] });
    const balance: StatusTarget = { ...TARGET, mode: 'balance', wans: TARGET.wans.map((w, i) => ({ ...w, weight: [3, 1][i] })) };
    const p = parsePolicy(`${counters}\n${avoid}`, balance)!;
    expect(p).toEqual({
      mode: 'balance',
      avoided: ['wan2'],
      weights: [
        { wan: 'wan1', configured: 3, inEffect: 3 },
        { wan: 'wan2', configured: 1, inEffect: 0 },
      ],
      steering: [
        { rule: 'phones', newFlows: 40 },
        { rule: 'guest', newFlows: 7 },
      ],
    });
    expect(policyLines(p, false)).toEqual(['mode: balance 3:1, in effect 3:0 (WAN2 avoided)', 'steering (new flows): phones 40, guest 7']);
    expect(policyLines(parsePolicy(counters, balance)!, false)).toEqual(['mode: balance 3:1', 'steering (new flows): phones 40, guest 7']);
    // an empty avoid map, a missing table: nothing avoided, no rules
    expect(parsePolicy('', { ...TARGET, mode: 'failover' })).toEqual({ mode: 'failover', avoided: [], steering: [] });
    const out = R1.replace('@@EDGE-STATUS@@ run', `@@EDGE-STATUS@@ policy\n${counters}\n${avoid}\n@@EDGE-STATUS@@ run`);
    const lines = hostStatusText({ ...hostStatusFrom('r1', out, balance, [], 'pb.yaml', NEEDS), execs: 1, ms: 1 }).split('\n');
    expect(lines).toContain('  mode: balance 3:1, in effect 3:0 (WAN2 avoided)');
    expect(lines).toContain('  steering (new flows): phones 40, guest 7');
  });

  it('an unreachable router is one line; the heading counts what needs a look', () => {
    const down: HostStatus = { host: 'r3', address: '198.18.4.13', ok: false, error: 'connect ETIMEDOUT', wans: [], units: {}, execs: 0, ms: 10_000 };
    expect(hostStatusText(down)).toBe('r3 (198.18.4.13): unreachable: connect ETIMEDOUT');
    const drifted = { ...r1(), host: 'r2', drift: { playbook: 'pb.yaml', pending: 3, tasks: [{ task: 'sysctl' as const, changes: 3, summaries: ['a', 'b', 'c'] }] } };
    const text = statusText([r1(), drifted, down], { at: new Date('2026-11-23T21:46:08.123Z') });
    expect(text.split('\n')[0]).toBe('edge status at 2026-11-23T21:46:08Z: 3 routers, 2 on WAN2, 1 drifted, 1 unreachable');
    expect(text).toContain('\n\nr3 (198.18.4.13): unreachable');
  });

  it('switch history: the count of the last 24 h and the last switch as edge-failover recorded it', () => {
    const sw = r1().switches!;
    expect(sw).toEqual({
      last24h: 3,
      last: {
        at: '2026-11-23T21:45:39Z',
        agoSec: 29,
        from: 'wan1',
        to: 'wan2',
        heldSec: 199.3,
        why: 'wan1 down: 0 of 3 targets answered within 1.2 s (1 needed): 192.0.2.1 1.3 s ago, 192.0.2.2 1.3 s ago, 192.0.2.3 1.3 s ago',
      },
    });
    expect(parseSwitches('count24h 0', 1)).toEqual({ last24h: 0 });
    expect(parseSwitches('count24h 1\nlast 100.5 none wan1 - wan1 up: 3 of 3 targets answered', 160)!.last).toEqual({
      at: '1970-01-01T00:01:40Z', agoSec: 60, from: 'none', to: 'wan1', why: 'wan1 up: 3 of 3 targets answered',
    });
    expect(parseSwitches('', 1)).toBeUndefined();
    expect(parseSwitches('count24h 2\nlast garbage', 1)).toEqual({ last24h: 2 });
    expect(switchLines({ last24h: 1, last: { at: '2026-11-23T21:45:39Z', agoSec: 5, from: 'wan2', to: 'wan1', heldSec: 12.4, why: 'wan1 up' } })).toEqual([
      'switches: 1 in 24 h; last 21:45:39Z (5s ago) to WAN1 after 12s on WAN2',
      '  why: wan1 up',
    ]);
  });

  it('a router edge has not set up yet', () => {
    const s: HostStatus = { ...hostStatusFrom('r2', R2, TARGET, [FAILOVER_PLAY], 'playbooks/failover.yaml', NEEDS), execs: 1, ms: 1 };
    const lines = hostStatusText(s).split('\n');
    expect(lines.slice(0, 2)).toEqual(['r2: new flows: unknown (map preferred_wan not found: table inet edge is not', '  loaded)']);
    lines.splice(0, 1);
    expect(lines[2]).toMatch(/^ {2}wan1 +wan1 \S+ +unknown +- +- +- +0 +-$/);
    expect(lines[4]).toBe('  flows: 0 in all');
    expect(lines[5]).toBe('  units: keepalived edge-routes edge-nftables: inactive');
    expect(lines[6]).toBe('  switches: none recorded');
    // the drift line, wrapped at a space to fit 80 columns
    expect(lines[7]).toMatch(/^ {2}drift: \d+ changes pending against playbooks\/failover\.yaml \(packages \d+, /);
    expect(lines[8]).toMatch(/^ {4}\S/);
    expect(lines.slice(7).join(' ').replace(/ +/g, ' ')).toMatch(/drift: \d+ changes pending against playbooks\/failover\.yaml \(packages \d+, sysctl \d+, /);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { edge } from '../edge-cli.js';
import { hostState } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';
import { applyFailover, healthyIsps, journal, makeFresh, nftTable, report, routesSettled, runPlaybook } from './helpers.js';

/**
 * Issue 4, scenarios 8 and 9: idempotence and check mode on every lab router, and a foreign nft
 * table (as Docker or fail2ban would add) that survives every apply and rollback. r3 is made fresh
 * (every edge run on it rolled back) for the check-mode and foreign-table proofs, and left
 * configured afterwards.
 */

/** Every file the playbook writes on a systemd-networkd router (playbooks/failover.md, "Files"). */
const FILES = [
  '/etc/sysctl.d/90-edge.conf',
  '/etc/iproute2/rt_tables.d/edge.conf',
  '/etc/edge/routing.conf',
  '/etc/edge/edge.nft',
  '/usr/local/sbin/edge-routes',
  '/etc/systemd/system/edge-routes.service',
  '/etc/systemd/system/edge-nftables.service',
  '/etc/systemd/networkd.conf.d/edge.conf',
  '/etc/edge/failover.conf',
  '/usr/local/sbin/edge-health',
  '/usr/local/sbin/edge-failover',
  '/usr/local/sbin/edge-probe',
  '/etc/systemd/system/edge-probe.service',
  '/etc/systemd/system/keepalived.service.d/edge.conf',
  '/etc/keepalived/keepalived.conf',
];

describe.skipIf(!isRoot)('failover playbook: idempotence, check mode, foreign tables', () => {
  let lab: Lab;
  let hosts: string[];
  const fresh = 'r3';

  beforeAll(async () => {
    lab = await ensureLab();
    hosts = lab.plan.routers.map((r) => r.name);
    for (const h of hosts) await healthyIsps(lab, h);
  });

  /**
   * Nothing of edge's is on the router: no file, table, rule or running unit. `fresh` also wants
   * none of what a rollback documents it leaves (directories, wants/ links, edge-ka0, /run/edge).
   */
  const expectNoEdge = async (host: string, fresh: boolean) => {
    const leftovers = fresh
      ? "ls -d /etc/edge /etc/systemd/networkd.conf.d /etc/systemd/system/keepalived.service.d /run/edge /var/lib/edge 2>/dev/null; ip -br link show edge-ka0 2>/dev/null; find /etc/systemd/system -name 'edge-*'; ps -eo cmd= | grep -E '^(/bin/bash /usr/local/sbin/edge-routes monitor|ip monitor link address route rule|/bin/bash /usr/local/sbin/edge-probe run|ping -n -D -O .*)$';"
      : '';
    const r = await lab.run(host, [
      'bash',
      '-c',
      `ls -d ${FILES.join(' ')} 2>/dev/null; ${leftovers} nft list table inet edge >/dev/null 2>&1 && echo 'table inet edge'; ip rule | awk -F: '$1 >= 1000 && $1 <= 1099'; ip route show table 101 2>/dev/null; systemctl is-active keepalived edge-probe edge-routes edge-nftables 2>/dev/null | grep -x active; true`,
    ]);
    expect(r.stdout.trim(), `${host} is not back to its pre-edge state`).toBe('');
  };

  it('8. second run: 0 changed on every host; --check: nothing on a configured router, every diff and no change on a fresh one', async () => {
    await applyFailover(lab, hosts);
    const second = await runPlaybook(lab, hosts, '--detailed-exitcode');
    expect(second.code, second.stderr.slice(-2000)).toBe(0);
    for (const h of second.result.hosts) {
      expect(h, h.host).toMatchObject({ status: 'ok', state: 'unchanged', execs: 1 }); // facts, verify inside the same exec
      expect(h.tasks.map((x) => x.status)).toEqual(h.tasks.map(() => 'ok'));
      expect(h.tasks.flatMap((x) => x.changes)).toEqual([]);
    }
    // Exactly one edge-routes monitor per router, whatever restarts the runs made (a stopped
    // monitor must not leave its `ip monitor` and loop behind, nor keep running an old script).
    // Counted are monitors whose parent is not a monitor: a reconcile's $(…) is a fork of the
    // monitor's shell with the same command line for the moment it runs.
    const monitors =
      "ps -eo pid=,ppid=,args= | awk '{ pid = $1; ppid = $2; $1 = $2 = \"\"; sub(/^ +/, \"\") } " +
      '$0 == "/bin/bash /usr/local/sbin/edge-routes monitor" { shell[pid] = ppid } $0 == "ip monitor link address route rule" { ipmon++ } ' +
      "END { for (p in shell) if (!(shell[p] in shell)) top++; print top + 0, ipmon + 0 }'";
    for (const host of hosts) {
      const ps = await lab.run(host, ['bash', '-c', monitors]);
      expect(ps.stdout.trim(), `${host}: edge-routes monitors and ip monitors`).toBe('1 1');
    }
    report('8 idempotence', `second run in ${second.ms} ms: ${second.result.hosts.map((h) => `${h.host} ${h.status} execs=${h.execs} ${h.durationMs} ms`).join(', ')}`);

    const configured = await runPlaybook(lab, ['r1'], '--check', '--diff', '--detailed-exitcode');
    expect(configured.code, configured.stderr.slice(-2000)).toBe(0);
    expect(configured.result.hosts[0]).toMatchObject({ status: 'ok', execs: 1 }); // facts only: check mode runs nothing else
    expect(configured.stderr).not.toMatch(/^\+\+\+ /m);
    report('8 idempotence', `--check on configured r1: ${configured.result.hosts[0]!.status}, no diff (${configured.ms} ms)`);

    const rolled = await makeFresh(lab, fresh);
    await expectNoEdge(fresh, true);
    const before = await hostState(lab, fresh);
    const check = await runPlaybook(lab, [fresh], '--check', '--diff', '--detailed-exitcode');
    expect(check.code, check.stderr.slice(-2000)).toBe(2);
    const h = check.result.hosts[0]!;
    expect(h).toMatchObject({ status: 'changed', execs: 1 });
    for (const f of FILES) expect(check.stderr, `no diff for ${f}`).toContain(`+++ b${f}`);
    const byTask = Object.fromEntries(h.tasks.map((x) => [x.task, x.changes.map((c) => c.summary)]));
    for (const task of ['sysctl', 'tables', 'nftables', 'persistence', 'failover']) expect(byTask[task]?.length, `${task} shows no change`).toBeGreaterThan(0);
    // runtime changes shown, not only files: ip rules, the WAN tables, the nft table, units
    expect(check.stderr).toMatch(/1010: from all fwmark 0x1 lookup/);
    expect(check.stderr).toMatch(/default via \S+ dev wan1/);
    expect(check.stderr).toMatch(/net\.ipv4\.ip_forward/);
    expect(await hostState(lab, fresh)).toBe(before);
    report(
      '8 idempotence',
      `--check on fresh ${fresh} (${rolled.length} runs rolled back): ${Object.entries(byTask)
        .map(([k, v]) => `${k} ${v.length}`)
        .join(', ')} changes, ${FILES.length}/${FILES.length} file diffs; host byte-identical before/after (${check.ms} ms)`,
    );

    // Applied to the fresh router: the directories edge creates are readable by the daemons that
    // need them, so systemd-networkd honours ManageForeignRoutingPolicyRules=no once it restarts
    // and no longer removes edge's rules when it reconfigures a link.
    await applyFailover(lab, [fresh]); // and it is left configured like the others
    const dirs = await lab.run(fresh, ['stat', '-c', '%a %n', '/etc/edge', '/etc/systemd/networkd.conf.d', '/etc/systemd/system/keepalived.service.d']);
    expect(dirs.stdout.trim().split('\n').map((l) => l.split(' ')[0])).toEqual(['755', '755', '755']);
    await lab.run(fresh, ['systemctl', 'restart', 'systemd-networkd']);
    await lab.run(fresh, ['sleep', '2']);
    const since = Date.now();
    await lab.run(fresh, ['networkctl', 'reconfigure', 'wan2']);
    await lab.run(fresh, ['sleep', '3']);
    const repaired = (await journal(lab, fresh, 'edge-routes', since)).filter((l) => /^rule (added|removed)/.test(l.text));
    expect(repaired.map((l) => l.text)).toEqual([]);
    expect(await routesSettled(lab, fresh)).toBe('');
    report('8 idempotence', `fresh apply: directories ${dirs.stdout.trim().replace(/\n/g, ', ')}; networkd reconfigure of wan2 left edge's rules alone`);
  }, 300_000);

  it('9. a foreign nft table added before the run survives every apply and rollback', async () => {
    await makeFresh(lab, fresh);
    await expectNoEdge(fresh, true);
    await lab.run(fresh, ['nft', 'delete', 'table', 'inet', 'foreign'], { allowFail: true });
    await lab.run(fresh, [
      'bash',
      '-c',
      "nft add table inet foreign && nft add chain inet foreign c '{ type filter hook input priority 10; }' && nft add rule inet foreign c counter",
    ]);
    const foreign = await nftTable(lab, fresh, 'inet', 'foreign');
    expect(foreign).toMatch(/chain c \{[\s\S]*counter/);
    const steps: string[] = [];
    const stillThere = async (step: string, edgeTable: boolean) => {
      expect(await nftTable(lab, fresh, 'inet', 'foreign'), `after ${step}`).toBe(foreign);
      expect((await nftTable(lab, fresh, 'inet', 'edge')) !== undefined, `inet edge after ${step}`).toBe(edgeTable);
      steps.push(step);
    };
    try {
      const first = await applyFailover(lab, [fresh]);
      expect(first.hosts[0]!.tasks.find((x) => x.task === 'nftables')?.status).toBe('changed');
      await stillThere('first apply', true);

      // An apply that rewrites and reloads edge's ruleset on a configured router (a local edit to undo).
      await lab.run(fresh, ['bash', '-c', "printf '# local edit\\n' >> /etc/edge/edge.nft"]);
      const reload = await applyFailover(lab, [fresh]);
      expect(reload.hosts[0]!.tasks.find((x) => x.task === 'nftables')?.status).toBe('changed');
      await stillThere('reloading apply', true);

      // The boot path: edge-nftables.service loads the file again.
      await lab.run(fresh, ['systemctl', 'restart', 'edge-nftables']);
      await stillThere('restart of edge-nftables', true);

      for (const run of [reload, first]) {
        const rb = await edge(['rollback', run.runId, '-i', lab.inventory, '--limit', fresh]);
        expect(rb.code, rb.stdout + rb.stderr).toBe(0);
        expect(rb.stdout).toContain(`${fresh}: rolled-back`);
        await stillThere(`rollback ${run.runId}`, run === reload);
      }
      await expectNoEdge(fresh, false);

      await applyFailover(lab, [fresh]);
      await stillThere('apply after rollback', true);
      report('9 foreign table', `inet foreign identical after: ${steps.join(', ')}`);
    } finally {
      await lab.run(fresh, ['nft', 'delete', 'table', 'inet', 'foreign'], { allowFail: true });
    }
  }, 300_000);
});

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { routerProgram } from '../../../src/render/router-programs.js';
import { labRoutingConf } from '../../fixtures/routing-conf.js';

/**
 * edge-routes monitor reconciles on ip monitor's events. An ISP's router advertisements refresh the
 * WAN addresses and routes every few seconds (the lab's every 3-10 s), and a reconcile for each cost
 * an idle lab router ~9 % of a core: a refresh that only moves lifetimes is no news, anything else
 * is. Here `ip monitor` is a fake that replays real lines in groups (each apart by more than the
 * debounce), and `flock` (taken once per reconcile) counts the reconciles.
 */
const dir = mkdtempSync(join(tmpdir(), 'edge-routes-monitor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ADDR = '3: wan1    inet6 2001:db8:1:1:45:9ff:fe01:201/64 scope global dynamic mngtmpaddr noprefixroute ';
const LFT = (v: number) => `       valid_lft ${v}sec preferred_lft ${v / 2}sec`;
const RA_ROUTE = (e: number) => `default via fe80::1 dev wan1 proto ra metric 1024 expires ${e}sec hoplimit 64 pref medium`;
const DHCP4 = '3: wan1    inet 198.51.100.13/29 metric 100 brd 198.51.100.15 scope global dynamic wan1';
const LINK_DOWN = '3: wan1: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state DOWN group default ';

/** Groups of lines, each with whether it must be reconciled (news) or not. */
const SCRIPT: [string[], boolean][] = [
  [[ADDR, LFT(1200)], true], // first sight
  [[ADDR, LFT(1197)], false], // the RA's refresh
  [[RA_ROUTE(1799)], true],
  [[RA_ROUTE(1791), ADDR, LFT(1190)], false], // both refreshed by the next RA, one group
  [[DHCP4, LFT(120)], true],
  [[DHCP4, LFT(118)], false], // a DHCP renewal
  [[`Deleted ${ADDR}`], true], // gone …
  [[ADDR, LFT(1200)], true], // … and back exactly as it was: news
  [[LINK_DOWN], true], // a link event: news, and every refresh after it again
  [[RA_ROUTE(1780)], true],
  [[RA_ROUTE(1770)], false],
];

describe('edge-routes monitor: refreshes are no news', () => {
  it('reconciles on the first sight of an address or route, a deletion, a link change; not on a refresh that only moves lifetimes', async () => {
    const bin = join(dir, 'bin');
    const run = join(dir, 'run');
    mkdirSync(bin, { recursive: true });
    mkdirSync(run, { recursive: true });
    writeFileSync(join(dir, 'routing.conf'), labRoutingConf());
    // `ip monitor` replays the groups. After a group that is news it waits for its reconcile to
    // start (lines written meanwhile would be gathered into it by the debounce); after one that is
    // not (and after the last), it leaves a second for a wrong reconcile to show. Then it says it
    // is done and stays, as the real one does.
    const count = `$(cat ${dir}/reconciles 2>/dev/null | wc -l)`;
    const waitFor = (n: number) => `for _ in $(seq 400); do [ ${count} -ge ${n} ] && break; sleep 0.05; done; sleep 0.2`;
    let expected = 1;
    const groups = [waitFor(expected)];
    for (const [lines, news] of SCRIPT) {
      groups.push(`printf '%s\\n' ${lines.map((l) => `'${l}'`).join(' ')}`);
      groups.push(news ? waitFor(++expected) : 'sleep 1');
    }
    writeFileSync(join(bin, 'ip'), `#!/bin/bash\nif [ "$1" = monitor ]; then\n${groups.join('\n')}\nsleep 1; touch ${dir}/replayed; exec sleep 600; fi\nexit 1\n`, { mode: 0o755 });
    // the lock is never had: a reconcile is counted and over, fast whatever the machine's load
    writeFileSync(join(bin, 'flock'), `#!/bin/sh\necho reconcile >> ${dir}/reconciles\nexit 1\n`, { mode: 0o755 });
    writeFileSync(join(bin, 'logger'), '#!/bin/sh\n', { mode: 0o755 });
    const script = join(dir, 'edge-routes');
    writeFileSync(script, routerProgram('edge-routes').replace(/^export LC_ALL=C PATH=.*$/m, `export LC_ALL=C PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`), { mode: 0o755 });
    const child = spawn('bash', [script, 'monitor'], {
      env: { ...process.env, EDGE_ROUTING_CONF: join(dir, 'routing.conf'), EDGE_RUN_DIR: run },
      stdio: 'ignore',
    });
    try {
      for (let i = 0; i < 250; i++) {
        await new Promise((r) => setTimeout(r, 200));
        try {
          readFileSync(join(dir, 'replayed'));
          break;
        } catch {}
      }
    } finally {
      child.kill('SIGTERM');
    }
    const reconciles = readFileSync(join(dir, 'reconciles'), 'utf8').trim().split('\n').length;
    // one at the start, then one per group that was news
    expect(reconciles).toBe(expected);
  }, 90_000);
});

/**
 * edge-radvd's ExecStartPre (`edge-routes radvd`) reads the ruleset's decisions and writes the choice
 * radvd starts with. A switch between the two was undone by it (seen on the lab: after a boot with
 * WAN1 cut, flows on WAN2 and radvd advertising WAN1's prefix), so it runs under the switcher's
 * lock. Here the lock is held for a while: the command must not end before it is released.
 */
describe('edge-routes radvd: under the switcher\'s lock', () => {
  it('waits for failover.lock before it decides', async () => {
    const run = join(dir, 'run-radvd');
    mkdirSync(run, { recursive: true });
    writeFileSync(join(dir, 'routing4.conf'), labRoutingConf());
    const script = join(dir, 'edge-routes-radvd');
    writeFileSync(script, routerProgram('edge-routes'), { mode: 0o755 });
    const held = spawn('flock', [join(run, 'failover.lock'), 'bash', '-c', `touch ${run}/held; sleep 1.5; date +%s.%N > ${run}/released`], { stdio: 'ignore' });
    const released = new Promise((r) => held.on('exit', r));
    for (let i = 0; i < 100 && !existsSync(join(run, 'held')); i++) await new Promise((r) => setTimeout(r, 20));
    const ended = await new Promise<number>((resolve) => {
      const c = spawn('bash', [script, 'radvd'], { env: { ...process.env, EDGE_ROUTING_CONF: join(dir, 'routing4.conf'), EDGE_RUN_DIR: run }, stdio: 'ignore' });
      c.on('exit', () => resolve(Date.now() / 1000));
    });
    await released;
    // (this routing.conf has no native IPv6: the command refuses, once it has the lock)
    expect(ended).toBeGreaterThanOrEqual(Number(readFileSync(join(run, 'released'), 'utf8')));
  }, 30_000);
});

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseInterfaces, parseRoutes, parseRules, splitSections } from '../../../src/facts/parse.js';
import { MARK } from '../../../src/facts/probe.js';
import type { Facts } from '../../../src/facts/types.js';
import { LIBRARY, ROUTER_PROGRAMS, routerFile, routerProgram } from '../../../src/render/router-programs.js';
import { renderIfupdownHook } from '../../../src/render/units.js';
import { PKG_LIBRARY } from '../../../src/engine/pkg-snapshot.js';
import { failoverFiles } from '../../../src/tasks/failover.js';
import { PATHS } from '../../../src/tasks/paths.js';
import { tablesFiles, tablesTask } from '../../../src/tasks/tables.js';
import { resolveTopology } from '../../../src/tasks/wan.js';
import { freshRouter, labVars } from '../../fixtures/facts.js';
import { canNetns, inNetns } from '../../fixtures/host-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-scripts-'));
afterAll(() => process.env.KEEP_SANDBOX || rmSync(dir, { recursive: true, force: true }));

const scripts = {
  'edge-routes': routerProgram('edge-routes'),
  'edge-health': failoverFiles(labVars()).find((f) => f.path === PATHS.edgeHealth)!.content,
  'edge-failover': failoverFiles(labVars()).find((f) => f.path === PATHS.edgeFailover)!.content,
  'edge-probe': failoverFiles(labVars()).find((f) => f.path === PATHS.edgeProbe)!.content,
};
const ROUTER_DIR = fileURLToPath(new URL('../../../src/router/', import.meta.url));

function write(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content, { mode: 0o750 });
  return p;
}

/**
 * edge-failover against fakes: nft keeps the map element, the dead set and the steering elements
 * in files of D (and logs each call in D/nftcalls), conntrack and logger record their calls, ip
 * keeps the rule P+40 the router's own traffic follows.
 */
function failoverSandbox(d: string) {
  const put = (name: string, content: string) => {
    const p = join(d, name);
    writeFileSync(p, content, { mode: 0o750 });
    return p;
  };
  // A fake nft keeps the map element and the dead set in files; conntrack and logger record their calls.
  const bin = join(d, 'bin');
  const run = join(d, 'run');
  spawnSync('mkdir', ['-p', bin, run]);
  // It lists the table as nft does (marks as 0x%08x) and keeps each element in a file.
  put('bin/nft', `#!/bin/bash
d=${d}
echo "nft $*" >> $d/nftcalls
hex() { local m out=(); for m in "$@"; do out+=("$(printf '0x%08x' "$m")"); done; local IFS=,; printf '%s' "\${out[*]}" | sed 's/,/, /g'; }
obj() { printf '\\t%s %s {\\n\\t\\ttype %s\\n' "$1" "$2" "$3"; [ -s "$d/$4" ] && printf '\\t\\telements = { %s }\\n' "$(cat "$d/$4")"; printf '\\t}\\n'; }
if [ "$1 $2 $3 $4" = "list table inet edge" ]; then
  printf 'table inet edge {\\n'
  [ -f $d/elem ] && printf '\\tmap preferred_wan {\\n\\t\\ttype ifname : mark\\n\\t\\telements = { "lan0" : %s }\\n\\t}\\n' "$(cat $d/elem)"
  obj set dead_wans mark dead; obj map avoid 'mark : mark' avoid; obj set down mark down
  printf '}\\n'
  exit 0
fi
[ "$1 $2" = "-f -" ] || exit 1
tx=$(cat)
printf '%s\\n' "$tx" >> $d/tx
: > $d/dead; : > $d/avoid; : > $d/down
while read -r line; do
  [[ $line =~ preferred_wan\\ \\{\\ \\"lan0\\"\\ :\\ (0x[0-9a-f]+) ]] && hex "\${BASH_REMATCH[1]}" > $d/elem
  [[ $line =~ dead_wans\\ \\{\\ (0x[0-9a-f]+) ]] && hex "\${BASH_REMATCH[1]}" > $d/dead
  [[ $line =~ avoid\\ \\{\\ ([0-9]+)\\ :\\ ([0-9]+) ]] && printf '%s : %s' "$(hex "\${BASH_REMATCH[1]}")" "$(hex "\${BASH_REMATCH[2]}")" > $d/avoid
  [[ $line =~ down\\ \\{\\ ([0-9,]+) ]] && hex \${BASH_REMATCH[1]//,/ } > $d/down
done <<<"$tx"
exit 0
`);
  put('bin/conntrack', `#!/bin/sh\necho "conntrack $*" >> ${d}/calls\necho "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted." >&2\nexit 0\n`);
  put('bin/logger', `#!/bin/sh\nshift 3; echo "log $*" >> ${d}/calls\n`);
  // ip: only the rule P+40 the router's own traffic follows, kept in a file (one rule per line)
  put('bin/ip', `#!/bin/bash
f=${d}/rules; touch $f
[ "$1" != -4 ] || shift
if [ "$1 $2 $3" = "rule show pref" ]; then grep "^$4:" $f; exit 0; fi
if [ "$1 $2 $3" = "rule add pref" ]; then printf '%s:\\tfrom all %s %s lookup %s\\n' "$4" "$5" "$6" "$8" >> $f; echo "ip $*" >> ${d}/calls; exit 0; fi
if [ "$1 $2 $3" = "rule del pref" ]; then grep -v "^$4:.* lookup $8$" $f > $f.new; mv $f.new $f; echo "ip $*" >> ${d}/calls; exit 0; fi
exit 1
`);
  const routing = tablesFiles(labVars(), topology()).find((f) => f.path === PATHS.routingConf)!.content;
  const failoverConf = failoverFiles(labVars()).find((f) => f.path === PATHS.failoverConf)!.content;
  put('routing.conf', routing);
  put('failover.conf', failoverConf);
  const script = put('edge-failover', scripts['edge-failover'].replace(/^export LC_ALL=C PATH=.*$/m, `export LC_ALL=C PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`));
  writeFileSync(join(d, 'elem'), '0x00000001');
  const switchLog = join(d, 'history', 'switches');
  const env = { ...process.env, EDGE_ROUTING_CONF: join(d, 'routing.conf'), EDGE_FAILOVER_CONF: join(d, 'failover.conf'), EDGE_RUN_DIR: run, EDGE_SWITCH_LOG: switchLog };
  const ef = (...args: string[]) => spawnSync('bash', [script, ...args], { env, encoding: 'utf8' });
  const cat = (f: string) => spawnSync('cat', [f], { encoding: 'utf8' }).stdout;
  const history = () => cat(switchLog).trim().split('\n').filter(Boolean);
  const probe = (wan: string, line: string) => writeFileSync(join(run, `${wan}.probe`), `${line}\n`);
  const preferred = () => ef('status').stdout.split('\n')[0];
  return {
    ef,
    cat,
    history,
    probe,
    preferred,
    switcher: (input: string) => spawnSync('bash', [script, 'switcher'], { env, input, encoding: 'utf8' }),
    /** The switcher fed by a shell command list (its lines, and whatever happens between them). */
    switcherFed: (producer: string) => spawnSync('bash', ['-c', `( ${producer} ) | bash ${script} switcher`], { env, encoding: 'utf8' }),
  };
}

describe('router-side scripts', () => {
  const files = readdirSync(ROUTER_DIR).filter((f) => f.endsWith('.sh'));

  it('src/router holds every program and the library, and nothing else that is shell', () => {
    expect(files.sort()).toEqual([...ROUTER_PROGRAMS.map((p) => `${p}.sh`), LIBRARY, PKG_LIBRARY].sort());
  });

  it.each(files)('src/router/%s is shellcheck-clean (every severity, sources followed) and valid bash', (f) => {
    const sc = spawnSync('shellcheck', ['-x', '-S', 'style', join(ROUTER_DIR, f)], { cwd: ROUTER_DIR, encoding: 'utf8' });
    expect(sc.error, 'shellcheck is missing: bash test/prereqs.sh').toBeUndefined();
    expect(sc.stdout + sc.stderr).toBe('');
    expect(sc.status).toBe(0);
    expect(spawnSync('bash', ['-n', join(ROUTER_DIR, f)], { encoding: 'utf8' }).stderr).toBe('');
  });

  it.each(Object.entries(scripts))('%s as installed (the library bundled in) is valid bash with set -u and a managed-by header', (_name, text) => {
    expect(spawnSync('bash', ['-n'], { input: text }).status).toBe(0);
    expect(text.split('\n')[0]).toBe('#!/bin/bash');
    expect(text).toContain('Managed by edge');
    expect(text).toMatch(/^set -u$/m);
    expect(text).not.toContain('lib.sh" #');
    expect(text).toContain(routerFile(LIBRARY).split('\n').slice(1).join('\n'));
  });

  it('the paths the programs default to are the ones edge installs and renders (paths.ts)', () => {
    const defaults = spawnSync('bash', ['-c', `PROG=t; . ${join(ROUTER_DIR, LIBRARY)}; printf '%s\\n' "$ROUTING_CONF" "$FAILOVER_CONF" "$RUN_DIR"`], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    expect(defaults.stdout.trim().split('\n')).toEqual([PATHS.routingConf, PATHS.failoverConf, PATHS.runDir]);
    expect(routerFile('edge-probe.sh')).toContain(`PROBE_AWK=\${EDGE_PROBE_AWK:-${PATHS.edgeProbeAwk}}`);
  });

  it('log: once to the journal — stderr alone under systemd (JOURNAL_STREAM is stderr), else logger and stderr', () => {
    const bin = join(dir, 'logbin');
    spawnSync('mkdir', ['-p', bin]);
    write('logbin/logger', `#!/bin/sh\necho "logger $*" >> ${dir}/logger-calls\n`);
    const err = join(dir, 'stderr');
    const script = `PROG=edge-routes; . ${join(ROUTER_DIR, LIBRARY)}; export PATH=${bin}:$PATH\nlog "rule added: 1000"\n`;
    const exec = (journalStream: string | undefined) => {
      writeFileSync(err, '');
      writeFileSync(join(dir, 'logger-calls'), '');
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.JOURNAL_STREAM;
      if (journalStream !== undefined) env.JOURNAL_STREAM = journalStream;
      const r = spawnSync('bash', ['-c', `exec 2>>${err}\n${script}`], { env, encoding: 'utf8' });
      expect(r.status).toBe(0);
      return { stderr: spawnSync('cat', [err], { encoding: 'utf8' }).stdout, logger: spawnSync('cat', [join(dir, 'logger-calls')], { encoding: 'utf8' }).stdout };
    };
    writeFileSync(err, '');
    const stream = spawnSync('stat', ['-L', '-c', '%d:%i', err], { encoding: 'utf8' }).stdout.trim();
    expect(stream).toMatch(/^[0-9]+:[0-9]+$/);
    expect(exec(stream)).toEqual({ stderr: 'rule added: 1000\n', logger: '' });
    expect(exec(undefined)).toEqual({ stderr: 'edge-routes: rule added: 1000\n', logger: 'logger -t edge-routes -- rule added: 1000\n' });
    expect(exec('1:2')).toEqual({ stderr: 'edge-routes: rule added: 1000\n', logger: 'logger -t edge-routes -- rule added: 1000\n' });
  });

  it('the ifupdown hook is valid sh and never fails ifup', () => {
    const hook = renderIfupdownHook({ script: PATHS.edgeRoutes });
    expect(spawnSync('sh', ['-n'], { input: hook }).status).toBe(0);
    expect(hook.trim().split('\n').at(-1)).toBe('exit 0');
  });

  it('the health check probes every target at once with the WAN\'s mark and source address (defects 8, 9)', () => {
    const h = scripts['edge-health'];
    expect(h).toContain('ping -n -q -c 1 -W "$PROBE_TIMEOUT" -m "$mark_dec" -I "$addr" "$t" >/dev/null 2>&1 &');
    expect(h).toContain('wait "$pid"');
    expect(h).not.toContain('-I "$IF"');
  });

  it('edge-probe: one long-running ping per target with the WAN\'s mark and source address, no process per probe', () => {
    const p = scripts['edge-probe'];
    expect(p).toContain('ping "-$fam" -n -D -O -i "$PROBE_INTERVAL" -m "$mark" -I "$addr" "$t" 2>/dev/null &');
    expect(p).toContain('read -r -t "$TICK" -u "$sleep_fd" _');
    expect(p).toContain('mawk -W interactive');
    expect(p).not.toMatch(/\bsleep \$/);
  });

  it('edge-failover switches with one transaction: the map element and the dead set, nothing else (defect 10)', () => {
    const f = scripts['edge-failover'];
    expect(f).toContain("printf -v tx 'flush map %s %s %s\\nadd element %s %s %s { \"%s\" : %s }\\n'");
    expect(f).toContain('flush set $NFT_FAMILY $NFT_TABLE $NFT_DEAD_SET');
    expect(f).toContain('nft -f - <<<"$tx"');
    expect(f).not.toMatch(/nft -f \/etc/);
  });

  it('edge-failover link: a missing track file starts as "0" (no fault), a decision edge-probe published is kept', () => {
    // keepalived's state is a lamp of edge-probe's decisions: before the first one, no fault.
    const bin = join(dir, 'link-bin');
    const run = join(dir, 'link-run');
    spawnSync('mkdir', ['-p', bin, run]);
    write('link-bin/ip', '#!/bin/sh\nexit 0\n');
    write('link-run/wan2.track', '1\n');
    write('link-routing.conf', tablesFiles(labVars(), topology()).find((f) => f.path === PATHS.routingConf)!.content);
    write('link-failover.conf', failoverFiles(labVars()).find((f) => f.path === PATHS.failoverConf)!.content);
    const script = write('link-edge-failover', scripts['edge-failover'].replace(/^export LC_ALL=C PATH=.*$/m, `export LC_ALL=C PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`));
    const env = { ...process.env, EDGE_ROUTING_CONF: join(dir, 'link-routing.conf'), EDGE_FAILOVER_CONF: join(dir, 'link-failover.conf'), EDGE_RUN_DIR: run };
    const r = spawnSync('bash', [script, 'link'], { env, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(run, 'wan1.track'), 'utf8')).toBe('0\n');
    expect(readFileSync(join(run, 'wan2.track'), 'utf8')).toBe('1\n');
  });

  it('edge-failover: level-triggered from edge-probe\'s decisions, whatever the order of notifications (nft, conntrack, ip stubbed)', () => {
    const { ef, cat, history, probe, preferred } = failoverSandbox(dir);
    const notify = (wan: string, state: string) => expect(ef('notify', 'INSTANCE', `edge_${wan}`, state, '100').status).toBe(0);
    const WAN1_DOWN = 'down 1796119000.500 0 of 3 targets answered within 1.2 s (1 needed): 192.0.2.1 1.3 s ago';

    probe('wan2', 'up 1796118990.000 3 of 3 targets answered (first measurement)');
    notify('wan2', 'MASTER');
    expect(preferred()).toBe('preferred=wan1'); // wan1 unknown: never switch on an unknown
    // edge-probe decided wan1 is down; keepalived's MASTER (stale, delivered after its FAULT) cannot undo it
    probe('wan1', WAN1_DOWN);
    notify('wan1', 'FAULT');
    notify('wan1', 'MASTER');
    expect(preferred()).toBe('preferred=wan2');
    expect(cat(join(dir, 'tx')).split('\n').slice(0, 4)).toEqual([
      'flush map inet edge preferred_wan',
      'add element inet edge preferred_wan { "lan0" : 0x2 }',
      'flush set inet edge dead_wans',
      'add element inet edge dead_wans { 0x1 }',
    ]);
    // TCP flows of the dead WAN stay (the forward chain resets them at their next packet); UDP and ICMP are re-pinned
    // the steering rules' view, in the same transaction: avoid WAN1 (to WAN2), WAN1 down
    expect(cat(join(dir, 'avoid'))).toBe('0x00000001 : 0x00000002');
    expect(cat(join(dir, 'down'))).toBe('0x00000001');
    const txs = cat(join(dir, 'tx'));
    expect(ef('sync').status).toBe(0);
    expect(cat(join(dir, 'tx'))).toBe(txs); // read back as applied: a sync that changes nothing writes nothing
    expect(cat(join(dir, 'calls'))).toContain('conntrack -D -f ipv4 --mark 0x1 -p udp');
    expect(cat(join(dir, 'calls'))).not.toMatch(/conntrack -D (-f \S+ )?--mark 0x1\n/);
    expect(cat(join(dir, 'rules'))).toBe('1040:\tfrom all iif lo lookup 102\n');
    expect(history()).toHaveLength(1);
    expect(history()[0]).toMatch(/^[0-9]+\.[0-9]{3} wan1 wan2 - wan1 down: 0 of 3 targets answered within 1\.2 s \(1 needed\): 192\.0\.2\.1 1\.3 s ago$/);
    notify('wan1', 'STOP');
    notify('wan1', 'BACKUP');
    expect(history()).toHaveLength(1);
    // back: edge-probe found it healthy for the rise period; the dead set empties
    probe('wan1', 'up 1796119010.500 3 of 3 targets answered, healthy without a break for 8.0 s');
    expect(ef('sync').status).toBe(0);
    expect(preferred()).toBe('preferred=wan1');
    expect(cat(join(dir, 'dead'))).toBe('');
    expect(cat(join(dir, 'avoid'))).toBe('');
    expect(cat(join(dir, 'down'))).toBe('');
    expect(cat(join(dir, 'rules'))).toBe('1040:\tfrom all iif lo lookup 101\n');
    expect(history()).toHaveLength(1); // a sync (after a ruleset load) is not a switch of its own
    probe('wan1', WAN1_DOWN);
    notify('wan1', 'FAULT');
    expect(history()).toHaveLength(2);
    expect(history()[1]).toMatch(/^[0-9]+\.[0-9]{3} wan1 wan2 [0-9]+\.[0-9] wan1 down: /);
    expect(ef('history').stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}wan1 -> wan2 {2}\(wan1 held [0-9.]+ s\) {2}wan1 down: /m);
    // A reload of the ruleset resets the map to WAN1 and empties the set; sync puts back what the decisions say.
    writeFileSync(join(dir, 'elem'), '0x00000001');
    writeFileSync(join(dir, 'dead'), '');
    expect(ef('sync').status).toBe(0);
    expect(preferred()).toBe('preferred=wan2');
    expect(cat(join(dir, 'dead'))).toBe('0x00000001');
    // Both down: keep what is there.
    probe('wan2', 'down 1796119020.000 wan2 has no carrier (link down)');
    notify('wan2', 'FAULT');
    expect(preferred()).toBe('preferred=wan2');
    const status = ef('status').stdout;
    expect(status).toMatch(/^wan1\.state=down$/m);
    expect(status).toMatch(/^wan1\.keepalived=FAULT$/m);
    expect(status).toMatch(/^wan2\.state=down$/m);
    expect(status).toMatch(/^wan1\.since=\d{4}-\d\d-\d\dT/m);
    expect(status).toMatch(/^switches=2$/m);
  }, 120_000);

  it('edge-failover switcher: acts on the decision line (the file comes after it), with one nft process once it has a record of the state', () => {
    const d = join(dir, 'switcher');
    spawnSync('mkdir', ['-p', d]);
    const { cat, history, probe, switcher } = failoverSandbox(d);
    const nftCalls = () => cat(join(d, 'nftcalls')).trim().split('\n');
    const applied = join(d, 'run', 'failover.applied');
    const sw = (input: string) => {
      spawnSync('rm', ['-f', join(d, 'nftcalls')]);
      const r = switcher(input);
      // stdin's end is the service's: the switcher logs it and exits 1 (systemd restarts edge-probe)
      expect(r.status, r.stderr).toBe(1);
      expect(cat(join(d, 'calls'))).toMatch(/log edge-probe's state machines are gone\n$/);
      return r;
    };
    // The files still say up: edge-probe prints its decision before it renames them into place.
    probe('wan1', 'up 1796119000.000 3 of 3 targets answered (first measurement)');
    probe('wan2', 'up 1796119000.000 3 of 3 targets answered (first measurement)');
    sw('wan1 is DOWN: 0 of 3 targets answered within 1.2 s (1 needed): 192.0.2.1 1.3 s ago\n');
    expect(cat(join(d, 'elem'))).toBe('0x00000002');
    expect(history()).toEqual([expect.stringMatching(/^[0-9.]+ wan1 wan2 - wan1 down: 0 of 3 targets answered/)]);
    expect(nftCalls()).toEqual(['nft list table inet edge', 'nft -f -']); // no record yet: the ruleset is listed
    expect(cat(applied)).toBe('wan2 0x1 1:2|1 - -\n');
    probe('wan1', 'down 1796119001.000 0 of 3 targets answered within 1.2 s (1 needed): 192.0.2.1 1.3 s ago');

    // With the record: the switch back is one nft process.
    sw('wan1 is UP: 3 of 3 targets answered, healthy without a break for 8.0 s\n');
    expect(cat(join(d, 'elem'))).toBe('0x00000001');
    expect(nftCalls()).toEqual(['nft -f -']);
    expect(history()).toHaveLength(2);
    expect(cat(applied)).toBe('wan1 - | - -\n');
    probe('wan1', 'up 1796119009.000 3 of 3 targets answered, healthy without a break for 8.0 s');

    // A record that is not as written (a write cut short) is not trusted: the ruleset is listed.
    writeFileSync(applied, 'wan2 0x');
    sw('wan1 is DOWN: wan1 has no carrier (link down)\n');
    expect(nftCalls()).toEqual(['nft list table inet edge', 'nft -f -']);
    expect(cat(join(d, 'elem'))).toBe('0x00000002');
    probe('wan1', 'down 1796119020.000 wan1 has no carrier (link down)');

    // A record the ruleset no longer matches (a load reset the map without the sync that follows
    // it): the periodic sync, which lists, puts back what the decisions say.
    writeFileSync(join(d, 'elem'), '0x00000001');
    writeFileSync(join(d, 'dead'), '');
    sw('beat wan1\n');
    expect(nftCalls()[0]).toBe('nft list table inet edge');
    expect(cat(join(d, 'elem'))).toBe('0x00000002');
    expect(history()).toHaveLength(3); // the decisions did not change: a re-sync is not a switch
  }, 60_000);

  it('edge-failover: a degraded WAN1 gives new flows to WAN2 only while WAN2 is up and good; both degraded, nothing moves; no flow is reset', () => {
    const d = join(dir, 'degraded');
    spawnSync('mkdir', ['-p', d]);
    const { ef, cat, history, probe, preferred, switcherFed } = failoverSandbox(d);
    const health = (wan: string, loss: string, rtt: string, good: 0 | 1) =>
      writeFileSync(join(d, 'run', `${wan}.health`), `pass 3/3 1796119000 0 100 10 0.2 ${loss} ${rtt} ${good}\n`);
    const DEGRADED = 'degraded 1796119000.000 loss 41 % > 30 % over the last 10 s (rtt 20 ms)';
    probe('wan1', 'up 1796118990.000 3 of 3 targets answered (first measurement)');
    probe('wan2', 'up 1796118990.000 3 of 3 targets answered (first measurement)');
    health('wan1', '0.0', '20', 1);
    health('wan2', '22.0', '20', 0); // lossy too: not good
    expect(ef('sync').status).toBe(0);
    expect(preferred()).toBe('preferred=wan1');
    // WAN1 degraded, WAN2 up but no better (not good): nothing moves
    probe('wan1', DEGRADED);
    health('wan1', '41.0', '20', 0);
    expect(ef('sync').status).toBe(0);
    expect(preferred()).toBe('preferred=wan1');
    expect(cat(join(d, 'avoid'))).toBe('');
    expect(history()).toEqual([]);
    // WAN2 good now: new flows (and the steering rules' fallback) move, at the switcher's next
    // periodic sync (no decision changed: WAN2's goodness did), recorded as a switch; WAN1 is not
    // dead, nothing is reset
    const good2 = `printf 'pass 3/3 1796119000 0 100 10 0.2 0.0 20 1\\n' > ${join(d, 'run', 'wan2.health')}`;
    expect(switcherFed(`echo 'beat wan1'; sleep 0.3; ${good2}; sleep 2.2; echo 'beat wan1'`).status).toBe(1);
    expect(preferred()).toBe('preferred=wan2');
    expect(cat(join(d, 'avoid'))).toBe('0x00000001 : 0x00000002');
    expect(cat(join(d, 'dead'))).toBe('');
    expect(cat(join(d, 'down'))).toBe('');
    expect(cat(join(d, 'calls'))).not.toMatch(/conntrack -D/);
    expect(history()).toEqual([expect.stringMatching(/^[0-9.]+ wan1 wan2 - wan1 degraded: loss 41 % > 30 % over the last 10 s \(rtt 20 ms\)$/)]);
    // WAN2 no longer good, but up: stay (no flip-flop on WAN2's goodness)
    health('wan2', '15.0', '20', 0);
    expect(ef('sync').status).toBe(0);
    expect(preferred()).toBe('preferred=wan2');
    expect(cat(join(d, 'avoid'))).toBe('0x00000001 : 0x00000002');
    // both degraded: nothing moves
    probe('wan2', 'degraded 1796119030.000 rtt 1200 ms > 1000 ms over the last 10 s (loss 0 %)');
    expect(ef('sync').status).toBe(0);
    expect(preferred()).toBe('preferred=wan2');
    // WAN2 down: back to the degraded WAN1, which at least works
    probe('wan2', 'down 1796119040.000 wan2 has no carrier (link down)');
    expect(ef('sync').status).toBe(0);
    expect(preferred()).toBe('preferred=wan1');
    expect(cat(join(d, 'down'))).toBe('0x00000002');
    // WAN1 up again: it is preferred; status shows each WAN's quality
    probe('wan1', 'up 1796119070.000 loss 0 % <= 10 % and rtt 20 ms <= 500 ms, without a break for 30.0 s');
    probe('wan2', 'up 1796119070.000 3 of 3 targets answered, healthy without a break for 8.0 s');
    health('wan1', '0.0', '20', 1);
    expect(ef('sync').status).toBe(0);
    expect(preferred()).toBe('preferred=wan1');
    expect(cat(join(d, 'avoid'))).toBe('');
    expect(ef('status').stdout).toMatch(/^wan1\.quality=0\.0 20 1$/m);
    expect(ef('status').stdout).toMatch(/^wan2\.quality=15\.0 20 0$/m);
  }, 60_000);

  it('edge-failover with translated IPv6: each family from its own probes, in one transaction; an IPv6 switch is recorded as IPv6', () => {
    const d = join(dir, 'v6');
    const bin = join(d, 'bin');
    const run = join(d, 'run');
    spawnSync('mkdir', ['-p', bin, run]);
    // A fake nft: elements kept in files (e4, e6: the maps' marks; d4, d6: the dead sets), listed as nft does.
    writeFileSync(join(bin, 'nft'), String.raw`#!/bin/bash
d=${d}
el() { [ -s "$d/$1" ] && printf '\t\telements = { %s }\n' "$(cat "$d/$1")"; }
if [ "$1 $2" = "list table" ]; then
  printf 'table inet edge {\n\tmap preferred_wan {\n\t\ttype ifname : mark\n\t\telements = { "lan0" : %s }\n\t}\n' "$(cat $d/e4)"
  printf '\tset dead_wans {\n\t\ttype mark\n'; el d4; printf '\t}\n'
  printf '\tmap preferred_wan6 {\n\t\ttype ifname : mark\n\t\telements = { "lan0" : %s }\n\t}\n' "$(cat $d/e6)"
  printf '\tset dead_wans6 {\n\t\ttype mark\n'; el d6; printf '\t}\n}\n'
  exit 0
fi
tx=$(cat); printf '%s\n--\n' "$tx" >> $d/tx
: > $d/d4; : > $d/d6
while read -r l; do
  [[ $l =~ preferred_wan\ \{\ \"lan0\"\ :\ 0x([0-9a-f]+) ]] && printf '0x%08x' "0x${'$'}{BASH_REMATCH[1]}" > $d/e4
  [[ $l =~ preferred_wan6\ \{\ \"lan0\"\ :\ 0x([0-9a-f]+) ]] && printf '0x%08x' "0x${'$'}{BASH_REMATCH[1]}" > $d/e6
  [[ $l =~ dead_wans\ \{\ 0x([0-9a-f]+) ]] && printf '0x%08x' "0x${'$'}{BASH_REMATCH[1]}" > $d/d4
  [[ $l =~ dead_wans6\ \{\ 0x([0-9a-f]+) ]] && printf '0x%08x' "0x${'$'}{BASH_REMATCH[1]}" > $d/d6
done <<<"$tx"
exit 0
`, { mode: 0o755 });
    writeFileSync(join(bin, 'conntrack'), `#!/bin/sh\necho "conntrack $*" >> ${d}/calls\n`, { mode: 0o755 });
    writeFileSync(join(bin, 'logger'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(bin, 'ip'), `#!/bin/sh\necho "ip $*" >> ${d}/calls\n`, { mode: 0o755 });
    writeFileSync(join(d, 'e4'), '0x00000001');
    writeFileSync(join(d, 'e6'), '0x00000001');
    const routing = tablesFiles(labVars(), topology()).find((f) => f.path === PATHS.routingConf)!.content;
    writeFileSync(join(d, 'routing.conf'), routing.replace("V6_LAN_ADDR=''", "V6_LAN_ADDR=fd00:10:1::1/64"));
    writeFileSync(join(d, 'failover.conf'), failoverFiles(labVars()).find((f) => f.path === PATHS.failoverConf)!.content);
    const script = join(d, 'edge-failover');
    writeFileSync(script, scripts['edge-failover'].replace(/^export LC_ALL=C PATH=.*$/m, `export LC_ALL=C PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin`));
    const switchLog = join(d, 'switches');
    const env = { ...process.env, EDGE_ROUTING_CONF: join(d, 'routing.conf'), EDGE_FAILOVER_CONF: join(d, 'failover.conf'), EDGE_RUN_DIR: run, EDGE_SWITCH_LOG: switchLog };
    const ef = (...args: string[]) => spawnSync('bash', [script, ...args], { env, encoding: 'utf8' });
    const probe = (m: string, line: string) => writeFileSync(join(run, `${m}.probe`), `${line}\n`);
    const cat = (f: string) => spawnSync('cat', [join(d, f)], { encoding: 'utf8' }).stdout;
    for (const m of ['wan1', 'wan2', 'wan1v6', 'wan2v6']) probe(m, 'up 1796119000.000 3 of 3 targets answered (first measurement)');

    // WAN1's IPv6 dies, its IPv4 works: IPv6 alone moves, its dead set tells WAN1's IPv6 TCP flows.
    probe('wan1v6', 'down 1796119010.000 0 of 3 targets answered within 1.2 s (1 needed): 2001:db8:ffff::1 1.3 s ago');
    const n1 = ef('notify', 'INSTANCE', 'edge_wan1', 'MASTER', '100');
    expect(n1.status, n1.stderr).toBe(0);
    expect([cat('e4'), cat('d4'), cat('e6'), cat('d6')], n1.stderr).toEqual(['0x00000001', '', '0x00000002', '0x00000001']);
    expect(cat('tx')).toContain('flush map inet edge preferred_wan6\nadd element inet edge preferred_wan6 { "lan0" : 0x2 }\nflush set inet edge dead_wans6\nadd element inet edge dead_wans6 { 0x1 }\n');
    // the steering rules' IPv6 view moves with it (WAN1 avoided, WAN1 down); IPv4's stays empty
    expect(cat('tx')).toContain('flush map inet edge avoid6\nflush set inet edge down6\nadd element inet edge avoid6 { 1 : 2 }\nadd element inet edge down6 { 1 }\n');
    expect(cat('tx')).not.toMatch(/add element inet edge (avoid|down) \{/);
    expect(cat('calls')).toContain('conntrack -D -f ipv6 --mark 0x1 -p udp');
    expect(cat('calls')).not.toContain('-f ipv4');
    expect(cat('calls')).toContain('ip -6 rule add pref 1040 iif lo lookup 102');
    const status = ef('status').stdout;
    expect(status).toMatch(/^preferred=wan1$/m);
    expect(status).toMatch(/^preferred6=wan2$/m);
    expect(status).toMatch(/^wan1\.v6\.state=down$/m);
    expect(status).toMatch(/^dead6=0x1$/m);
    const history = cat('switches').trim().split('\n');
    expect(history).toHaveLength(1);
    expect(history[0]).toMatch(/^[0-9.]+ wan1 wan2 - IPv6 wan1 down: 0 of 3 targets/);

    // Then IPv4 too, and both back: each record's held time counts from its own family's last record.
    probe('wan1', 'down 1796119020.000 wan1 has no carrier (link down)');
    expect(ef('sync').status).toBe(0); // a sync by hand (a new process, no decisions seen before): applied, not recorded
    expect(cat('e4')).toBe('0x00000002');
    probe('wan1', 'up 1796119030.000 3 of 3 targets answered, healthy without a break for 8.0 s');
    probe('wan1v6', 'up 1796119030.000 3 of 3 targets answered, healthy without a break for 8.0 s');
    expect(ef('notify', 'INSTANCE', 'edge_wan1', 'MASTER', '100').status).toBe(0);
    expect([cat('e4'), cat('d4'), cat('e6'), cat('d6')]).toEqual(['0x00000001', '', '0x00000001', '']);
    expect(cat('tx').split('--\n').at(-2), 'both families healthy: nothing avoided').not.toContain('add element inet edge avoid');
    const after = cat('switches').trim().split('\n');
    expect(after.slice(1)).toEqual([expect.stringMatching(/^[0-9.]+ wan2 wan1 - wan1 up: /), expect.stringMatching(/^[0-9.]+ wan2 wan1 [0-9]+\.[0-9] IPv6 wan1 up: /)]);
  }, 120_000);

});

function topology() {
  const r = resolveTopology(labVars(), freshRouter());
  if (!r.ok) throw new Error('unresolved');
  return r.topology;
}

/**
 * edge-routes against a real kernel, in a throwaway network namespace shaped like a lab router.
 * The state it leaves is read back with `ip -j`, parsed by the real parsers, and planned by the
 * tables task: the planner must find nothing to change. That is the proof that the script on the
 * router computes exactly what edge plans.
 */
function labNetns(extra: string, conf: string): Facts {
  const routes = write('edge-routes', scripts['edge-routes']);
  const script = `set -e
for p in "wan1 isp1" "wan2 isp2" "lan0 cli0" "mgmt0 mgm0"; do set -- $p; ip link add "$1" type veth peer name "$2"; ip link set "$1" up; ip link set "$2" up; done
ip link set lo up
ip addr add 198.18.0.11/24 dev mgmt0; ip addr add 198.51.100.10/29 dev wan1; ip addr add 203.0.113.10/29 dev wan2; ip addr add 10.1.0.1/24 dev lan0
ip route add default via 198.51.100.9 dev wan1 proto dhcp metric 1024
ip route add default via 203.0.113.9 dev wan2 proto static metric 2048
${extra}
export EDGE_ROUTING_CONF=${conf} EDGE_RUN_DIR=${dir}/run-routes
bash ${routes} reconcile 2>/dev/null
echo "reconcile=$?"
bash ${routes} reconcile 2>${dir}/second.log; echo "second=$?"
bash ${routes} check; echo "check=$?"
echo '${MARK} ip-link'; ip -j -d link show
echo '${MARK} ip-addr'; ip -j addr show
echo '${MARK} ip-route'; ip -j route show table all
echo '${MARK} ip-rule'; ip -j rule show
echo '${MARK} ip-rule-text'; ip rule show
echo '${MARK} end'
`;
  const r = inNetns(script);
  if (r.status !== 0) throw new Error(`netns script failed: ${r.stderr}`);
  const head = r.stdout.slice(0, r.stdout.indexOf(MARK));
  expect(head).toContain('reconcile=0');
  expect(head).toContain('second=0');
  expect(head).toContain('check=0');
  expect(spawnSync('cat', [join(dir, 'second.log')], { encoding: 'utf8' }).stdout).toBe(''); // nothing left to do
  const s = splitSections(r.stdout);
  const base = freshRouter();
  return {
    ...base,
    interfaces: parseInterfaces(s.get('ip-link'), s.get('ip-addr'), ''),
    routes: parseRoutes(s.get('ip-route')),
    rules: parseRules(s.get('ip-rule'), s.get('ip-rule-text')),
  };
}

// Each case makes a network namespace and runs edge-routes on a real kernel: seconds on a loaded machine.
describe.skipIf(!canNetns)('edge-routes on a real kernel computes what the tables task plans', { timeout: 120_000 }, () => {
  const runtime = (facts: Facts, vars = labVars()) =>
    tablesTask
      .plan({ host: 'r1', vars, facts, params: undefined })
      .changes.filter((c) => !c.summary.startsWith('create') && !c.summary.startsWith('update'));
  const conf = (vars = labVars()) => {
    const r = resolveTopology(vars, freshRouter());
    if (!r.ok) throw new Error('unresolved');
    return write(`routing-${Math.random().toString(36).slice(2)}.conf`, tablesFiles(vars, r.topology).find((f) => f.path === PATHS.routingConf)!.content);
  };

  it('both WANs up', () => {
    const f = labNetns('', conf());
    expect(f.rules.filter((r) => r.priority >= 1000 && r.priority < 1100)).toHaveLength(8);
    expect(runtime(f).map((c) => c.diff)).toEqual([]);
  });

  it('WAN1 without carrier: table 101 empty, no source rule for it', () => {
    const f = labNetns('ip link set isp1 down', conf());
    expect(f.routes.filter((r) => r.table === '101')).toEqual([]);
    expect(runtime(f)).toEqual([]);
  });

  it('stale state from an old lease and another gateway: replaced', () => {
    const f = labNetns(
      'ip rule add pref 1020 from 198.51.100.12 lookup 101; ip rule add pref 1050 from all lookup 101; ip route add table 101 default via 198.51.100.11 dev wan1 proto dhcp',
      conf(),
    );
    expect(f.rules.some((r) => r.src === '198.51.100.12' || r.priority === 1050)).toBe(false);
    expect(runtime(f)).toEqual([]);
  });

  /** A router's links in a scratch namespace: WAN1 (DHCP default), WAN2 and the LAN, each a veth. */
  const ROUTER_LINKS = `for p in "wan1 isp1" "wan2 isp2" "lan0 cli0"; do set -- $p; ip link add "$1" type veth peer name "$2"; ip link set "$1" up; ip link set "$2" up; done
ip link set lo up
ip addr add 198.51.100.10/29 dev wan1; ip addr add 203.0.113.10/29 dev wan2; ip addr add 10.1.0.1/24 dev lan0
ip route add default via 198.51.100.9 dev wan1 proto dhcp metric 1024
`;

  it('monitor: restores a removed rule by itself, and leaves no ip monitor behind when stopped', () => {
    const routes = write('edge-routes-mon', scripts['edge-routes']);
    const script = `set -e
${ROUTER_LINKS}ip route add default via 203.0.113.9 dev wan2 proto static metric 2048
export EDGE_ROUTING_CONF=${conf()} EDGE_RUN_DIR=${dir}/run-mon
bash ${routes} monitor 2>/dev/null & M=$!
for i in $(seq 50); do ip rule show | grep -q '^1010:' && break; sleep 0.1; done
ip rule del pref 1010
for i in $(seq 50); do sleep 0.1; ip rule show | grep -q '^1010:' && break; done
ip rule show | grep -c '^1010:' | sed 's/^/restored=/'
C=$(pgrep -P "$M" -x ip)
echo "child=\${C:+yes}"
kill -TERM "$M"; wait "$M" && echo "exit=0" || echo "exit=$?"
sleep 0.3
st=$(ps -o stat= -p "$C" 2>/dev/null || true)
case "$st" in '' | Z*) echo orphan=no ;; *) echo orphan=yes; kill "$C" ;; esac # ended (a zombie until init reaps it)
`;
    const r = inNetns(script);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('restored=1');
    expect(r.stdout).toContain('child=yes');
    expect(r.stdout).toContain('exit=0');
    expect(r.stdout).toContain('orphan=no');
  });

  it('monitor: stopped at any moment (in its first reconcile too), it exits 0 having reaped every child itself', () => {
    // A stop is over when the script exits: nothing of it is left for systemd's final SIGKILL.
    const routes = write('edge-routes-stop', scripts['edge-routes']);
    const script = `set -e
${ROUTER_LINKS}export EDGE_ROUTING_CONF=${conf()} EDGE_RUN_DIR=${dir}/run-stop
for d in 0.05 0.1 0.15 0.2 0.3 0.5 0.8 1.2; do
  bash ${routes} monitor 2>/dev/null & M=$!
  sleep "$d"
  kids=$(pgrep -P "$M" | paste -sd' ' || true)
  kill -TERM "$M"; if wait "$M"; then rc=0; else rc=$?; fi
  left=$(for k in $kids; do ps -o pid= -p "$k" || true; done | wc -w)
  echo "after $d s: exit=$rc left=$left"
done
`;
    const r = inNetns(script);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(8);
    for (const l of lines) expect(l).toMatch(/: exit=0 left=0$/);
  }, 120_000);

  it('a static gateway from the inventory, and WAN2 without an address', () => {
    const vars = labVars({ edge_wan1_gateway: '198.51.100.14' });
    const f = labNetns('ip addr flush dev wan2', conf(vars));
    expect(f.routes.find((r) => r.table === '101')?.gateway).toBe('198.51.100.14');
    expect(runtime(f, vars)).toEqual([]);
  });
});

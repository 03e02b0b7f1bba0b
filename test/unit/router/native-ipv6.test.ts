import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Native IPv6's one rule (lib.sh's native_choice: which LAN prefixes hosts may use for new flows)
 * and how a choice reaches radvd (radvd_follow: the file copied in place, radvd told by SIGHUP),
 * run by bash from the library itself.
 */
const LIB = fileURLToPath(new URL('../../../src/router/lib.sh', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'edge-native6-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bash(script: string, env: Record<string, string> = {}) {
  const r = spawnSync('bash', ['-c', `PROG=test; . ${JSON.stringify(LIB)}; ${script}`], { env: { ...process.env, ...env }, encoding: 'utf8' });
  return { out: r.stdout.trim(), err: r.stderr, status: r.status };
}

const choice = (want: string, down: string, prefer: 'one' | 'both') =>
  bash(`M1=0x1 M2=0x2 V6_LAN_PREFER=${prefer}; native_choice ${JSON.stringify(want)} ${JSON.stringify(down)}; echo "$CHOICE"`).out;

describe('native_choice: the prefixes hosts are told to use', () => {
  it('failover (one): only the prefix of the WAN new flows use; a down WAN never, whatever the map says', () => {
    expect(choice('wan1', '', 'one')).toBe('wan1');
    expect(choice('wan2', '', 'one')).toBe('wan2');
    expect(choice('wan1', '1', 'one')).toBe('wan2');
    expect(choice('wan2', '2', 'one')).toBe('wan1');
    // both down: nothing better to tell hosts; the map's WAN stays
    expect(choice('wan2', '1,2', 'one')).toBe('wan2');
    // no decision yet (the map missing): WAN1's
    expect(choice('', '', 'one')).toBe('wan1');
  });

  it('balance (both): both prefixes unless one WAN is down', () => {
    expect(choice('wan1', '', 'both')).toBe('both');
    expect(choice('wan1', '1', 'both')).toBe('wan2');
    expect(choice('wan1', '2', 'both')).toBe('wan1');
    expect(choice('wan1', '1 2', 'both')).toBe('both');
  });
});

describe('radvd_follow: the chosen file in place, radvd reloaded once per change', () => {
  const conf = join(dir, 'etc');
  const run = join(dir, 'run');
  mkdirSync(conf, { recursive: true });
  mkdirSync(run, { recursive: true });
  for (const c of ['wan1', 'wan2', 'both']) writeFileSync(join(conf, `radvd-${c}.conf`), `# ${c}\n`);
  const env = { EDGE_CONF_DIR: conf, EDGE_RUN_DIR: run };

  it('copies and reloads on a change, does nothing without one, and says when no radvd runs', () => {
    // a stand-in radvd: counts its SIGHUPs
    const hups = join(dir, 'hups');
    const daemon = spawnSync('bash', ['-c', `(trap 'echo hup >> ${hups}' HUP; while :; do sleep 0.05; done) >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' });
    const pid = daemon.stdout.trim();
    try {
      writeFileSync(join(run, 'radvd.pid'), `${pid}\n`);
      const first = bash('radvd_follow wan2; echo "rc=$?"', env);
      expect(first.out).toBe('rc=0');
      expect(first.err).toContain("new IPv6 LAN flows on wan2's prefix (radvd reloaded)");
      expect(readFileSync(join(run, 'radvd.conf'), 'utf8')).toBe('# wan2\n');
      expect(readFileSync(join(run, 'radvd.choice'), 'utf8')).toBe('wan2\n');
      expect(bash('radvd_follow wan2; echo "rc=$?"', env)).toMatchObject({ out: 'rc=0', err: '' });
      expect(bash('radvd_follow both; echo "rc=$?"', env).err).toContain("both WANs' prefixes");
      spawnSync('sleep', ['0.3']);
      expect(readFileSync(hups, 'utf8').trim().split('\n')).toHaveLength(2);
    } finally {
      spawnSync('kill', [pid]);
    }
    // radvd gone (a pid no process has): the file still follows, and the caller learns no one was told
    writeFileSync(join(run, 'radvd.pid'), '999999999\n');
    expect(bash('radvd_follow wan1; echo "rc=$?"', env).out).toBe('rc=2');
    expect(readFileSync(join(run, 'radvd.conf'), 'utf8')).toBe('# wan1\n');
  });
});

describe('radvd_conf: the advertisements follow a prefix the router followed (edge-routes, RUN_DIR/prefix6)', () => {
  const conf = join(dir, 'etc-pd');
  const run = join(dir, 'run-pd');
  mkdirSync(conf, { recursive: true });
  mkdirSync(run, { recursive: true });
  const rendered = '# wan1\ninterface lan0 {\n\tAdvSendAdvert on;\n\tprefix 2001:db8:11:100::/64 {\n\t\tAdvOnLink on;\n\t};\n\tprefix 2001:db8:21:100::/64 {\n\t\tAdvOnLink on;\n\t};\n};\n';
  writeFileSync(join(conf, 'radvd-wan1.conf'), rendered);
  const env = { EDGE_CONF_DIR: conf, EDGE_RUN_DIR: run };
  const vars = 'V6_PD1=2001:db8:11:100::/56 V6_SUB1=2001:db8:11:100::/64 V6_PD2=2001:db8:21:100::/56 V6_SUB2=2001:db8:21:100::/64';

  it('is the rendered file while the rendered prefixes are in use', () => {
    rmSync(join(run, 'prefix6'), { force: true });
    expect(bash(`${vars}; radvd_conf wan1`, env).out).toBe(rendered.trim());
  });

  it('announces the new subnet in place of the old, and every earlier one once more, deprecated', () => {
    writeFileSync(join(run, 'prefix6'), 'wan1 2001:db8:11:100::/56 2001:db8:13:100::/56 2001:db8:11:100::/64 2001:db8:13:100::/64 2001:db8:12:100::/64\n');
    const out = bash(`${vars}; radvd_conf wan1`, env).out;
    expect(out).toContain('\tprefix 2001:db8:13:100::/64 {\n\t\tAdvOnLink on;\n\t};');
    expect(out).toContain('\tprefix 2001:db8:21:100::/64 {');
    for (const old of ['2001:db8:11:100::/64', '2001:db8:12:100::/64'])
      expect(out).toContain(`\tprefix ${old} {\n\t\tAdvOnLink on;\n\t\tAdvAutonomous on;\n\t\tAdvPreferredLifetime 0;`);
    expect(out.endsWith('\t};\n};')).toBe(true);
    // radvd itself reads it
    writeFileSync(join(run, 'out.conf'), `${out}\n`);
    const check = spawnSync('radvd', ['--configtest', '--config', join(run, 'out.conf')], { encoding: 'utf8' });
    if (!check.error) expect(check.status, check.stderr).toBe(0);
  });

  it('ignores a record made under another routing.conf (a run rendered the prefix since)', () => {
    writeFileSync(join(run, 'prefix6'), 'wan1 2001:db8:99:100::/56 2001:db8:13:100::/56 2001:db8:99:100::/64 2001:db8:13:100::/64\n');
    expect(bash(`${vars}; radvd_conf wan1`, env).out).toBe(rendered.trim());
  });
});

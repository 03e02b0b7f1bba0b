import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NATIVE_CHOICES, renderRadvdConf, renderRadvdNativeConf, renderRadvdUnit } from '../../../src/render/radvd.js';
import { has } from '../../fixtures/host-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-radvd-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** radvd's own parser is the oracle for the syntax. */
function configtest(text: string): { status: number | null; out: string } {
  const f = join(dir, `radvd-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(f, text);
  const r = spawnSync('radvd', ['--configtest', '--config', f], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const prefixes = ['2001:db8:11:100::/64', '2001:db8:21:100::/64'] as const;
const native = Object.fromEntries(NATIVE_CHOICES.map((choice) => [choice, renderRadvdNativeConf({ lan: 'lan0', prefixes, choice })]));

/** The prefixes a file announces with preferred lifetime 0. */
const deprecated = (text: string) => [...text.matchAll(/prefix (\S+) \{[^}]*AdvPreferredLifetime 0;/g)].map((m) => m[1]);

describe('radvd in native IPv6 mode (RFC 8475): one file per choice of prefix', () => {
  it('announces both prefixes for SLAAC, deprecating the one hosts must not choose for new flows', () => {
    expect(deprecated(native.wan1!)).toEqual([prefixes[1]]);
    expect(deprecated(native.wan2!)).toEqual([prefixes[0]]);
    expect(deprecated(native.both!)).toEqual([]);
    for (const text of Object.values(native)) for (const p of prefixes) expect(text).toContain(`prefix ${p} {\n\t\tAdvOnLink on;\n\t\tAdvAutonomous on;`);
  });

  it('refuses a value that is not a prefix or an interface name', () => {
    expect(() => renderRadvdNativeConf({ lan: 'lan0', prefixes: ['2001:db8::/64 { };', prefixes[1]], choice: 'wan1' })).toThrow(/refusing/);
    expect(() => renderRadvdNativeConf({ lan: 'lan0 {', prefixes, choice: 'wan1' })).toThrow();
  });

  it('the unit chooses the file before radvd starts; translated mode reads its one file', () => {
    const unit = renderRadvdUnit({ conf: '/run/edge/radvd.conf', pidFile: '/run/edge/radvd.pid', choose: { program: '/usr/local/sbin/edge-routes', record: '/run/edge/radvd.choice' } });
    expect(unit).toContain('ExecStartPre=/usr/local/sbin/edge-routes radvd\nExecStart=/usr/sbin/radvd --nodaemon --config /run/edge/radvd.conf');
    expect(unit).toContain('ExecStopPost=/bin/rm -f /run/edge/radvd.conf /run/edge/radvd.choice\n');
    expect(unit).not.toContain('ConditionPathExists');
    const translated = renderRadvdUnit({ conf: '/etc/edge/radvd.conf', pidFile: '/run/edge/radvd.pid' });
    expect(translated).toContain('ConditionPathExists=/etc/edge/radvd.conf\n\n[Service]');
    expect(translated).not.toContain('ExecStartPre');
    expect(translated).not.toContain('ExecStopPost');
  });

  it.skipIf(!has('radvd'))('radvd --configtest accepts every file', () => {
    for (const text of [...Object.values(native), renderRadvdConf({ lan: 'lan0', prefix: 'fd00:10:1::/64' })]) {
      const r = configtest(text);
      expect(r.out).toMatch(/syntax ok/);
      expect(r.status).toBe(0);
    }
  });
});

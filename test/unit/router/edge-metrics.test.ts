import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderMetricsConf } from '../../../src/render/conf.js';
import { routerProgram } from '../../../src/render/router-programs.js';
import { has } from '../../fixtures/host-tools.js';
import { catalogProblems, parseSamples, readCatalog } from '../../fixtures/metrics-catalog.js';

/**
 * edge-metrics, run as it is installed (the library bundled), against a router's files laid out in
 * a scratch directory: the prober's decisions and health, the switch log, a confirmed run and a
 * pending one. What it writes must pass `promtool check metrics` and follow monitoring/metrics.md
 * name for name, type for type, label for label. (The lab test runs it on real routers.)
 */

const catalog = readCatalog();
let dir: string;
const at = (p: string) => join(dir, p);

const env = () => ({
  ...process.env,
  EDGE_ROUTING_CONF: at('routing.conf'),
  EDGE_FAILOVER_CONF: at('failover.conf'),
  EDGE_METRICS_CONF: at('metrics.conf'),
  EDGE_RUN_DIR: at('run'),
  EDGE_VAR_DIR: at('var'),
});

function writeOnce(): { text: string; status: number | null; stderr: string } {
  const r = spawnSync('bash', [at('edge-metrics'), 'once'], { encoding: 'utf8', env: env() });
  let text = '';
  try {
    text = readFileSync(at('textfile/edge.prom'), 'utf8');
  } catch {}
  return { text, status: r.status, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edge-metrics-'));
  for (const d of ['run', 'var/snapshots/20261206T000000Z-aaaa', 'var/snapshots/20261206T001000Z-bbbb', 'textfile']) mkdirSync(at(d), { recursive: true });
  writeFileSync(at('edge-metrics'), routerProgram('edge-metrics'));
  writeFileSync(at('routing.conf'), "WAN1_IF='wan1'\nWAN2_IF='wan2'\nM1='0x1'\nM2='0x2'\nNFT_FAMILY='inet'\nNFT_TABLE='edgeunittest'\nNFT_MAP='preferred_wan'\n");
  writeFileSync(at('failover.conf'), `SWITCH_LOG='${at('switches')}'\n`);
  writeFileSync(at('a.conf'), 'one\n');
  writeFileSync(
    at('metrics.conf'),
    renderMetricsConf({
      textfile: at('textfile/edge.prom'),
      interval: 5,
      proberUnit: 'edge-probe.service',
      switcherUnits: ['keepalived.service'],
      managedFiles: [at('a.conf'), at('absent.conf')],
      appliedFile: at('var/metrics.applied'),
    }),
  );
  const now = Math.floor(Date.now() / 1000);
  writeFileSync(at('run/wan1.probe'), `down ${now - 30}.250 no carrier\n`);
  writeFileSync(at('run/wan1.health'), `fail 0/3 ${now} 7 100 20 1.5 - - 0\n`);
  writeFileSync(at('run/wan2.probe'), `up ${now - 3600}.000 3 of 3 targets answered\n`);
  writeFileSync(at('run/wan2.health'), `pass 3/3 ${now} 0 200 0 2.25 0.9 12 1\n`);
  writeFileSync(
    at('switches'),
    [
      `${now - 4000}.1 none wan1 - wan1 up: 3 of 3 targets answered (first measurement)`,
      `${now - 30}.2 wan1 wan2 3970.1 wan1 down: wan1 has no carrier (link down)`,
    ].join('\n') + '\n',
  );
  writeFileSync(at('var/snapshots/20261206T000000Z-aaaa/state'), 'confirmed\n');
  writeFileSync(at('var/snapshots/20261206T001000Z-bbbb/state'), 'applied\n');
  writeFileSync(at('var/snapshots/20261206T001000Z-bbbb/deadline'), `${new Date((now - 90) * 1000).toISOString().replace(/\.\d+Z$/, 'Z')}\n`);
  writeFileSync(at('var/pending'), '20261206T001000Z-bbbb\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('edge-metrics', () => {
  it('writes the failover state as the metrics list names it', () => {
    const r = writeOnce();
    expect(r.status, r.stderr).toBe(0);
    const s = parseSamples(r.text);
    expect(s.get('edge_wan_state{wan="wan1",family="ipv4",state="down"}')).toBe('1');
    expect(s.get('edge_wan_state{wan="wan1",family="ipv4",state="up"}')).toBe('0');
    expect(s.get('edge_wan_state{wan="wan2",family="ipv4",state="up"}')).toBe('1');
    expect(Number(s.get('edge_wan_state_age_seconds{wan="wan1",family="ipv4"}'))).toBeGreaterThanOrEqual(29);
    expect(s.get('edge_wan_probe_failures{wan="wan1",family="ipv4"}')).toBe('7');
    expect(s.get('edge_wan_probes_lost_total{wan="wan1",family="ipv4"}')).toBe('20');
    expect(s.get('edge_wan_probe_rtt_seconds_sum{wan="wan2",family="ipv4"}')).toBe('2.25');
    expect(s.get('edge_wan_probe_rtt_seconds_count{wan="wan2",family="ipv4"}')).toBe('200');
    // the quality window: judged on wan2 (0.9 % and 12 ms, good), not yet on wan1
    expect(s.get('edge_wan_window_loss_ratio{wan="wan2",family="ipv4"}')).toBe('0.009');
    expect(s.get('edge_wan_window_rtt_seconds{wan="wan2",family="ipv4"}')).toBe('0.012');
    expect(s.get('edge_wan_quality_good{wan="wan2",family="ipv4"}')).toBe('1');
    expect(s.get('edge_wan_quality_good{wan="wan1",family="ipv4"}')).toBe('0');
    expect(s.has('edge_wan_window_loss_ratio{wan="wan1",family="ipv4"}')).toBe(false);
    expect(s.get('edge_switches_total{wan="wan2",reason="down"}')).toBe('1');
    expect(s.get('edge_switches_total{wan="wan1",reason="start"}')).toBe('1');
    expect(s.get('edge_switches_total{wan="wan1",reason="recovered"}')).toBe('0');
    expect(s.get('edge_preferred_wan{wan="wan1"}')).toBe('0');
    expect(s.get('edge_preferred_wan{wan="wan2"}')).toBe('0');
    expect([...s.keys()].find((k) => k.startsWith('edge_applied_info{'))).toMatch(/^edge_applied_info\{run_id="20261206T000000Z-aaaa",hash="[0-9a-f]{16}"\}$/);
    expect(s.get('edge_drift_files')).toBe('0');
    expect(s.get('edge_run_pending')).toBe('1');
    expect(Number(s.get('edge_run_pending_past_deadline_seconds'))).toBeGreaterThanOrEqual(89);
    expect(s.get('edge_prober_up')).toBe('0');
  }, 60_000);

  it('follows monitoring/metrics.md: every name listed, with its type and labels', () => {
    expect(catalogProblems(writeOnce().text, catalog)).toEqual([]);
  }, 60_000);

  it.skipIf(!has('promtool'))('passes promtool check metrics', () => {
    const { text } = writeOnce();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 60_000);

  it('counts a managed file changed since the applied run as drift', () => {
    writeOnce();
    writeFileSync(at('a.conf'), 'changed by hand\n');
    expect(parseSamples(writeOnce().text).get('edge_drift_files')).toBe('1');
    writeFileSync(at('a.conf'), 'one\n');
    expect(parseSamples(writeOnce().text).get('edge_drift_files')).toBe('0');
  }, 120_000);

  it('as a service (one process, sums kept between writes): a change is seen at the next write, a file made absent too', async () => {
    writeOnce();
    const conf = readFileSync(at('metrics.conf'), 'utf8');
    writeFileSync(at('metrics-1s.conf'), conf.replace(/^INTERVAL=.*$/m, "INTERVAL='1'"));
    const child = spawn('bash', [at('edge-metrics'), 'run'], { env: { ...env(), EDGE_METRICS_CONF: at('metrics-1s.conf') }, stdio: 'ignore' });
    /** The drift of the first write that starts after now (the file's timestamp sample moves on). */
    const nextDrift = async () => {
      const after = Math.floor(Date.now() / 1000) + 1;
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 200));
        const s = parseSamples(readFileSync(at('textfile/edge.prom'), 'utf8'));
        if (Number(s.get('edge_metrics_last_write_timestamp_seconds')) >= after) return s.get('edge_drift_files');
      }
      throw new Error('edge-metrics run wrote nothing for 20 s');
    };
    try {
      expect(await nextDrift()).toBe('0');
      writeFileSync(at('a.conf'), 'changed by hand\n');
      expect(await nextDrift()).toBe('1');
      writeFileSync(at('a.conf'), 'one\n');
      expect(await nextDrift()).toBe('0');
      rmSync(at('a.conf'));
      expect(await nextDrift()).toBe('1');
      writeFileSync(at('a.conf'), 'one\n');
      expect(await nextDrift()).toBe('0');
    } finally {
      child.kill();
    }
  }, 120_000);
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PATHS, UNITS } from '../../../src/tasks/paths.js';
import { has } from '../../fixtures/host-tools.js';
import { catalogProblems, MONITORING_DIR, parseSamples, sample } from '../../fixtures/metrics-catalog.js';
import { edge } from '../edge-cli.js';
import { hostState } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';
import { healthyIsps, promtool, report, runPlaybook, sleep, waitSettled } from './helpers.js';

/**
 * Issue 25 on lab r1: edge's metrics as Prometheus sees them. The host scrapes r1's node_exporter
 * over the lab's management network (198.18.K.0/24, edge's ruleset accepts the management
 * interface), checks the scrape with promtool, cuts WAN1 for real and watches the state, the
 * preferred WAN and the switch counter move, then evaluates the shipped alert rules against the
 * scraped series (promtool test rules, the scrapes as the input series). Last, a rollback takes
 * back everything the metrics run added: node_exporter's enablement, edge-metrics and its files.
 */

const router = 'r1';
const metricsOff = ['-e', '{"edge_metrics": false}'];

interface Scrape {
  text: string;
  s: Map<string, string>;
  /** When edge-metrics wrote the file this scrape served. */
  written: number;
}

async function scrape(lab: Lab): Promise<Scrape> {
  const res = await fetch(`http://${lab.router(router).mgmt.address}:9100/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  const text = await res.text();
  const s = parseSamples(text);
  return { text, s, written: sample(s, 'edge_metrics_last_write_timestamp_seconds') ?? 0 };
}

/** Scrapes until `done` holds for one (polled every second; edge-metrics writes every 5 s). */
async function scrapeUntil(lab: Lab, done: (x: Scrape) => boolean, timeoutMs: number, seen: Scrape[] = []): Promise<Scrape> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const x = await scrape(lab);
    if (!seen.length || seen.at(-1)!.written !== x.written) seen.push(x);
    if (done(x)) return x;
    if (Date.now() > until) throw new Error(`timed out; last scrape:\n${edgeLines(x.text)}`);
    await sleep(1_000);
  }
}

/** The edge_ families of a scrape (HELP, TYPE and samples), as node_exporter served them. */
const edgeLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => /^(# (HELP|TYPE) )?edge_/.test(l))
    .join('\n') + '\n';

/** hostState without nftables' packet counters (they move with the probes' traffic). */
const hostFiles = async (lab: Lab) => (await hostState(lab, router)).replace(/counter packets \d+ bytes \d+/g, 'counter');

/** What rollback must restore beyond hostState (which covers /etc, /usr/local, the kernel's state). */
async function metricsState(lab: Lab): Promise<string> {
  const units = [UNITS.nodeExporter, UNITS.edgeMetrics].join(' ');
  const r = await lab.run(router, [
    'bash',
    '-c',
    `for u in ${units}; do echo "$u $(systemctl is-enabled $u 2>/dev/null) $(systemctl is-active $u 2>/dev/null)"; done; ls -l ${PATHS.metricsTextfile} ${PATHS.metricsApplied} 2>&1 || true`,
  ]);
  return r.stdout;
}

describe.skipIf(!isRoot || !has('promtool'))('metrics: node_exporter scraped on a lab router, a WAN cut, the alert rules (r1)', () => {
  let lab: Lab;
  let before: { host: string; metrics: string };
  let runId: string;
  const scrapes: { healthy?: Scrape; cut?: Scrape } = {};

  beforeAll(async () => {
    lab = await ensureLab();
    await healthyIsps(lab, router);
    // The state the metrics run starts from: edge's failover without metrics, and node_exporter
    // installed but stopped and disabled (as an operator may keep it), so the run has to enable it.
    const off = await runPlaybook(lab, [router], ...metricsOff);
    expect(off.code, off.stderr.slice(-3000)).toBe(0);
    await lab.run(router, ['systemctl', 'disable', '--now', '--quiet', UNITS.nodeExporter]);
    before = { host: await hostFiles(lab), metrics: await metricsState(lab) };
    expect(before.metrics).toContain(`${UNITS.nodeExporter} disabled inactive`);
    expect(before.metrics).toContain(`'${PATHS.metricsTextfile}': No such file`);
    const on = await runPlaybook(lab, [router]);
    expect(on.code, on.stderr.slice(-3000)).toBe(0);
    runId = on.result.runId;
    await waitSettled(lab, router);
  }, 300_000);

  afterAll(async () => {
    await healthyIsps(lab, router);
    // node_exporter as the lab image has it (the rollback put back the state this file made).
    await lab.run(router, ['systemctl', 'enable', '--now', '--quiet', UNITS.nodeExporter]);
  });

  it('after apply: node_exporter serves the textfile; promtool check metrics passes; the names are the list', async () => {
    // The first writes may predate the run's confirmation (edge-metrics starts during the apply).
    const applied = (y: Scrape) => sample(y.s, 'edge_applied_info', { run_id: runId }) === 1;
    const x = await scrapeUntil(
      lab,
      (y) => applied(y) && sample(y.s, 'edge_wan_state', { wan: 'wan1', state: 'up' }) === 1 && sample(y.s, 'edge_preferred_wan', { wan: 'wan1' }) === 1,
      60_000,
    );
    scrapes.healthy = x;
    expect(sample(x.s, 'node_textfile_scrape_error')).toBe(0);
    const file = await lab.run(router, ['cat', PATHS.metricsTextfile]);
    promtool(['check', 'metrics'], file.stdout);
    promtool(['check', 'metrics'], edgeLines(x.text));
    expect(catalogProblems(edgeLines(x.text))).toEqual([]);
    expect(sample(x.s, 'edge_prober_up')).toBe(1);
    expect(sample(x.s, 'edge_switcher_up')).toBe(1);
    expect(sample(x.s, 'edge_run_pending')).toBe(0);
    expect(sample(x.s, 'edge_drift_files')).toBe(0);
  }, 120_000);

  it('a WAN1 cut: state down, preferred WAN2 and one more switch to wan2 for "down", in the scrapes one write apart at most', async () => {
    const base = scrapes.healthy!;
    const switchesBefore = sample(base.s, 'edge_switches_total', { wan: 'wan2', reason: 'down' }) ?? NaN;
    const seen: Scrape[] = [];
    await lab.fault(router, 'wan1', { kind: 'upstream-cut' });
    const cut = Date.now();
    const down = (y: Scrape) => sample(y.s, 'edge_wan_state', { wan: 'wan1', state: 'down' }) === 1;
    const preferred2 = (y: Scrape) => sample(y.s, 'edge_preferred_wan', { wan: 'wan2' }) === 1;
    const counted = (y: Scrape) => sample(y.s, 'edge_switches_total', { wan: 'wan2', reason: 'down' }) === switchesBefore + 1;
    const x = await scrapeUntil(lab, (y) => down(y) && preferred2(y) && counted(y), 90_000, seen);
    scrapes.cut = x;
    const first = (f: (y: Scrape) => boolean) => seen.findIndex(f);
    report('metrics cut', `writes seen: ${seen.length}; first write with wan1 down: #${first(down)}, preferred wan2: #${first(preferred2)}, switch counted: #${first(counted)}; all three ${((Date.now() - cut) / 1000).toFixed(1)} s after the cut`);
    // The prober decides, then the switcher switches and logs: the switch is never seen before the state.
    expect(first(down)).toBeLessThanOrEqual(first(preferred2));
    // The map and the switch log change within one write of each other.
    expect(Math.abs(first(preferred2) - first(counted))).toBeLessThanOrEqual(1);
    expect(sample(x.s, 'edge_wan_state', { wan: 'wan1', state: 'up' })).toBe(0);
    expect(sample(x.s, 'edge_preferred_wan', { wan: 'wan1' })).toBe(0);
    expect(sample(x.s, 'edge_wan_probe_failures', { wan: 'wan1', family: 'ipv4' })).toBeGreaterThan(0);
    expect(sample(x.s, 'edge_wan_probes_lost_total', { wan: 'wan1', family: 'ipv4' })).toBeGreaterThan(sample(base.s, 'edge_wan_probes_lost_total', { wan: 'wan1', family: 'ipv4' }) ?? Infinity);
    promtool(['check', 'metrics'], (await lab.run(router, ['cat', PATHS.metricsTextfile])).stdout);
    promtool(['check', 'metrics'], edgeLines(x.text));
  }, 150_000);

  it('the shipped alert rules on the scraped series: nothing fires while healthy; EdgeWanDown for wan1 after 5 minutes of the cut, and nothing else', () => {
    const { healthy, cut } = scrapes;
    expect(healthy && cut, 'the scrapes of the two tests above').toBeTruthy();
    // Five minutes of the healthy scrape, then ten of the cut one, as Prometheus would have stored
    // them (a scrape a minute, with the labels a scrape adds).
    const keys = new Set([...healthy!.s.keys(), ...cut!.s.keys()].filter((k) => k.startsWith('edge_')));
    const series = [...keys].map((k) => {
      const v = (s: Map<string, string>) => s.get(k) ?? '_';
      const labelled = k.includes('{') ? k.replace('{', '{instance="r1",job="node",') : `${k}{instance="r1",job="node"}`;
      return { series: labelled, values: [...Array(5).fill(v(healthy!.s)), ...Array(10).fill(v(cut!.s))].join(' ') };
    });
    const rules = parse(readFileSync(join(MONITORING_DIR, 'edge-alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; annotations: Record<string, string> }[] }[] };
    const all = rules.groups.flatMap((g) => g.rules);
    const wanDown = all.find((r) => r.alert === 'EdgeWanDown')!;
    const labels = { severity: 'warning', instance: 'r1', job: 'node', wan: 'wan1', family: 'ipv4', state: 'down' };
    const expand = (t: string) => t.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l: string) => labels[l as keyof typeof labels]);
    const none = (at: string) => all.map((r) => ({ eval_time: at, alertname: r.alert, exp_alerts: [] }));
    const test = {
      rule_files: [join(MONITORING_DIR, 'edge-alerts.yml')],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: series,
          alert_rule_test: [
            ...none('4m'),
            ...none('14m').filter((t) => t.alertname !== 'EdgeWanDown'),
            {
              eval_time: '14m',
              alertname: 'EdgeWanDown',
              exp_alerts: [{ exp_labels: labels, exp_annotations: Object.fromEntries(Object.entries(wanDown.annotations).map(([k, v]) => [k, expand(v)])) }],
            },
          ],
        },
      ],
    };
    const dir = mkdtempSync(join(tmpdir(), 'edge-alerts-'));
    try {
      writeFileSync(join(dir, 'scraped.test.yml'), JSON.stringify(test, null, 2));
      promtool(['test', 'rules', join(dir, 'scraped.test.yml')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rollback of the metrics run: node_exporter disabled again, edge-metrics, its unit, conf and files gone, byte-exact', async () => {
    await healthyIsps(lab, router);
    await waitSettled(lab, router);
    const r = await edge(['rollback', runId, '-i', lab.inventory, '--limit', router]);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(await metricsState(lab)).toBe(before.metrics);
    expect(await hostFiles(lab)).toBe(before.host);
  }, 180_000);
});

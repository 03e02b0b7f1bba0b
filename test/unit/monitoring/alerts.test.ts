import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { has } from '../../fixtures/host-tools.js';
import { BOUNDED_LABELS, MONITORING_DIR, readCatalog } from '../../fixtures/metrics-catalog.js';

/**
 * The alert rules edge ships (playbooks/monitoring/edge-alerts.yml), held to promtool: the file checks, the
 * unit tests fire every alert from synthetic series, and an alert whose expression is made inert
 * fails its test (so no alert is untested). Names and types come from playbooks/monitoring/metrics.md.
 */

const RULES = join(MONITORING_DIR, 'edge-alerts.yml');
const TESTS = join(MONITORING_DIR, 'edge-alerts.test.yml');
const catalog = readCatalog();

interface Rule {
  alert: string;
  expr: string;
}
const rules = (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8', cwd: MONITORING_DIR });

const scratch = mkdtempSync(join(tmpdir(), 'edge-alerts-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the metrics list', () => {
  it('follows Prometheus naming: edge_ prefix, _total for counters only, bounded labels', () => {
    expect(catalog.size).toBeGreaterThan(10);
    for (const m of catalog.values()) {
      expect(m.name).toMatch(/^edge_[a-z0-9_]+$/);
      expect(m.name.endsWith('_total'), m.name).toBe(m.type === 'counter');
      const allowed = m.name.endsWith('_info') ? [...BOUNDED_LABELS, 'run_id', 'hash'] : BOUNDED_LABELS;
      for (const l of m.labels) expect(allowed, `${m.name} label ${l}`).toContain(l);
    }
  });

  it('names every metric the rules and their tests use, with labels it lists', () => {
    const used = new Set(rules.flatMap((r) => r.expr.match(/\bedge_[a-z0-9_]+/g) ?? []));
    for (const n of used) expect(catalog.has(n), `rules use ${n}`).toBe(true);
    const tests = parse(readFileSync(TESTS, 'utf8')) as { tests: { input_series: { series: string }[] }[] };
    for (const s of tests.tests.flatMap((t) => t.input_series)) {
      const m = /^(\w+)\{(.*)\}$/.exec(s.series)!;
      const metric = catalog.get(m[1]!);
      expect(metric, s.series).toBeDefined();
      const labels = [...m[2]!.matchAll(/(\w+)="/g)].map((x) => x[1]!).filter((l) => l !== 'instance' && l !== 'job');
      expect(labels.sort(), s.series).toEqual([...metric!.labels].sort());
    }
  });
});

describe.skipIf(!has('promtool'))('promtool', () => {
  it('check rules', () => {
    const r = promtool('check', 'rules', RULES);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('test rules: every alert fires from its synthetic series', () => {
    const r = promtool('test', 'rules', TESTS);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it.each(rules.map((r) => r.alert))('test rules fails when %s can never fire', (alert) => {
    const doc = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] };
    for (const g of doc.groups) for (const r of g.rules) if (r.alert === alert) r.expr = 'vector(1) == 0';
    writeFileSync(join(scratch, 'edge-alerts.yml'), stringify(doc));
    copyFileSync(TESTS, join(scratch, 'edge-alerts.test.yml'));
    const r = spawnSync('promtool', ['test', 'rules', 'edge-alerts.test.yml'], { encoding: 'utf8', cwd: scratch });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(`alertname: ${alert}`);
  });
});

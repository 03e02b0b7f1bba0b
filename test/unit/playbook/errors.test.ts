import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { loadPlaybook, parsePlaybook } from '../../../src/playbook/load.js';
import { edgeErrorsOf, errorsOf } from '../inventory/helpers.js';

const FIXTURE = 'test/fixtures/playbook/bad.yaml';
const pb = (text: string) => parsePlaybook(parseYaml(text, 'pb.yaml'));

describe('playbook errors name file:line:col, field, and what was expected', () => {
  const errors = errorsOf(() => loadPlaybook(FIXTURE));

  it('reports every problem at once', () => {
    expect(errors).toHaveLength(5);
  });

  it('bad serial', () => {
    expect(errors).toContain(`${FIXTURE}:3:11: [0].serial: expected a percentage between 1% and 100%, got "0%"`);
  });

  it('bad window time zone, with a suggestion', () => {
    expect(errors).toContain(
      `${FIXTURE}:7:15: [0].window.timezone: unknown time zone "Europe/Amsterdm"; expected an IANA name like Europe/Amsterdam; did you mean Europe/Amsterdam?`,
    );
  });

  it('unknown task name, listing the known ones', () => {
    expect(errors).toContain(
      `${FIXTURE}:10:7: [0].tasks[1]: unknown task sysctll; did you mean sysctl?\n` +
        '  hint: known tasks: inventory-check, sysctl, packages, tables, nftables, persistence, failover, verify',
    );
  });

  it('unknown task parameter', () => {
    expect(errors).toContain(`${FIXTURE}:11:34: [0].tasks[2].packages.force: unknown packages parameter force\n  hint: allowed here: upgrade`);
  });

  it('unknown play key, with a suggestion', () => {
    expect(errors.find((e) => e.includes('sereal'))).toMatch(
      new RegExp(`^${FIXTURE}:14:3: \\[0\\]\\.sereal: unknown key sereal; did you mean serial\\?\\n  hint: allowed here: name, hosts, vars, tasks, serial, `),
    );
  });

  it('more serial mistakes', () => {
    expect(errorsOf(() => pb('hosts: all\ntasks: [sysctl]\nserial: 0\n'))).toEqual(['pb.yaml:3:9: serial: expected a number >= 1, got 0']);
    expect(errorsOf(() => pb('hosts: all\ntasks: [sysctl]\nserial: [1, "x"]\n'))).toEqual([
      'pb.yaml:3:13: serial[1]: expected a percentage like "30%", got "x"',
    ]);
    expect(errorsOf(() => pb('hosts: all\ntasks: [sysctl]\nserial: true\n'))).toEqual([
      'pb.yaml:3:9: serial: expected a host count like 5, a percentage like "30%", or a list of those, got true',
    ]);
  });

  it('window details', () => {
    expect(errorsOf(() => pb('hosts: all\ntasks: [sysctl]\nwindow: {days: [mon, fun], start: "2:00", end: "02:00", timezone: UTC}\n'))).toEqual([
      'pb.yaml:3:22: window.days[1]: expected one of "mon", "tue", "wed", "thu", "fri", "sat", "sun", got "fun"',
      'pb.yaml:3:35: window.start: expected a 24-hour time like 02:00 (quote it), got "2:00"',
    ]);
    expect(errorsOf(() => pb('hosts: all\ntasks: [sysctl]\nwindow: {start: "02:00", end: "02:00", timezone: UTC}\n'))).toEqual([
      'pb.yaml:3:31: window.end: must differ from start, got "02:00"',
    ]);
    // a missing key points at its parent's key
    expect(errorsOf(() => pb('hosts: all\ntasks: [sysctl]\nwindow: {start: "02:00", end: "03:00"}\n'))).toEqual([
      'pb.yaml:3:1: window.timezone: is required (expected a string)',
    ]);
  });

  it('a missing required key points at the play; an empty tasks list is an error', () => {
    expect(errorsOf(() => pb('- name: x\n  tasks: []\n'))).toEqual([
      'pb.yaml:1:3: [0].hosts: is required (expected a host pattern like "edge" or "rtr-*,!rtr-nyc-1")',
      'pb.yaml:2:10: [0].tasks: expected at least 1 item',
    ]);
  });

  it('rollout keys', () => {
    const text = 'hosts: all\ntasks: [sysctl]\npause_between_batches: 5x\nconfirm_timeout: 0\nmax_fail_percentage: 101\nconfirm: maybe\n';
    expect(errorsOf(() => pb(text))).toEqual([
      'pb.yaml:5:22: max_fail_percentage: expected a number <= 100, got 101',
      'pb.yaml:3:24: pause_between_batches: expected seconds or a duration like 30s, 5m, 1h30m, got "5x"',
      'pb.yaml:4:18: confirm_timeout: expected at least 1 second, got 0',
      'pb.yaml:6:10: confirm: expected one of "auto", "manual", got "maybe"',
    ]);
  });

  it('task entry shape errors', () => {
    const errs = edgeErrorsOf(() => pb('hosts: all\ntasks:\n  - {sysctl: , tables: }\n  - 42\n  - {name: only a name}\n  - {verify: {probes: maybe}}\n'));
    expect(errs.map((e) => `${e.pos!.line}:${e.pos!.col}: ${e.field}: ${e.message}`)).toEqual([
      '3:16: tasks[0].tables: one task per entry, found sysctl, tables',
      '4:5: tasks[1]: expected a task name (- sysctl) or a mapping (- packages: {upgrade: true})',
      '5:5: tasks[2]: no task in this entry',
      '6:23: tasks[3].verify.probes: expected true or false, got "maybe"',
    ]);
  });

  it('play vars: unknown edge_ variables and bad values are found when the playbook is read', () => {
    expect(errorsOf(() => pb('hosts: all\ntasks: [sysctl]\nvars:\n  edge_healt_rise: 3\n  edge_health_rise: 0\n  other: ok\n'))).toEqual([
      'pb.yaml:4:3: vars.edge_healt_rise: unknown edge variable edge_healt_rise; did you mean edge_health_rise?',
      'pb.yaml:5:21: vars.edge_health_rise: expected a number >= 1, got 0',
    ]);
  });

  it('a playbook must be a list of plays or one play', () => {
    expect(errorsOf(() => pb('just text\n'))).toEqual(['pb.yaml:1:1: expected a list of plays (or one play)']);
    expect(errorsOf(() => pb('- hosts: all\n  tasks: [sysctl]\n- 3\n'))).toEqual(['pb.yaml:3:3: expected a play (a mapping with hosts: and tasks:)']);
  });
});

describe('a playbook that is not there', () => {
  const REPO = new URL('../../../', import.meta.url).pathname;
  it('says so plainly and offers the other YAML extension, or a close name', () => {
    const e = edgeErrorsOf(() => loadPlaybook('playbooks/failover.yml', REPO))[0]!;
    expect(e.code).toBe('USAGE');
    expect(e.message).toBe('playbook playbooks/failover.yml: no such file');
    expect(e.hint).toBe('did you mean playbooks/failover.yaml?');
    expect(edgeErrorsOf(() => loadPlaybook('playbooks/failvoer.yaml', REPO))[0]!.hint).toBe('did you mean playbooks/failover.yaml?');
    expect(edgeErrorsOf(() => loadPlaybook('playbooks/zzz.yaml', REPO))[0]!.hint).toBeUndefined();
  });
});

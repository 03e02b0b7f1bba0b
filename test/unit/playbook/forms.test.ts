import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { effectiveWindow } from '../../../src/playbook/effective-window.js';
import { loadPlaybook, parsePlaybook } from '../../../src/playbook/load.js';
import { resolvePlayHosts } from '../../../src/playbook/play-hosts.js';
import { batchSizes, splitBatches } from '../../../src/playbook/serial.js';
import { errorsOf } from '../inventory/helpers.js';

const pb = (text: string) => parsePlaybook(parseYaml(text, 'pb.yaml'));

describe('playbook forms', () => {
  it('a list of plays, with the one task-entry form and defaults applied', () => {
    const book = loadPlaybook('test/fixtures/playbook/failover.yaml');
    expect(book.plays).toHaveLength(1);
    const play = book.plays[0]!;
    expect(play).toMatchObject({
      index: 0,
      name: 'dual-WAN failover',
      hosts: 'routers:!rtr-nyc-1',
      serial: [{ count: 1 }, { percent: 50 }],
      max_fail_percentage: 10,
      window: { days: ['sat', 'sun'], start: '22:00', end: '04:00', timezone: 'UTC' },
      pause_between_batches: 300,
      confirm_timeout: 120,
      confirm: 'manual',
      vars: { edge_health_interval: 0.2 },
      pos: { file: 'test/fixtures/playbook/failover.yaml', line: 2, col: 3 },
      hostsPos: { line: 3, col: 10 },
    });
    expect(play.tasks).toEqual([
      { task: 'inventory-check', name: 'inventory-check', params: undefined, pos: expect.objectContaining({ line: 12, col: 7 }) },
      { task: 'sysctl', name: 'sysctl', params: undefined, pos: expect.objectContaining({ line: 13, col: 7 }) },
      { task: 'packages', name: 'packages', params: { upgrade: true }, pos: expect.objectContaining({ line: 14, col: 7 }) },
      { task: 'verify', name: 'check both uplinks', params: { probes: true }, pos: expect.objectContaining({ line: 15, col: 7 }) },
    ]);
    expect(play.varSources.edge_health_interval).toMatchObject({ line: 10, col: 27, scope: 'play', path: '[0].vars.edge_health_interval' });
  });

  it('one play as a mapping; defaults; name defaults to the hosts pattern; hosts may be a list', () => {
    const book = pb('hosts: [ams, nyc]\ntasks:\n  - sysctl\n');
    expect(book.plays[0]).toMatchObject({
      name: 'ams,nyc',
      hosts: 'ams,nyc',
      serial: undefined,
      max_fail_percentage: 0,
      window: undefined,
      pause_between_batches: 0,
      confirm_timeout: 120,
      confirm: 'auto',
      vars: {},
    });
  });

  it('durations: seconds or text', () => {
    const play = pb('hosts: all\ntasks: [sysctl]\npause_between_batches: 1h30m\nconfirm_timeout: 90s\n').plays[0]!;
    expect([play.pause_between_batches, play.confirm_timeout]).toEqual([5400, 90]);
  });
});

describe('serial batches (Ansible semantics)', () => {
  it('one batch without serial; counts; percentages round down, at least 1; the last value repeats', () => {
    expect(batchSizes(7, undefined)).toEqual([7]);
    expect(batchSizes(7, [{ count: 3 }])).toEqual([3, 3, 1]);
    expect(batchSizes(10, [{ percent: 30 }])).toEqual([3, 3, 3, 1]);
    expect(batchSizes(3, [{ percent: 10 }])).toEqual([1, 1, 1]);
    expect(batchSizes(10, [{ count: 1 }, { percent: 50 }])).toEqual([1, 5, 4]);
    expect(batchSizes(0, [{ count: 1 }])).toEqual([]);
    expect(splitBatches(['a', 'b', 'c', 'd'], [{ count: 1 }, { count: 2 }])).toEqual([['a'], ['b', 'c'], ['d']]);
  });
});

describe('play hosts and vars', () => {
  const inv = parseInventory(
    parseYaml(
      [
        'all:',
        '  children:',
        '    ams:',
        '      vars:',
        '        edge_window: {start: "02:00", end: "04:00", timezone: Europe/Amsterdam}',
        '      hosts:',
        '        rtr-ams-1:',
        '        rtr-ams-2: {edge_health_interval: 0.3}',
        '    nyc:',
        '      hosts: {rtr-nyc-1: }',
        '',
      ].join('\n'),
      'inv.yaml',
    ),
  );

  it('play vars override inventory vars and are validated after the merge', () => {
    const book = pb('hosts: all\nvars: {edge_health_interval: 0.25, site: x}\ntasks: [sysctl]\n');
    const hosts = resolvePlayHosts(inv, book, book.plays[0]!, 'ams');
    expect(hosts.map((h) => [h.name, h.vars.edge_health_interval, h.vars.site])).toEqual([
      ['rtr-ams-1', 0.25, 'x'],
      ['rtr-ams-2', 0.25, 'x'],
    ]);
    expect(hosts[0]!.varSources.edge_health_interval).toMatchObject({ file: 'pb.yaml', scope: 'play' });
  });

  it('a cross-variable error caused by a play var points into the playbook and names the hosts', () => {
    const book = pb('hosts: all\nvars:\n  edge_health_timeout: 0.3\ntasks: [sysctl]\n');
    expect(errorsOf(() => resolvePlayHosts(inv, book, book.plays[0]!))).toEqual([
      'pb.yaml:3:24: vars.edge_health_timeout: must be at least 3 × edge_health_interval, so that one lost probe never takes a WAN down, got 0.3\n' +
        '  hint: for hosts rtr-ams-1, rtr-ams-2, rtr-nyc-1',
    ]);
  });

  it('an unknown name in the play hosts pattern points at hosts:', () => {
    const book = pb('tasks: [sysctl]\nhosts: amss\n');
    expect(errorsOf(() => resolvePlayHosts(inv, book, book.plays[0]!))).toEqual([
      expect.stringMatching(/^pb\.yaml:2:8: hosts: no host or group matches "amss"; did you mean ams\?/),
    ]);
  });

  it("a host's edge_window wins over the play's window", () => {
    const book = pb('hosts: all\nwindow: {start: "01:00", end: "02:00", timezone: UTC}\ntasks: [sysctl]\n');
    const play = book.plays[0]!;
    const [ams, , nyc] = resolvePlayHosts(inv, book, play);
    expect(effectiveWindow(play, ams!.vars)?.timezone).toBe('Europe/Amsterdam');
    expect(effectiveWindow(play, nyc!.vars)?.timezone).toBe('UTC');
  });
});

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { selectHosts } from '../../../src/inventory/limit.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { errorsOf } from './helpers.js';

const inv = parseInventory(
  parseYaml(
    [
      'all:',
      '  hosts:',
      '    lab-1:',
      '  children:',
      '    routers:',
      '      children:',
      '        ams:',
      '          hosts: {rtr-ams-1: , rtr-ams-2: }',
      '        nyc:',
      '          hosts: {rtr-nyc-1: }',
      '    canary:',
      '      hosts: {rtr-nyc-1: , rtr-ams-2: }',
      '',
    ].join('\n'),
    'inv.yaml',
  ),
);

const warnings: string[] = [];
const sel = (limit?: string, play?: string) => selectHosts(inv, limit, play, undefined, (w) => warnings.push(w));

describe('selectHosts (--limit and play hosts patterns), in Ansible order', () => {
  it('no pattern: every host, group by group from all down (as ansible --list-hosts)', () => {
    expect(sel()).toEqual(['lab-1', 'rtr-nyc-1', 'rtr-ams-2', 'rtr-ams-1']);
    expect(sel('all')).toEqual(sel());
    expect(sel('*')).toEqual(sel());
  });

  it('host names, comma or colon separated; a play pattern gives its order, --limit only filters', () => {
    expect(sel(undefined, 'rtr-ams-1,rtr-nyc-1')).toEqual(['rtr-ams-1', 'rtr-nyc-1']);
    expect(sel(undefined, 'rtr-nyc-1:lab-1')).toEqual(['rtr-nyc-1', 'lab-1']);
    expect(sel('rtr-nyc-1:lab-1')).toEqual(['lab-1', 'rtr-nyc-1']);
  });

  it('groups select their hosts, through child groups too', () => {
    expect(sel(undefined, 'ams')).toEqual(['rtr-ams-1', 'rtr-ams-2']);
    expect(sel(undefined, 'routers')).toEqual(['rtr-ams-1', 'rtr-ams-2', 'rtr-nyc-1']);
    expect(sel('ungrouped')).toEqual(['lab-1']);
  });

  it('globs and regexes match host and group names', () => {
    expect(sel(undefined, 'rtr-*-1')).toEqual(['rtr-ams-1', 'rtr-nyc-1']);
    expect(sel('a?s')).toEqual(['rtr-ams-2', 'rtr-ams-1']);
    expect(sel('~rtr-(ams|nyc)-2')).toEqual(['rtr-ams-2']);
  });

  it('subscripts and slices pick from a group, as Ansible does', () => {
    expect(sel('routers[0]')).toEqual(['rtr-ams-1']);
    expect(sel('routers[-1]')).toEqual(['rtr-nyc-1']);
    expect(sel(undefined, 'routers[0:1]')).toEqual(['rtr-ams-1', 'rtr-ams-2']);
    expect(sel(undefined, 'routers[1:]')).toEqual(['rtr-ams-2', 'rtr-nyc-1']);
    expect(errorsOf(() => sel('ams[5]'))).toEqual(["--limit: no hosts matched the subscripted pattern 'ams[5]'"]);
  });

  it('@file reads one pattern per line, like a retry file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-limit-'));
    writeFileSync(path.join(dir, 'retry'), 'rtr-nyc-1\n\nlab-1\n');
    expect(sel(`@${path.join(dir, 'retry')}`)).toEqual(['lab-1', 'rtr-nyc-1']);
    expect(errorsOf(() => sel(`@${path.join(dir, 'missing')}`))[0]).toMatch(/^--limit: limit file .*missing: cannot be read/);
  });

  it('!exclude removes, whatever its place in the pattern', () => {
    expect(sel(undefined, 'routers:!nyc')).toEqual(['rtr-ams-1', 'rtr-ams-2']);
    expect(sel(undefined, '!rtr-ams-1,routers')).toEqual(['rtr-ams-2', 'rtr-nyc-1']);
    expect(sel('!routers')).toEqual(['lab-1']);
  });

  it('&intersection keeps only hosts in both', () => {
    expect(sel(undefined, 'routers:&canary')).toEqual(['rtr-ams-2', 'rtr-nyc-1']);
    expect(sel('routers,&canary,!nyc')).toEqual(['rtr-ams-2']);
  });

  it('the play pattern and --limit intersect', () => {
    expect(sel('canary', 'ams')).toEqual(['rtr-ams-2']);
    expect(sel(undefined, 'routers:!rtr-ams-1')).toEqual(['rtr-ams-2', 'rtr-nyc-1']);
    expect(sel('lab-1', 'routers')).toEqual([]);
  });

  it('a term that matches nothing is ignored with a warning, as in Ansible', () => {
    warnings.length = 0;
    expect(sel('all:!nonexistent')).toEqual(sel());
    expect(sel('rtr-ams-3,lab-1')).toEqual(['lab-1']);
    expect(warnings).toEqual([
      '--limit: could not match supplied host pattern, ignoring: nonexistent',
      '--limit: could not match supplied host pattern, ignoring: rtr-ams-3; did you mean rtr-ams-1?',
    ]);
  });

  it('a play pattern warning names where the pattern is written', () => {
    warnings.length = 0;
    expect(selectHosts(inv, undefined, 'roters', { file: 'pb.yaml', line: 2, col: 10 }, (w) => warnings.push(w))).toEqual([]);
    expect(warnings).toEqual(['pb.yaml:2:10: hosts: could not match supplied host pattern, ignoring: roters; did you mean routers?']);
  });
});

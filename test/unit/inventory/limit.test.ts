import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { selectHosts } from '../../../src/inventory/limit.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { edgeErrorsOf, errorsOf } from './helpers.js';

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

const sel = (limit?: string, play?: string) => selectHosts(inv, limit, play);

describe('selectHosts (--limit and play hosts patterns)', () => {
  it('no pattern: every host, in inventory order', () => {
    expect(sel()).toEqual(['lab-1', 'rtr-ams-1', 'rtr-ams-2', 'rtr-nyc-1']);
    expect(sel('all')).toEqual(sel());
    expect(sel('*')).toEqual(sel());
  });

  it('host names, comma or colon separated; result in inventory order, not pattern order', () => {
    expect(sel('rtr-nyc-1,rtr-ams-1')).toEqual(['rtr-ams-1', 'rtr-nyc-1']);
    expect(sel('rtr-nyc-1:lab-1')).toEqual(['lab-1', 'rtr-nyc-1']);
  });

  it('groups select their hosts, through child groups too', () => {
    expect(sel('ams')).toEqual(['rtr-ams-1', 'rtr-ams-2']);
    expect(sel('routers')).toEqual(['rtr-ams-1', 'rtr-ams-2', 'rtr-nyc-1']);
    expect(sel('ungrouped')).toEqual(['lab-1']);
  });

  it('globs and regexes match host and group names', () => {
    expect(sel('rtr-*-1')).toEqual(['rtr-ams-1', 'rtr-nyc-1']);
    expect(sel('a?s')).toEqual(['rtr-ams-1', 'rtr-ams-2']);
    expect(sel('~rtr-(ams|nyc)-2')).toEqual(['rtr-ams-2']);
  });

  it('!exclude removes, whatever its place in the pattern', () => {
    expect(sel('routers:!nyc')).toEqual(['rtr-ams-1', 'rtr-ams-2']);
    expect(sel('!rtr-ams-1,routers')).toEqual(['rtr-ams-2', 'rtr-nyc-1']);
    expect(sel('!routers')).toEqual(['lab-1']);
  });

  it('&intersection keeps only hosts in both', () => {
    expect(sel('routers:&canary')).toEqual(['rtr-ams-2', 'rtr-nyc-1']);
    expect(sel('routers,&canary,!nyc')).toEqual(['rtr-ams-2']);
  });

  it('the play pattern and --limit intersect', () => {
    expect(sel('canary', 'ams')).toEqual(['rtr-ams-2']);
    expect(sel(undefined, 'routers:!rtr-ams-1')).toEqual(['rtr-ams-2', 'rtr-nyc-1']);
    expect(sel('lab-1', 'routers')).toEqual([]);
  });

  it('a term that matches nothing is an error listing what exists', () => {
    expect(errorsOf(() => sel('rtr-ams-3'))).toEqual([
      '--limit: no host or group matches "rtr-ams-3"; did you mean rtr-ams-1?\n' +
        '  hint: hosts: lab-1, rtr-ams-1, rtr-ams-2, rtr-nyc-1; groups: all, routers, ams, nyc, canary, ungrouped',
    ]);
  });

  it('an exclusion of an unknown name is an error too (it must not select everything)', () => {
    const errs = edgeErrorsOf(() => sel('routers:!rtr-amz-1'));
    expect(errs.map((e) => [e.code, e.field, e.message])).toEqual([
      ['USAGE', '--limit', 'no host or group matches "rtr-amz-1"; did you mean rtr-ams-1?'],
    ]);
  });

  it('every unknown term is reported; play pattern errors are CONFIG errors', () => {
    expect(edgeErrorsOf(() => sel('nope1,nope2'))).toHaveLength(2);
    const [e] = edgeErrorsOf(() => selectHosts(inv, undefined, 'roters', { file: 'pb.yaml', line: 2, col: 10 }));
    expect(e!.code).toBe('CONFIG');
    expect(e!.field).toBe('hosts');
    expect(e!.pos).toEqual({ file: 'pb.yaml', line: 2, col: 10 });
    expect(e!.message).toBe('no host or group matches "roters"; did you mean routers?');
  });
});

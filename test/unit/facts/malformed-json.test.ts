import { describe, expect, it } from 'vitest';
import { parseFacts } from '../../../src/facts/parse.js';
import { MARK } from '../../../src/facts/probe.js';

/** Issue 20: a broken or hostile router's `ip -j` output is refused naming the command and the fault. */
const wanted = { files: [], packages: [], units: [], nftTables: [] };
const out = (sections: Record<string, string>) =>
  [...Object.entries(sections).flatMap(([k, v]) => [`${MARK} ${k}`, v]), `${MARK} end`].join('\n');
const good = { hostname: 'r1', 'ip-link': '[{"ifindex":1,"ifname":"lo","flags":["UP"]}]', 'ip-route': '[{"dst":"default","dev":"wan1"}]' };

describe('malformed command output from the host', () => {
  it('well-formed output parses', () => {
    expect(parseFacts('r1', out(good), wanted).interfaces.map((i) => i.name)).toEqual(['lo']);
  });

  it.each([
    ['ip-link', '[{"ifindex":1,"ifname":"lo"', '`ip -j -d link show` printed output that is not JSON ('],
    ['ip-link', '{"ifname":"wan1"}', '`ip -j -d link show` printed JSON that is not a list of links'],
    ['ip-addr', '[{"ifname":"wan1","addr_info":"x"}]', '`ip -j addr show` printed JSON that is not a list of links'],
    ['ip-route', '[{"dev":"wan1"}]', '`ip -j route show table all` printed JSON that is not a list of routes, each with a string "dst"'],
    ['ip-rule', '[{"priority":"high"}]', '`ip -j rule show` printed JSON that is not a list of rules'],
    ['nft-tables', '[1]', '`nft -j list tables` printed JSON that is not an object'],
  ])('%s %s is refused', (section, text, message) => {
    let err: unknown;
    try {
      parseFacts('r1', out({ ...good, [section]: text }), wanted);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain('the facts the host sent are malformed: ');
    expect((err as Error).message).toContain(message);
    expect((err as { host?: string }).host).toBe('r1');
  });
});

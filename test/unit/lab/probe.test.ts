import { describe, expect, it } from 'vitest';
import { labPlan } from '../../../src/lab/plan.js';
import { attribute, formatProbe, parseProbeOutput } from '../../../src/lab/probe.js';

const plan = labPlan(2);
const r1 = plan.routers[0]!;
const at = new Date('2025-01-01T00:00:00Z');

const out = (tcp: unknown[], ping: unknown[] = []) => JSON.stringify({ tcp, ping });

describe('lab probe', () => {
  it('attributes each flow by the source the service saw', () => {
    const raw = parseProbeOutput(
      out(
        [
          { localPort: 40000, ms: 1.2, seen: '198.51.100.12:40000' },
          { localPort: 40002, ms: 0.9, seen: '198.51.100.12:40002' },
        ],
        [{ target: '192.0.2.1', ok: true, ms: 0.3 }],
      ),
    );
    const p = attribute(raw, r1, plan, at);
    expect(p.via).toBe('wan1');
    expect(p.flows.map((f) => f.via)).toEqual(['wan1', 'wan1']);
    expect(p.flows[0]).toMatchObject({ seenAddress: '198.51.100.12', localPort: 40000 });
    expect(p).toMatchObject({ router: 'r1', client: '10.1.0.100', service: '192.0.2.80:80', at: '2025-01-01T00:00:00.000Z' });
  });

  it('says wan2, mixed, or none', () => {
    const wan2 = attribute(parseProbeOutput(out([{ ms: 1, seen: '203.0.113.10:1' }])), r1, plan, at);
    expect(wan2.via).toBe('wan2');
    const mixed = attribute(parseProbeOutput(out([{ ms: 1, seen: '203.0.113.10:1' }, { ms: 1, seen: '198.51.100.11:2' }])), r1, plan, at);
    expect(mixed.via).toBe('mixed');
    const none = attribute(parseProbeOutput(out([{ ms: 2000, error: 'timeout' }, { ms: 3, error: 'ECONNREFUSED' }])), r1, plan, at);
    expect(none.via).toBe('none');
    expect(none.flows.map((f) => f.error)).toEqual(['timeout', 'ECONNREFUSED']);
    // no NAT: the service sees the LAN client itself
    expect(attribute(parseProbeOutput(out([{ ms: 1, seen: '10.1.0.100:5' }])), r1, plan, at).via).toBe('lan');
    // an IPv4-mapped form is understood
    expect(attribute(parseProbeOutput(out([{ ms: 1, seen: '::ffff:198.51.100.11:9' }])), r1, plan, at).via).toBe('wan1');
  });

  it('attributes IPv6 flows by prefix: a WAN\'s link or delegated prefixes, a ULA source is the LAN (a leak)', () => {
    const raw = parseProbeOutput(
      JSON.stringify({
        tcp: [],
        ping: [],
        tcp6: [
          { ms: 1, seen: '[2001:db8:11:100::100]:40000' },
          { ms: 1, seen: '[2001:db8:22:100::5]:40001' },
          { ms: 1, seen: '[fd00:10:1::100]:40002' },
        ],
        ping6: [{ target: '2001:db8:ffff::1', ok: true, ms: 0.2 }],
      }),
    );
    const p = attribute(raw, r1, plan, at);
    expect(p.v6.flows.map((f) => f.via)).toEqual(['wan1', 'wan2', 'lan']);
    expect(p.v6.via).toBe('mixed');
    expect(p.v6.service).toBe('[2001:db8:ffff::80]:80');
    expect(p.via).toBe('none');
  });

  it('takes the last JSON line and rejects anything else', () => {
    expect(parseProbeOutput(`noise\n${out([])}\n`).tcp).toEqual([]);
    expect(() => parseProbeOutput('')).toThrow(/no result/);
    expect(() => parseProbeOutput('{"tcp": 1}')).toThrow(/unexpected probe result/);
    expect(() => parseProbeOutput('{oops')).toThrow(/invalid JSON/);
  });

  it('prints one line per flow and ping, and the verdict', () => {
    const p = attribute(
      parseProbeOutput(out([{ ms: 1, seen: '203.0.113.10:7' }, { ms: 2000, error: 'timeout' }], [{ target: '192.0.2.1', ok: false }])),
      r1,
      plan,
      at,
    );
    expect(formatProbe(p)).toBe(
      [
        'r1: probe from LAN client 10.1.0.100',
        '  tcp #1 → 192.0.2.80:80  seen as 203.0.113.10:7  → wan2  (1 ms)',
        '  tcp #2 → 192.0.2.80:80  failed (timeout) after 2000 ms',
        '  ping 192.0.2.1    no reply',
        '  new IPv4 flows leave via: wan2 (1/2 answered)',
        '  new IPv6 flows leave via: none (0/0 answered)',
      ].join('\n'),
    );
  });
});

import { describe, expect, it } from 'vitest';
import { describeFault, faultSteps, parseFaultAction, withAction } from '../../../src/lab/faults.js';
import { routerPlan } from '../../../src/lab/plan.js';
import { NO_FAULT } from '../../../src/lab/state.js';

describe('lab faults', () => {
  it('parses the fault words', () => {
    expect(parseFaultAction(['link-down'])).toEqual({ kind: 'link-down' });
    expect(parseFaultAction(['upstream-cut'])).toEqual({ kind: 'upstream-cut' });
    expect(parseFaultAction(['upstream-cut6'])).toEqual({ kind: 'upstream-cut6' });
    expect(parseFaultAction(['upstream-cut4'])).toEqual({ kind: 'upstream-cut4' });
    expect(parseFaultAction(['loss', '30'])).toEqual({ kind: 'loss', pct: 30 });
    expect(parseFaultAction(['latency', '250'])).toEqual({ kind: 'latency', ms: 250 });
    expect(parseFaultAction(['clear'])).toEqual({ kind: 'clear' });
    expect(() => parseFaultAction(['loss'])).toThrow(/percentage/);
    expect(() => parseFaultAction(['loss', '101'])).toThrow(/0-100/);
    expect(() => parseFaultAction(['loss', '2.5'])).toThrow(/integer/);
    expect(() => parseFaultAction(['latency', '-1'])).toThrow();
    expect(() => parseFaultAction(['link-down', 'now'])).toThrow(/no argument/);
    expect(() => parseFaultAction(['melt'])).toThrow(/link-down \| upstream-cut/);
  });

  it('combines faults and clears them all', () => {
    let s = withAction(NO_FAULT, { kind: 'loss', pct: 20 });
    s = withAction(s, { kind: 'latency', ms: 100 });
    s = withAction(s, { kind: 'upstream-cut' });
    expect(s).toEqual({ linkDown: false, upstreamCut: true, upstreamCut6: true, lossPct: 20, latencyMs: 100 });
    expect(describeFault(s)).toBe('upstream cut, loss 20%, latency +100 ms');
    expect(withAction(s, { kind: 'clear' })).toEqual(NO_FAULT);
    expect(describeFault(NO_FAULT)).toBe('none');
    expect(withAction(s, { kind: 'loss', pct: 0 }).lossPct).toBe(0);
  });

  it('cuts one family alone, and says which', () => {
    const six = withAction(NO_FAULT, { kind: 'upstream-cut6' });
    expect(six).toEqual({ ...NO_FAULT, upstreamCut6: true });
    expect(describeFault(six)).toBe('IPv6 upstream cut');
    expect(describeFault(withAction(NO_FAULT, { kind: 'upstream-cut4' }))).toBe('IPv4 upstream cut');
    expect(describeFault(withAction(six, { kind: 'upstream-cut4' }))).toBe('upstream cut');
    const steps = faultSteps(routerPlan(3), 'wan1', six);
    expect(steps.ip).toContain('route replace default via 198.19.3.1 dev up0');
    expect(steps.ip6[0]).toBe('route replace blackhole default');
  });

  const r = routerPlan(3);

  it('with no fault, restores the ISP: link up, default to the internet, no loss table, no delay rule', () => {
    const s = faultSteps(r, 'wan1', NO_FAULT);
    expect(s.ns).toBe('elab-r3-isp1');
    expect(s.ip).toEqual(['link set down0 up', 'route replace default via 198.19.3.1 dev up0']);
    // IPv6: the default route, the link's address and the delegated prefixes (lost with a link down) back
    expect(s.ip6).toEqual([
      'route replace default via fd00:19:3:1::1 dev up0',
      'addr replace 2001:db8:1:3::1/64 dev down0 nodad',
      'route replace 2001:db8:11:300::/56 via fe80::45:ff:fe03:201 dev down0',
      'route replace 2001:db8:12:300::/56 via fe80::45:ff:fe03:201 dev down0',
    ]);
    expect(s.ipCleanup).toEqual(['rule del pref 100']);
    expect(s.nft).toBe('table inet elab_fault\ndelete table inet elab_fault\n');
    expect(s.latencyMs).toBe(0);
  });

  it('link-down takes the ISP side of the link down (the router loses carrier)', () => {
    expect(faultSteps(r, 'wan2', { ...NO_FAULT, linkDown: true }).ip[0]).toBe('link set down0 down');
    expect(faultSteps(r, 'wan2', NO_FAULT).ns).toBe('elab-r3-isp2');
  });

  it('upstream-cut keeps the link up and blackholes the ISP default route', () => {
    const s = faultSteps(r, 'wan1', { ...NO_FAULT, upstreamCut: true, upstreamCut6: true });
    expect(s.ip).toEqual(['link set down0 up', 'route replace blackhole default']);
    expect(s.ip6[0]).toBe('route replace blackhole default');
  });

  it('loss drops that share of what the router sends onward, in the ISP namespace', () => {
    const s = faultSteps(r, 'wan1', { ...NO_FAULT, lossPct: 35 });
    expect(s.nft).toContain('iifname "down0" numgen random mod 100 < 35 counter drop');
    expect(s.nft).toContain('type filter hook forward priority 0; policy accept;');
    expect(s.nft.startsWith('table inet elab_fault\ndelete table inet elab_fault\n')).toBe(true);
    expect(faultSteps(r, 'wan1', { ...NO_FAULT, lossPct: 100 }).nft).toContain('iifname "down0" counter drop');
  });

  it('latency routes the router\'s traffic through the delay device', () => {
    const s = faultSteps(r, 'wan1', { ...NO_FAULT, latencyMs: 200 });
    expect(s.latencyMs).toBe(200);
    expect(s.ip).toEqual([
      'link set down0 up',
      'route replace default via 198.19.3.1 dev up0',
      'link set dly0 up',
      'route replace default dev dly0 table 100',
      'rule add pref 100 iif down0 lookup 100',
    ]);
    expect(s.ip6.slice(-2)).toEqual(['route replace default dev dly0 table 100', 'rule add pref 100 iif down0 lookup 100']);
  });
});

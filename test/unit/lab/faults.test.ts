import { describe, expect, it } from 'vitest';
import { describeFault, faultSteps, parseFaultAction, withAction } from '../../../src/lab/faults.js';
import { routerPlan } from '../../../src/lab/plan.js';
import { NO_FAULT } from '../../../src/lab/state.js';

describe('lab faults', () => {
  it('parses the fault words', () => {
    expect(parseFaultAction(['link-down'])).toEqual({ kind: 'link-down' });
    expect(parseFaultAction(['upstream-cut'])).toEqual({ kind: 'upstream-cut' });
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
    expect(s).toEqual({ linkDown: false, upstreamCut: true, lossPct: 20, latencyMs: 100 });
    expect(describeFault(s)).toBe('upstream cut, loss 20%, latency +100 ms');
    expect(withAction(s, { kind: 'clear' })).toEqual(NO_FAULT);
    expect(describeFault(NO_FAULT)).toBe('none');
    expect(withAction(s, { kind: 'loss', pct: 0 }).lossPct).toBe(0);
  });

  const r = routerPlan(3);

  it('with no fault, restores the ISP: link up, default to the internet, no loss table, no delay rule', () => {
    const s = faultSteps(r, 'wan1', NO_FAULT);
    expect(s.ns).toBe('elab-r3-isp1');
    expect(s.ip).toEqual(['link set down0 up', 'route replace default via 198.19.3.1 dev up0']);
    expect(s.ipCleanup).toEqual(['rule del pref 100']);
    expect(s.nft).toBe('table ip elab_fault\ndelete table ip elab_fault\n');
    expect(s.latencyMs).toBe(0);
  });

  it('link-down takes the ISP side of the link down (the router loses carrier)', () => {
    expect(faultSteps(r, 'wan2', { ...NO_FAULT, linkDown: true }).ip[0]).toBe('link set down0 down');
    expect(faultSteps(r, 'wan2', NO_FAULT).ns).toBe('elab-r3-isp2');
  });

  it('upstream-cut keeps the link up and blackholes the ISP default route', () => {
    const s = faultSteps(r, 'wan1', { ...NO_FAULT, upstreamCut: true });
    expect(s.ip).toEqual(['link set down0 up', 'route replace blackhole default']);
  });

  it('loss drops that share of what the router sends onward, in the ISP namespace', () => {
    const s = faultSteps(r, 'wan1', { ...NO_FAULT, lossPct: 35 });
    expect(s.nft).toContain('iifname "down0" numgen random mod 100 < 35 counter drop');
    expect(s.nft).toContain('type filter hook forward priority 0; policy accept;');
    expect(s.nft.startsWith('table ip elab_fault\ndelete table ip elab_fault\n')).toBe(true);
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
  });
});

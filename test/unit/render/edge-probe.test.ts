import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeMachine } from '../../../src/render/router-programs.js';
import { edgeVarsSchema } from '../../../src/inventory/vars.js';
import { qualityOf } from '../../../src/tasks/failover.js';
import { has } from '../../fixtures/host-tools.js';

/**
 * edge-probe's state machine (mawk), driven by synthetic event streams: every time is in the input,
 * so each scenario is exact and instant. Defaults come from the inventory schema, as a router gets them.
 */

const d = edgeVarsSchema.parse({});
const TARGETS = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
const dir = mkdtempSync(join(tmpdir(), 'edge-probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Decision {
  at: number;
  state: 'UP' | 'DEGRADED' | 'DOWN';
  why: string;
}

interface Options {
  timeout?: number;
  rise?: number;
  need?: number;
  hold?: number;
}

/** Feed `lines` to the machine (run dir `run`, kept between calls to model a restart); its decisions. */
function machine(lines: string[], run = mkdtempSync(join(dir, 'run-')), o: Options = {}) {
  const q = qualityOf(d);
  const r = spawnSync(
    'mawk',
    [
      '-W', 'interactive',
      '-v', 'wan=wan1', '-v', 'ifname=wan1', '-v', `targets=${TARGETS.join(' ')}`,
      '-v', `timeout=${o.timeout ?? d.edge_health_timeout}`, '-v', `rise=${o.rise ?? d.edge_health_rise}`,
      '-v', `need=${o.need ?? d.edge_health_success_threshold}`, '-v', `grace=${o.rise ?? d.edge_health_rise}`, '-v', `run_dir=${run}`,
      '-v', `interval=${d.edge_health_interval}`, '-v', `window=${q.window}`, '-v', `dloss=${q.degradedLoss}`, '-v', `rloss=${q.recoveryLoss}`,
      '-v', `drtt=${q.degradedRtt}`, '-v', `rrtt=${q.recoveryRtt}`, '-v', `hold=${o.hold ?? q.recoveryHold}`,
      probeMachine(),
    ],
    { input: lines.join('\n') + '\n', encoding: 'utf8' },
  );
  expect(r.stderr).toBe('');
  const decisions: Decision[] = [];
  // The machine prints "wan1 is DOWN: why" as it decides; the .probe file has the time of the last one.
  for (const l of r.stdout.split('\n').filter(Boolean)) {
    const m = /^wan1 is (UP|DEGRADED|DOWN): (.*)$/.exec(l);
    if (m) decisions.push({ at: NaN, state: m[1] as Decision['state'], why: m[2]! });
  }
  const read = (f: string) => (existsSync(join(run, f)) ? readFileSync(join(run, f), 'utf8') : '');
  const probe = read('wan1.probe');
  const track = read('wan1.track');
  const last = decisions.at(-1);
  if (last) last.at = Number(probe.split(' ')[1]);
  return { decisions, probe, track, run };
}

/**
 * What edge-probe's producer and pings print for `seconds` from `t0`: a tick every 0.25 s and, per
 * target, a probe every interval that is answered (`ok(target, t)` true: in 2 ms; a number: in that
 * many seconds, reported unanswered first if that is longer than the interval, as ping -O does) or
 * reported unanswered (false).
 */
function stream(t0: number, seconds: number, ok: (target: string, t: number) => boolean | number, interval = d.edge_health_interval): string[] {
  const ev: [number, string][] = [[t0, `addr ${t0.toFixed(6)} 198.51.100.13`]];
  for (let t = t0; t < t0 + seconds; t += 0.25) ev.push([t, `tick ${t.toFixed(6)} ${t.toFixed(6)}`]);
  TARGETS.forEach((x, k) => {
    let seq = 1;
    for (let t = t0 + 0.01 * k; t < t0 + seconds; t += interval, seq++) {
      const a = ok(x, t);
      const rtt = a === true ? 0.002 : a;
      if (rtt === false || rtt > interval) ev.push([t + interval, `[${(t + interval).toFixed(6)}] no answer yet for icmp_seq=${seq}`]);
      if (rtt !== false) ev.push([t + rtt, `[${(t + rtt).toFixed(6)}] 64 bytes from ${x}: icmp_seq=${seq} ttl=63 time=${(rtt * 1000).toFixed(1)} ms`]);
    }
  });
  return ev.sort((a, b) => a[0] - b[0]).map((e) => e[1]);
}

/** A seeded generator (mulberry32): the same "random" loss every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.skipIf(!has('mawk'))('edge-probe state machine', () => {
  const T0 = 1_796_000_000;

  it('first measurement: up at the first answers; track file 0', () => {
    const m = machine(stream(T0, 2, () => true));
    expect(m.decisions.map((x) => x.state)).toEqual(['UP']);
    expect(m.track).toBe('0\n');
    expect(m.probe).toMatch(/^up [0-9.]+ 3 of 3 targets answered \(first measurement\)\n$/);
  });

  it('a cut: down once no target answered for the timeout, with which targets failed and when they last answered', () => {
    const cut = T0 + 5;
    const m = machine(stream(T0, 10, (_x, t) => t < cut));
    expect(m.decisions.map((x) => x.state)).toEqual(['UP', 'DOWN']);
    const down = m.decisions[1]!;
    expect(down.at - cut).toBeGreaterThanOrEqual(d.edge_health_timeout);
    expect(down.at - cut).toBeLessThanOrEqual(d.edge_health_timeout + d.edge_health_interval + 0.01);
    expect(down.why).toMatch(/^0 of 3 targets answered within 1\.2 s \(1 needed\): 192\.0\.2\.1 1\.[0-9] s ago, 192\.0\.2\.2 1\.[0-9] s ago, 192\.0\.2\.3 1\.[0-9] s ago$/);
    expect(m.track).toBe('1\n');
  });

  it('losing the address: down at once (no timeout to wait for), with that reason', () => {
    const lines = [...stream(T0, 3, () => true), `addr ${(T0 + 3).toFixed(6)} -`];
    for (let t = T0 + 3; t < T0 + 6; t += 0.25) lines.push(`tick ${t.toFixed(6)} ${t.toFixed(6)}`);
    const m = machine(lines);
    expect(m.decisions.at(-1)).toMatchObject({ state: 'DOWN', why: 'wan1 has no IPv4 address', at: T0 + 3 });
  });

  it('losing the carrier (link down): down at once; back only after the rise period once it answers again', () => {
    const down = T0 + 3;
    const up = T0 + 5;
    const lines = stream(T0, 20, (_x, t) => t < down || t >= up);
    lines.push(`carrier ${down.toFixed(6)} 0`, `carrier ${up.toFixed(6)} 1`);
    const time = (l: string) => Number(/^(?:tick |addr |carrier |\[)([0-9.]+)/.exec(l)![1]);
    const m = machine(lines.sort((a, b) => time(a) - time(b)));
    expect(m.decisions.map((x) => x.state)).toEqual(['UP', 'DOWN', 'UP']);
    // the DOWN: its reason, and it came with the carrier event, not a timeout later
    const probeLog = m.decisions[1]!;
    expect(probeLog.why).toBe('wan1 has no carrier (link down)');
    expect(m.decisions[2]!.at - up).toBeGreaterThanOrEqual(d.edge_health_rise);
    // at once: the same stream cut 0.3 s after the carrier went, well inside the timeout, already has it
    const early = machine(lines.filter((l) => time(l) <= down + 0.3));
    expect(early.decisions.at(-1)).toMatchObject({ state: 'DOWN', at: down });
  });

  it('damping: out at the first down of a flapping WAN, back only after the rise period without a break', () => {
    // answers for 5 s, then 3 s dead / 3 s alive for 60 s, then steady
    const flapFrom = T0 + 5;
    const flapTo = flapFrom + 60;
    const ok = (_x: string, t: number) => t < flapFrom || t >= flapTo || Math.floor((t - flapFrom) / 3) % 2 === 1;
    const m = machine(stream(T0, 85, ok));
    expect(m.decisions.map((x) => x.state)).toEqual(['UP', 'DOWN', 'UP']);
    const back = m.decisions[2]!;
    // steady from the last dead phase's end (flapTo - 3 s... the last 3 s of the flap are alive)
    const steadySince = flapTo - 3;
    expect(back.at - steadySince).toBeGreaterThanOrEqual(d.edge_health_rise);
    expect(back.at - steadySince).toBeLessThan(d.edge_health_rise + 0.5);
    expect(back.why).toMatch(/healthy without a break for 8\.[0-9] s$/);
  });

  it('a wall clock stepped a day forward, then back two days, changes no decision: durations are monotonic', () => {
    // The stream's times are the monotonic clock; ticks carry the wall time as a second field and
    // ping stamps its replies with wall time, both stepped as NTP would step them.
    const cut = T0 + 40;
    const plain = stream(T0, 60, (_x, t) => t < cut);
    const step = (t: number) => (t >= T0 + 10 ? 86_400 : 0) - (t >= T0 + 25 ? 2 * 86_400 : 0);
    const stepped = plain.map((l) =>
      l
        .replace(/^tick ([0-9.]+) ([0-9.]+)$/, (_m, m: string, w: string) => `tick ${m} ${(Number(w) + step(Number(m))).toFixed(6)}`)
        .replace(/^\[([0-9.]+)\]/, (_m, w: string) => `[${(Number(w) + step(Number(w))).toFixed(6)}]`),
    );
    expect(stepped.some((l) => l.startsWith(`tick ${(T0 + 30).toFixed(6)} ${(T0 + 30 - 86_400).toFixed(6)}`))).toBe(true);
    const a = machine(plain);
    const b = machine(stepped);
    expect(b.decisions.map((x) => [x.state, x.why])).toEqual(a.decisions.map((x) => [x.state, x.why]));
    expect(b.decisions.map((x) => x.state)).toEqual(['UP', 'DOWN']);
    // the cut is detected on time; the time written for people is the (stepped) wall time
    expect(b.decisions[1]!.at - (cut - 86_400)).toBeGreaterThanOrEqual(d.edge_health_timeout);
    expect(b.decisions[1]!.at - (cut - 86_400)).toBeLessThanOrEqual(d.edge_health_timeout + d.edge_health_interval + 0.01);
  });

  it('a restart keeps the last decision: a WAN that was down stays down until it has been healthy for the rise period', () => {
    const first = machine(stream(T0, 10, (_x, t) => t < T0 + 3));
    expect(first.decisions.at(-1)!.state).toBe('DOWN');
    const again = machine(stream(T0 + 20, 5, () => true), first.run);
    expect(again.decisions).toEqual([]); // 5 s healthy < rise 8 s
    expect(again.track).toBe('1\n');
    const later = machine(stream(T0 + 30, 10, () => true), first.run);
    expect(later.decisions.map((x) => x.state)).toEqual(['UP']);
  });

  it('at the defaults, no DOWN in 10 minutes of 20 % loss each way (36 % of round trips), with all three or only two targets answering: degraded once, and held', () => {
    for (const [name, alive] of [
      ['3 targets', TARGETS],
      ['2 targets (one dead)', TARGETS.slice(0, 2)],
    ] as const) {
      const r = rng(42);
      const pass = () => r() >= 0.2 && r() >= 0.2;
      const m = machine(stream(T0, 600, (x) => alive.includes(x) && pass()));
      expect(m.decisions.map((x) => x.state), name).toEqual(['UP', 'DEGRADED']);
      expect(m.decisions[1]!.why, name).toMatch(/^loss (3[0-9]|4[0-9]) % > 30 % over the last 10 s \(rtt 2 ms\)$/);
    }
  });

  it('…while a probe timeout at a third of the default would flap on the same loss (the test can fail)', () => {
    const r = rng(42);
    const m = machine(stream(T0, 600, (x) => x !== TARGETS[2] && r() >= 0.2 && r() >= 0.2), undefined, { timeout: 0.4 });
    expect(m.decisions.filter((x) => x.state === 'DOWN').length).toBeGreaterThan(0);
  });

  it('+1 s of latency: answers keep coming, only later; no DOWN, but degraded by its round-trip time', () => {
    const m = machine(stream(T0, 60, (_x, t) => (t < T0 + 10 ? true : 1.002)));
    expect(m.decisions.map((x) => x.state)).toEqual(['UP', 'DEGRADED']);
    expect(m.decisions[1]!.why).toBe('rtt 1002 ms > 1000 ms over the last 10 s (loss 0 %)');
  });

  it('the defaults stay within the budget: at most 30 probe packets per second per WAN, and several probes per timeout', () => {
    expect(TARGETS.length / d.edge_health_interval).toBeLessThanOrEqual(30);
    expect(d.edge_health_timeout / d.edge_health_interval).toBeGreaterThanOrEqual(3);
    expect(d.edge_health_timeout + d.edge_health_interval).toBeLessThan(2);
    expect(d.edge_health_rise).toBeLessThanOrEqual(10);
  });
});

describe.skipIf(!has('mawk'))('edge-probe quality: loss and round-trip time over a window, with hysteresis', () => {
  const T0 = 1_796_000_000;
  const states = (m: { decisions: Decision[] }) => m.decisions.map((x) => x.state);
  /** When (machine time) each decision was made: from the "at" the machine wrote with each. */
  const decisionTimes = (lines: string[], run?: string) => {
    const out: number[] = [];
    // the .probe file keeps only the last decision: run the stream up to each line that decides
    const m = machine(lines, run);
    for (let i = 0, seen = 0; i < m.decisions.length; i++) {
      let lo = seen;
      let hi = lines.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (machine(lines.slice(0, mid + 1)).decisions.length > i) hi = mid;
        else lo = mid + 1;
      }
      out.push(Number(/^(?:tick |addr |\[)([0-9.]+)/.exec(lines[lo]!)![1]));
      seen = lo;
    }
    return out;
  };

  it('10 % loss each way (19 % of round trips) for 10 minutes, or one dead target of three: never degraded', () => {
    const r = rng(7);
    expect(states(machine(stream(T0, 600, () => r() >= 0.1 && r() >= 0.1)))).toEqual(['UP']);
    expect(states(machine(stream(T0, 600, (x) => x !== TARGETS[0])))).toEqual(['UP']);
    // every target at 10 % each way and one dead: the best target decides
    const r2 = rng(8);
    expect(states(machine(stream(T0, 600, (x) => x !== TARGETS[0] && r2() >= 0.1 && r2() >= 0.1)))).toEqual(['UP']);
  });

  it('a brownout (40 % loss each way) is degraded within seconds and good again only after the recovery hold', () => {
    const r = rng(3);
    const from = T0 + 20;
    const to = from + 60;
    const lines = stream(T0, 140, (_x, t) => (t < from || t >= to ? true : r() >= 0.4 && r() >= 0.4));
    const m = machine(lines);
    expect(states(m)).toEqual(['UP', 'DEGRADED', 'UP']);
    expect(m.decisions[1]!.why).toMatch(/^loss (3[1-9]|[4-7][0-9]) % > 30 %/);
    expect(m.decisions[2]!.why).toMatch(/^loss [0-9]+ % <= 10 % and rtt 2 ms <= 500 ms, without a break for 30\.[0-9] s$/);
    const [, degradedAt, upAt] = decisionTimes(lines);
    expect(degradedAt! - from).toBeGreaterThan(2);
    expect(degradedAt! - from).toBeLessThan(8);
    // good once the window has forgotten most of the loss, then held for 30 s
    expect(upAt! - to).toBeGreaterThanOrEqual(d.edge_health_recovery_hold);
    expect(upAt! - to).toBeLessThan(d.edge_health_recovery_hold + d.edge_health_window + 1);
  });

  it('a link alternating 40 % and 0 % loss every 20 s for 10 minutes is held out: degraded once, never up until it stays good', () => {
    const r = rng(11);
    const from = T0 + 20;
    const to = from + 600;
    const bad = (t: number) => t >= from && t < to && Math.floor((t - from) / 20) % 2 === 0;
    const m = machine(stream(T0, 680, (_x, t) => (bad(t) ? r() >= 0.4 && r() >= 0.4 : true)));
    expect(states(m)).toEqual(['UP', 'DEGRADED', 'UP']);
    // …and with a hold shorter than a good spell it would oscillate (the test can fail)
    const r2 = rng(11);
    const short = machine(stream(T0, 680, (_x, t) => (bad(t) ? r2() >= 0.4 && r2() >= 0.4 : true)), undefined, { hold: 5 });
    expect(states(short).filter((s) => s === 'DEGRADED').length).toBeGreaterThan(10);
  });

  it('+1.5 s of latency: down at once (nothing answers within the timeout), then back as degraded, not up', () => {
    const m = machine(stream(T0, 60, (_x, t) => (t < T0 + 10 ? true : 1.5)));
    expect(states(m)).toEqual(['UP', 'DOWN', 'DEGRADED']);
    expect(m.decisions[2]!.why).toMatch(/^3 of 3 targets answered, alive without a break for 8\.[0-9] s, but rtt 1500 ms > 1000 ms/);
  });

  it('the health line: loss and RTT of the window ("-" until judged) and GOOD', () => {
    const health = (lines: string[]) => readFileSync(join(machine(lines).run, 'wan1.health'), 'utf8').trim().split(' ');
    expect(health(stream(T0, 3, () => true)).slice(7)).toEqual(['-', '-', '0']);
    expect(health(stream(T0, 30, () => 0.05)).slice(7)).toEqual(['0.0', '50', '1']);
    const lossy = health(stream(T0, 30, (x) => x === TARGETS[0] || x === TARGETS[1] ? 0.6 : false));
    expect(lossy.slice(7)).toEqual(['0.0', '600', '0']); // the best target: no loss, but 600 ms > 500 ms
  });
});

describe('edge-probe script', () => {
  it("the health line carries the seconds failed in a row and the counters edge-metrics reads (replies, unanswered probes, RTT)", () => {
    const t0 = 1_700_000_000;
    const health = (lines: string[], run?: string) => {
      const m = machine(lines, run);
      return { run: m.run, f: readFileSync(join(m.run, 'wan1.health'), 'utf8').trim().split(' ') };
    };
    // 10 s with the third target dead: 2 of 3 answer (2 ms each), 1 of 3 unanswered
    const a = health(stream(t0, 10, (x) => x !== TARGETS[2]));
    const [result, , , fails, answered, lost, rtt] = a.f;
    expect([result, fails]).toEqual(['pass', '0']);
    expect(Number(answered)).toBeGreaterThan(100);
    expect(Number(lost)).toBeGreaterThan(Number(answered) / 2 - 5);
    expect(Number(lost)).toBeLessThan(Number(answered) / 2 + 5);
    expect(Number(rtt)).toBeCloseTo(Number(answered) * 0.002, 6);
    // then 5 s with no answer at all: failed 3-4 seconds in a row once the timeout has passed
    const b = health(stream(t0 + 10, 5, () => false), a.run);
    expect(b.f[0]).toBe('fail');
    expect(Number(b.f[3])).toBeGreaterThanOrEqual(3);
    expect(Number(b.f[3])).toBeLessThanOrEqual(5);
  });

  it('is written to a file mawk reads, and the inventory rejects a timeout shorter than three probes', () => {
    expect(edgeVarsSchema.safeParse({ edge_health_interval: 0.5, edge_health_timeout: 1 }).success).toBe(false);
    expect(edgeVarsSchema.safeParse({ edge_health_interval: 0.2, edge_health_timeout: 1 }).success).toBe(true);
    writeFileSync(join(dir, 'm.awk'), probeMachine());
    expect(spawnSync('mawk', ['-f', join(dir, 'm.awk')], { input: '' }).status).toBe(0);
  });
});

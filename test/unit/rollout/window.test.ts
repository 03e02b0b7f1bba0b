import { describe, expect, it } from 'vitest';
import { closesAt, describeWindow, formatInstant, instantOf, isOpen, nextOpen } from '../../../src/engine/window.js';
import { windowSchema, type Window } from '../../../src/playbook/window-schema.js';

const AMS = 'Europe/Amsterdam';
const NY = 'America/New_York';
const at = (iso: string) => new Date(iso);
const win = (w: Partial<Window> & Pick<Window, 'start' | 'end' | 'timezone'>): Window => windowSchema.parse(w);
/** Wall-clock time as a UTC-fields timestamp, for instantOf. */
const local = (iso: string) => Date.parse(`${iso}Z`);

describe('local wall-clock time → instant (DST rules)', () => {
  it('ordinary times: CET/CEST and EST/EDT', () => {
    expect(new Date(instantOf(AMS, local('2026-01-15T02:00:00'))).toISOString()).toBe('2026-01-15T01:00:00.000Z');
    expect(new Date(instantOf(AMS, local('2026-07-15T02:00:00'))).toISOString()).toBe('2026-07-15T00:00:00.000Z');
    expect(new Date(instantOf(NY, local('2026-01-15T02:00:00'))).toISOString()).toBe('2026-01-15T07:00:00.000Z');
    expect(new Date(instantOf(NY, local('2026-07-15T02:00:00'))).toISOString()).toBe('2026-07-15T06:00:00.000Z');
  });
  it('a time in the spring-forward gap is the first instant after it (the transition)', () => {
    // EU 29 Mar 2026: 02:00 CET → 03:00 CEST at 01:00 UTC; US 8 Mar 2026: 02:00 EST → 03:00 EDT at 07:00 UTC
    expect(new Date(instantOf(AMS, local('2026-03-29T02:30:00'))).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(new Date(instantOf(AMS, local('2026-03-29T02:00:00'))).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(new Date(instantOf(AMS, local('2026-03-29T03:00:00'))).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(new Date(instantOf(NY, local('2026-03-08T02:30:00'))).toISOString()).toBe('2026-03-08T07:00:00.000Z');
  });
  it('an ambiguous fall-back time is its FIRST occurrence', () => {
    // EU 25 Oct 2026: 03:00 CEST → 02:00 CET at 01:00 UTC, so 02:30 is 00:30Z (CEST) and 01:30Z (CET)
    expect(new Date(instantOf(AMS, local('2026-10-25T02:30:00'))).toISOString()).toBe('2026-10-25T00:30:00.000Z');
    // US 1 Nov 2026: 02:00 EDT → 01:00 EST at 06:00 UTC, so 01:30 is 05:30Z (EDT) and 06:30Z (EST)
    expect(new Date(instantOf(NY, local('2026-11-01T01:30:00'))).toISOString()).toBe('2026-11-01T05:30:00.000Z');
    expect(new Date(instantOf(NY, local('2026-11-01T02:00:00'))).toISOString()).toBe('2026-11-01T07:00:00.000Z');
  });
});

describe('isOpen / nextOpen / closesAt', () => {
  it('a daily window in Amsterdam, winter and summer', () => {
    const w = win({ start: '02:00', end: '04:00', timezone: AMS });
    expect(isOpen(w, at('2026-01-15T00:59:59Z'))).toBe(false);
    expect(isOpen(w, at('2026-01-15T01:00:00Z'))).toBe(true);
    expect(isOpen(w, at('2026-01-15T02:59:59Z'))).toBe(true);
    expect(isOpen(w, at('2026-01-15T03:00:00Z'))).toBe(false); // the end is exclusive
    expect(closesAt(w, at('2026-01-15T01:30:00Z'))).toEqual(at('2026-01-15T03:00:00Z'));
    expect(closesAt(w, at('2026-01-15T03:30:00Z'))).toBeUndefined();
    expect(nextOpen(w, at('2026-01-15T03:30:00Z'))).toEqual(at('2026-01-16T01:00:00Z'));
    expect(nextOpen(w, at('2026-07-15T03:30:00Z'))).toEqual(at('2026-07-16T00:00:00Z'));
    const now = at('2026-01-15T02:00:00Z');
    expect(nextOpen(w, now)).toBe(now); // open now: `from` itself
  });

  it('Amsterdam across spring forward (29 Mar 2026): a 02:30 start opens at 03:00 CEST', () => {
    const w = win({ days: ['sun'], start: '02:30', end: '04:00', timezone: AMS });
    expect(nextOpen(w, at('2026-03-28T12:00:00Z'))).toEqual(at('2026-03-29T01:00:00Z'));
    expect(isOpen(w, at('2026-03-29T00:59:59Z'))).toBe(false);
    expect(isOpen(w, at('2026-03-29T01:00:00Z'))).toBe(true);
    expect(closesAt(w, at('2026-03-29T01:00:00Z'))).toEqual(at('2026-03-29T02:00:00Z')); // 04:00 CEST
    // the next Sunday is ordinary summer time
    expect(nextOpen(w, at('2026-03-29T03:00:00Z'))).toEqual(at('2026-04-05T00:30:00Z'));
  });

  it('New York across spring forward (8 Mar 2026): a 02:30 start opens at 03:00 EDT', () => {
    const w = win({ days: ['sun'], start: '02:30', end: '05:00', timezone: NY });
    expect(nextOpen(w, at('2026-03-07T12:00:00Z'))).toEqual(at('2026-03-08T07:00:00Z'));
    expect(closesAt(w, at('2026-03-08T07:00:00Z'))).toEqual(at('2026-03-08T09:00:00Z'));
    // the Sunday before: EST, 02:30 = 07:30Z
    expect(nextOpen(w, at('2026-02-28T12:00:00Z'))).toEqual(at('2026-03-01T07:30:00Z'));
  });

  it('a window the spring-forward gap swallows whole does not open that day', () => {
    const w = win({ days: ['sun'], start: '02:10', end: '02:50', timezone: AMS });
    expect(nextOpen(w, at('2026-03-28T12:00:00Z'))).toEqual(at('2026-04-05T00:10:00Z'));
  });

  it('Amsterdam across fall back (25 Oct 2026): first occurrence, the hour repeats inside the window', () => {
    const w = win({ days: ['sun'], start: '02:30', end: '03:30', timezone: AMS });
    expect(nextOpen(w, at('2026-10-24T12:00:00Z'))).toEqual(at('2026-10-25T00:30:00Z')); // 02:30 CEST
    expect(closesAt(w, at('2026-10-25T00:30:00Z'))).toEqual(at('2026-10-25T02:30:00Z')); // 03:30 CET: two real hours
    expect(isOpen(w, at('2026-10-25T01:45:00Z'))).toBe(true); // 02:45 CET, the repeated hour
  });

  it('New York across fall back (1 Nov 2026): a 01:30 start is 01:30 EDT', () => {
    const w = win({ days: ['sun'], start: '01:30', end: '03:00', timezone: NY });
    expect(nextOpen(w, at('2026-10-31T12:00:00Z'))).toEqual(at('2026-11-01T05:30:00Z'));
    expect(closesAt(w, at('2026-11-01T05:30:00Z'))).toEqual(at('2026-11-01T08:00:00Z')); // 03:00 EST
    // an ambiguous END closes on its first occurrence: 01:00–01:30 ends at 01:30 EDT
    const e = win({ days: ['sun'], start: '00:30', end: '01:30', timezone: NY });
    expect(closesAt(e, at('2026-11-01T05:00:00Z'))).toEqual(at('2026-11-01T05:30:00Z'));
    expect(isOpen(e, at('2026-11-01T06:10:00Z'))).toBe(false); // 01:10 EST, the second time round
  });

  it('overnight windows spanning a DST change last an hour more or less', () => {
    const w = win({ days: ['sat'], start: '22:00', end: '04:00', timezone: AMS });
    expect(nextOpen(w, at('2026-03-28T12:00:00Z'))).toEqual(at('2026-03-28T21:00:00Z'));
    expect(closesAt(w, at('2026-03-28T21:00:00Z'))).toEqual(at('2026-03-29T02:00:00Z')); // 5 h
    expect(nextOpen(w, at('2026-10-24T12:00:00Z'))).toEqual(at('2026-10-24T20:00:00Z'));
    expect(closesAt(w, at('2026-10-24T20:00:00Z'))).toEqual(at('2026-10-25T03:00:00Z')); // 7 h
  });

  it('a midnight-crossing window belongs to the day it starts on', () => {
    // Tue 23:00 – Wed 01:00 Amsterdam (CET); 2026-01-06 is a Tuesday
    const w = win({ days: ['tue'], start: '23:00', end: '01:00', timezone: AMS });
    expect(isOpen(w, at('2026-01-06T22:00:00Z'))).toBe(true); // Tue 23:00
    expect(isOpen(w, at('2026-01-06T23:30:00Z'))).toBe(true); // Wed 00:30, still Tuesday's opening
    expect(isOpen(w, at('2026-01-07T00:00:00Z'))).toBe(false); // Wed 01:00
    expect(isOpen(w, at('2026-01-07T22:30:00Z'))).toBe(false); // Wed 23:30: Wednesday is not a window day
    expect(isOpen(w, at('2026-01-05T23:30:00Z'))).toBe(false); // Tue 00:30 belongs to Monday: closed
    expect(closesAt(w, at('2026-01-06T23:30:00Z'))).toEqual(at('2026-01-07T00:00:00Z'));
    expect(nextOpen(w, at('2026-01-07T12:00:00Z'))).toEqual(at('2026-01-13T22:00:00Z'));
  });

  it('days-of-week filter and an end of 24:00', () => {
    const w = win({ days: ['sat', 'sun'], start: '00:00', end: '24:00', timezone: NY });
    expect(isOpen(w, at('2026-01-09T12:00:00Z'))).toBe(false); // Friday
    expect(nextOpen(w, at('2026-01-09T12:00:00Z'))).toEqual(at('2026-01-10T05:00:00Z')); // Sat 00:00 EST
    // Saturday and Sunday touch at midnight: one opening until Monday 00:00
    expect(closesAt(w, at('2026-01-10T12:00:00Z'))).toEqual(at('2026-01-12T05:00:00Z'));
  });

  it('start == end (refused by the schema) would be a 24-hour opening', () => {
    const w: Window = { days: ['wed'], start: '10:00', end: '10:00', timezone: 'UTC' };
    expect(isOpen(w, at('2026-01-07T10:00:00Z'))).toBe(true);
    expect(isOpen(w, at('2026-01-08T09:59:00Z'))).toBe(true);
    expect(closesAt(w, at('2026-01-07T12:00:00Z'))).toEqual(at('2026-01-08T10:00:00Z'));
  });

  it('the same wall-clock window in two zones is different instants', () => {
    const ams = win({ start: '02:00', end: '04:00', timezone: AMS });
    const ny = win({ start: '02:00', end: '04:00', timezone: NY });
    const t = at('2026-01-15T01:30:00Z');
    expect([isOpen(ams, t), isOpen(ny, t)]).toEqual([true, false]);
    expect(nextOpen(ny, t)).toEqual(at('2026-01-15T07:00:00Z'));
  });

  it('describes windows and instants for messages', () => {
    expect(describeWindow(win({ days: ['tue', 'thu'], start: '02:00', end: '04:00', timezone: AMS }))).toBe('tue,thu 02:00–04:00 Europe/Amsterdam');
    expect(describeWindow(win({ start: '02:00', end: '04:00', timezone: AMS }))).toBe('daily 02:00–04:00 Europe/Amsterdam');
    expect(formatInstant(at('2026-03-29T01:00:00Z'), AMS)).toBe('2026-03-29 03:00 Europe/Amsterdam (2026-03-29T01:00:00Z)');
  });
});

import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseYaml } from '../../../src/config/yaml-source.js';
import {
  nftComment,
  nftHashComment,
  nftPrefix,
  nftPrefix6,
  nftString,
  shComment,
  shQuote,
  SYSCTL_FAMILIES,
  sysctlKey,
  sysctlValue,
  systemdExecPath,
  systemdValue,
  termBytes,
  termLine,
  termText,
} from '../../../src/encode/index.js';
import { resolvePlays } from '../../../src/engine/run-playbook.js';
import { EdgeError, EdgeErrors, formatError, type ErrorCode } from '../../../src/errors.js';
import { ANSIBLE_VARS } from '../../../src/inventory/ansible-vars.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { KNOWN_VARS } from '../../../src/inventory/var-names.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { PLAY_KEYS } from '../../../src/playbook/play-schema.js';
import { TASK_NAMES } from '../../../src/tasks/contract.js';

/**
 * Property-based fuzzing of inventory and playbook loading (fast-check), seeded and reproducible:
 * generated documents (right shapes with hostile values, wrong shapes), the same printed as YAML
 * and then broken by random edits, and token soup. For every case: no exception other than edge's
 * own errors, every error has a known code and, for a CONFIG error about the file, its
 * file:line:col inside the text, and no case takes longer than the per-case budget. Then every
 * encoder of src/encode (each sink) with every hostile value class: it writes the value as itself
 * or refuses it, and what it accepts the real reader (bash, nft -c) reads back as that value.
 *
 * Reproduce a failure with the seed (and path) fast-check prints: EDGE_FUZZ_SEED=... ; run more
 * with EDGE_FUZZ_SCALE=10.
 */

const SEED = Number(process.env.EDGE_FUZZ_SEED ?? 20261201);
const SCALE = Number(process.env.EDGE_FUZZ_SCALE ?? 1);
/** Per case; generous because CI shares 2 cores with other suites (real cases take ~1 ms). */
const CASE_BUDGET_MS = 2000;
const FILE = 'fuzz.yaml';

const CODES: readonly ErrorCode[] = ['CONFIG', 'USAGE', 'CONNECT', 'HOSTKEY', 'EXEC', 'TIMEOUT', 'TASK', 'VERIFY', 'ROLLBACK', 'LOCKOUT', 'WINDOW', 'LAB', 'INTERRUPTED'];

const HOSTILE = [
  'r1\ntouch /tmp/edge-canary #', 'r1\r\nx', 'a\0b', '$(touch /tmp/edge-canary)', '`touch /tmp/edge-canary`',
  "'; touch /tmp/edge-canary; '", '"; touch /tmp/edge-canary; "', '; touch /tmp/edge-canary', '# x', "it's",
  '\u202egnp.exe', '\u2066x\u2069', 'r\u200b1', '\x1b[2J', '-oProxyCommand=x', '', ' ', '~', '<<', '*', '!x', '&x',
  '{{ x }}', '%', '[1:3]', 'r[1:99999999]', 'r[a:Z]', 'r[3:1]', 'r[1:9:0]', '10.0.0.1/24', '127.0.0.1', '224.0.0.1',
  '0x0', '0xffffffffff', 'main', 'wan1', 'lan0', 'mgmt0', '~(a+)+$', '~[', 'all', '!all', 'ungrouped',
  '1e309', '.inf', '.nan', 'null', 'yes', 'no', '0644', '22:00', '2026-12-01', 'é', '😀', 'x'.repeat(300),
];

const hostile = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...HOSTILE), fc.constantFrom(...HOSTILE)).map(([a, b]) => a + b) },
);

const scalar = fc.oneof(
  hostile,
  fc.integer(),
  fc.integer({ min: -2, max: 70000 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.ipV4(),
  fc.ipV4().map((ip) => `${ip}/${ip.length % 33}`),
);

/** Any YAML value, bounded in depth and size. */
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(hostile, fc.constantFrom(...KNOWN_VARS)), tie('value'), { maxKeys: 4 }),
  ),
}));

const varName = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...KNOWN_VARS) },
  { weight: 1, arbitrary: fc.constantFrom(...ANSIBLE_VARS, 'ansible_hots', 'edge_wan_interface') },
  { weight: 2, arbitrary: hostile },
);
const vars = fc.dictionary(varName, fc.oneof({ weight: 3, arbitrary: scalar }, { weight: 1, arbitrary: value }), { maxKeys: 6 });
const hostKey = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('r1', 'r2', 'rtr[01:03]', 'db-[a:c]') }, { weight: 2, arbitrary: hostile });
const groupKey = fc.oneof(fc.constantFrom('all', 'lab', 'edge', 'ungrouped', 'hosts', 'vars'), hostile);

/** Inventory-shaped documents: mostly right, sometimes wrong in one place. */
const { group } = fc.letrec<{ group: unknown }>((tie) => ({
  group: fc.oneof(
    { depthSize: 'small' },
    fc.record(
      {
        hosts: fc.oneof(fc.dictionary(hostKey, fc.option(vars, { nil: null }), { maxKeys: 4 }), value),
        vars: fc.oneof({ weight: 4, arbitrary: vars }, { weight: 1, arbitrary: value }),
        children: fc.dictionary(groupKey, tie('group'), { maxKeys: 3 }),
      },
      { requiredKeys: [] },
    ),
    value,
  ),
}));
const inventoryDoc = fc.oneof({ weight: 5, arbitrary: fc.record({ all: group }) }, { weight: 1, arbitrary: fc.dictionary(groupKey, group, { maxKeys: 3 }) }, { weight: 1, arbitrary: value });

const taskEntry = fc.oneof(
  fc.constantFrom(...TASK_NAMES),
  hostile,
  fc.constantFrom(...TASK_NAMES).chain((t) => fc.record({ name: fc.oneof(hostile, value), [t]: value }, { requiredKeys: [] })),
  fc.dictionary(fc.oneof(fc.constantFrom('name', ...TASK_NAMES), hostile), value, { maxKeys: 3 }),
);
const play = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        name: fc.oneof(hostile, value),
        hosts: fc.oneof(fc.constantFrom('all', 'r1', 'lab', 'r*', '~r[12]', 'lab:&r1', '!r2', 'nosuch'), hostile, value),
        vars: fc.oneof({ weight: 4, arbitrary: vars }, { weight: 1, arbitrary: value }),
        tasks: fc.oneof(fc.array(taskEntry, { maxLength: 4 }), value),
        serial: fc.oneof(fc.constantFrom(1, '30%', [1, '50%'], 0, '0%', '101%'), value),
        max_fail_percentage: value,
        window: fc.oneof(fc.record({ days: fc.constantFrom(['mon'], ['xyz']), start: fc.constantFrom('02:00', '25:00', hostile), end: value, timezone: fc.constantFrom('UTC', 'Mars/Olympus', 'Europe/Amsterdam') }, { requiredKeys: [] }), value),
        pause_between_batches: value,
        confirm_timeout: fc.oneof(fc.constantFrom(1, '5m', '0s', -1, '1h30m'), value),
        confirm: fc.oneof(fc.constantFrom('auto', 'manual'), value),
      },
      { requiredKeys: ['hosts', 'tasks'] },
    ),
  },
  { weight: 1, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom(...PLAY_KEYS), hostile), value, { maxKeys: 4 }) },
);
const playbookDoc = fc.oneof({ weight: 4, arbitrary: fc.array(play, { minLength: 1, maxLength: 3 }) }, { weight: 1, arbitrary: play }, { weight: 1, arbitrary: value });

/** YAML text of a document; an unprintable one (yaml refuses some keys) falls back to JSON. */
function toYaml(doc: unknown): string {
  try {
    return stringify(doc, { aliasDuplicateObjects: true });
  } catch {
    return JSON.stringify(doc) ?? 'null';
  }
}

const SPECIAL = ['\n', ' ', ':', '- ', '[', ']', '{', '}', ',', '&a ', '*a', '!evil ', '!!str ', '<<: ', '#', '"', "'", '|', '>', '\t', '---\n', '%YAML 1.1\n', '\\', '\u202e', '\0', '\r'];

/** Random edits of a text: inserts of YAML's special characters, deletions, truncation. */
const mutated = (base: fc.Arbitrary<string>) =>
  fc
    .tuple(base, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.constantFrom(...SPECIAL)), { minLength: 1, maxLength: 6 }), fc.option(fc.nat()))
    .map(([text, edits, cut]) => {
      let t = text;
      for (const [at, del, ins] of edits) {
        const i = t.length === 0 ? 0 : at % (t.length + 1);
        t = t.slice(0, i) + ins + t.slice(i + del);
      }
      return cut === null || t.length === 0 ? t : t.slice(0, cut % t.length);
    });

const tokenSoup = fc.array(fc.oneof(fc.constantFrom(...SPECIAL, 'all', 'hosts', 'vars', 'children', 'r1', 'tasks', 'verify', '  ', '    '), hostile), { maxLength: 40 }).map((ts) => ts.join(''));

/** The inventory plays are resolved against. */
const INVENTORY = parseInventory(parseYaml('all:\n  children:\n    lab:\n      hosts:\n        r1:\n        r2:\n', 'inv.yaml'));

/** What every error must be: one of edge's, with a code, and a place inside the text when it is about the file. */
function checkErrors(e: unknown, text: string): void {
  if (!(e instanceof EdgeError) && !(e instanceof EdgeErrors)) throw new Error(`not an edge error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  const lines = text.split(/\r\n|\r|\n/).length;
  for (const err of e instanceof EdgeErrors ? e.errors : [e]) {
    expect(CODES, formatError(err)).toContain(err.code);
    expect(err.message.length, 'an empty message').toBeGreaterThan(0);
    if (err.code !== 'CONFIG') continue;
    expect(err.pos, `no position: ${formatError(err)}`).toBeDefined();
    // An error about a play's hosts pattern may point into the inventory it was matched against.
    if (err.pos!.file === 'inv.yaml') continue;
    expect(err.pos!.file).toBe(FILE);
    expect(err.pos!.line, formatError(err)).toBeGreaterThanOrEqual(1);
    expect(err.pos!.line, formatError(err)).toBeLessThanOrEqual(lines + 1);
    expect(err.pos!.col, formatError(err)).toBeGreaterThanOrEqual(1);
  }
}

function loadsCleanly(kind: 'inventory' | 'playbook', text: string): void {
  const t0 = performance.now();
  try {
    if (kind === 'inventory') parseInventory(parseYaml(text, FILE));
    else resolvePlays(INVENTORY, parsePlaybook(parseYaml(text, FILE)));
  } catch (e) {
    checkErrors(e, text);
  }
  const ms = performance.now() - t0;
  expect(ms, `case took ${Math.round(ms)} ms`).toBeLessThan(CASE_BUDGET_MS);
}

const runs = (n: number) => ({ seed: SEED, numRuns: Math.round(n * SCALE) });

const CASES: Array<[string, number, fc.Arbitrary<string>, 'inventory' | 'playbook']> = [
  ['inventory documents with hostile values', 3000, inventoryDoc.map(toYaml), 'inventory'],
  ['inventories broken by random edits', 2500, mutated(inventoryDoc.map(toYaml)), 'inventory'],
  ['token soup as an inventory', 1000, tokenSoup, 'inventory'],
  ['playbook documents with hostile values', 2000, playbookDoc.map(toYaml), 'playbook'],
  ['playbooks broken by random edits', 1000, mutated(playbookDoc.map(toYaml)), 'playbook'],
  ['token soup as a playbook', 500, tokenSoup, 'playbook'],
];

describe('fuzzing inventory and playbook loading (fast-check, seeded)', () => {
  // 10,000 cases per run in all.
  it.each(CASES)('%s: %i cases', (_, n, texts, kind) => {
    fc.assert(fc.property(texts, (text) => loadsCleanly(kind, text)), runs(n));
  }, 120_000);
});

// ---- The encoders (src/encode): every sink, every hostile value class ----

/** Hostile value classes for the sinks: the list above, escape sequences a terminal obeys, raw bytes as text, and near-valid values. */
const ESCAPES = ['\x1b]52;c;cm0gLXJmIH4=\x07', '\x1b[2J\x1b[H', '\x9b31m', '\x1bP+q\x1b\\', '\u2028', '\u2029', '\ufeff', '\u061c', '\ud800', '\udfff', '\x7f', '\x85', '%', '%%', '%n', '\\', '"', "'", '..', '//', '/../', '=', '-', '@', '+', '!'];
const sinkValue = fc.oneof(
  { weight: 3, arbitrary: hostile },
  { weight: 2, arbitrary: fc.constantFrom(...ESCAPES) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
);
/** `valid` with hostile text before or after it: accepted cases happen, and their edges are hostile. */
const near = (...valid: string[]) =>
  fc.oneof(sinkValue, fc.tuple(fc.constantFrom(...valid), fc.option(sinkValue, { nil: '' }), fc.option(sinkValue, { nil: '' })).map(([v, a, b]) => a + v + b), fc.constantFrom(...valid));

const VISIBLE_ONLY = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]*$/u;
const LINES_ONLY = /^(?:[\n\t]|[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}])*$/u;
/** What a value is once it has been through UTF-8 (a lone surrogate becomes U+FFFD on the way to any tool). */
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('utf8');

interface Sink {
  name: string;
  values: fc.Arbitrary<string>;
  encode: (v: string) => string;
  /** What an accepted output must be; a refusal is any Error with a message. */
  check: (out: string, v: string) => void;
}

const SINKS: Sink[] = [
  { name: 'shell word', values: sinkValue, encode: shQuote, check: (out) => expect(out).not.toContain('\0') },
  { name: 'shell comment', values: sinkValue, encode: shComment, check: (out) => expect(out).toMatch(VISIBLE_ONLY) },
  { name: 'nft string', values: near('eth0', 'lan0.100', 'wan_1'), encode: nftString, check: (out) => expect(out).toMatch(/^"[A-Za-z0-9_.:@-]{1,15}"$/) },
  { name: 'nft prefix', values: near('10.0.0.0/8', '192.0.2.0/24', '0.0.0.0/0', '010.0.0.0/8', '10.0.0.0/08'), encode: nftPrefix, check: (out) => expect(out).toMatch(/^(?:(?:0|[1-9]\d{0,2})\.){3}(?:0|[1-9]\d{0,2})\/(?:0|[1-9]\d?)$/) },
  {
    name: 'nft IPv6 prefix',
    values: near('fd00:1::/64', '2001:db8::/32', 'FD00:AB::/48', '::/0', '::ffff:192.0.2.0/120', 'fd00::/064'),
    encode: nftPrefix6,
    check: (out, v) => {
      expect(out).toBe(v);
      expect(out).toMatch(/^[0-9A-Fa-f:.]+\/(?:0|[1-9]\d{0,2})$/);
    },
  },
  { name: 'nft comment', values: near('NAT WAN1', "it's # fine"), encode: nftComment, check: (out) => expect(out).toMatch(/^"[\x20\x21\x23-\x7e]{0,128}"$/) },
  { name: 'nft # comment', values: sinkValue, encode: nftHashComment, check: (out) => expect(out).toMatch(VISIBLE_ONLY) },
  {
    name: 'sysctl key',
    values: near(...SYSCTL_FAMILIES.map((f) => `${f}conf/eth0.100/rp_filter`), 'net.ipv4.ip_forward', 'kernel.core_pattern'),
    encode: sysctlKey,
    check: (out) => {
      expect(SYSCTL_FAMILIES.some((f) => out.startsWith(f))).toBe(true);
      expect(out.split(/[./]/)).not.toContain('');
    },
  },
  { name: 'sysctl value', values: near('1', '0 1 2', 'a\tb'), encode: sysctlValue, check: (out) => expect(out).toMatch(/^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$/) },
  {
    name: 'systemd value',
    values: near('edge failover', '100%', 'a b'),
    encode: systemdValue,
    check: (out, v) => {
      expect(out).toMatch(VISIBLE_ONLY);
      expect(out.replace(/%%/g, '')).not.toContain('%');
      expect(out.replace(/%%/g, '%')).toBe(v);
      expect(out).toBe(out.trim());
      expect(out.endsWith('\\')).toBe(false);
    },
  },
  {
    name: 'systemd Exec path',
    values: near('/usr/local/sbin/edge-failover', '/a/b'),
    encode: systemdExecPath,
    check: (out) => {
      expect(out).toMatch(/^\/[A-Za-z0-9_.,/+=-]*$/);
      expect(out.split('/')).not.toContain('..');
    },
  },
  { name: 'terminal line', values: sinkValue, encode: termLine, check: (out, v) => (VISIBLE_ONLY.test(v) ? expect(out).toBe(v) : expect(out).toMatch(VISIBLE_ONLY)) },
  { name: 'terminal text', values: sinkValue, encode: termText, check: (out) => expect(out).toMatch(LINES_ONLY) },
  { name: 'terminal bytes', values: sinkValue, encode: (v) => termBytes(Buffer.from(v, 'latin1')), check: (out) => expect(out).toMatch(LINES_ONLY) },
];

/** Runs the encoder on each value; returns the accepted [value, output] pairs for the real tool to read back. */
function throughSink(sink: Sink, n: number): Array<[string, string]> {
  const accepted: Array<[string, string]> = [];
  fc.assert(
    fc.property(sink.values, (v) => {
      let out: string;
      try {
        out = sink.encode(v);
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
        expect((e as Error).message.length).toBeGreaterThan(0);
        return;
      }
      sink.check(out, v);
      accepted.push([v, out]);
    }),
    runs(n),
  );
  return accepted;
}

describe('fuzzing the encoders: each writes a value as itself or refuses it (fast-check, seeded)', () => {
  it.each(SINKS.map((s) => [s.name, s] as const))('%s', (_, sink) => {
    throughSink(sink, 1500);
  });

  it('every shell word it accepts, bash reads back as exactly that one word', () => {
    const accepted = throughSink(SINKS[0]!, 1500);
    const script = accepted.map(([, out]) => `printf '%s\\0' ${out}`).join('\n');
    const words = execFileSync('bash', ['--norc', '-c', script], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).split('\0').slice(0, -1);
    expect(words).toEqual(accepted.map(([v]) => utf8(v)));
  });

  it('every nft value it accepts, nft -c reads', () => {
    const names = throughSink(SINKS[2]!, 500).map(([, o]) => o);
    const prefixes = throughSink(SINKS[3]!, 500).map(([, o]) => o);
    const prefixes6 = throughSink(SINKS[4]!, 500).map(([, o]) => o);
    const comments = throughSink(SINKS[5]!, 500).map(([, o]) => o);
    expect(Math.min(names.length, prefixes.length, prefixes6.length, comments.length)).toBeGreaterThan(10);
    const rules = names.map((n, i) => `\t\tiifname ${n} ip saddr ${prefixes[i % prefixes.length]} counter comment ${comments[i % comments.length]}`);
    rules.push(...prefixes6.map((p) => `\t\tip6 saddr ${p} counter`));
    try {
      execFileSync('nft', ['-c', '-f', '-'], { input: `table inet edge_fuzz {\n\tchain c {\n${rules.join('\n')}\n\t}\n}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      const msg = String((e as { stderr?: Buffer }).stderr ?? e);
      // Without CAP_NET_ADMIN nft cannot even check (as in test/unit/encode/encoders.test.ts).
      if (!/Operation not permitted|cache initialization/.test(msg)) throw new Error(msg);
    }
  });
});

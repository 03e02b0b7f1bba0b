import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { inventoryFile, playbookFile } from '../../../src/playbook/json-schema.js';
import { parseYaml } from '../../../src/config/yaml-source.js';
import { resolvePlays } from '../../../src/engine/run-playbook.js';
import type { RunResult } from '../../../src/engine/types.js';
import { EdgeError, EdgeErrors, formatError } from '../../../src/errors.js';
import { parseInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { parsePlaybook } from '../../../src/playbook/load.js';
import { edge } from '../edge-cli.js';
import { healthyIsps } from '../failover/helpers.js';
import { hostState } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';
import { placeName, putAt, stringPlaces, type Place } from './schema-walk.js';

/**
 * Issue #10, "must show": every string place of the inventory and playbook schemas (found by
 * walking the zod schemas, so a field added later is walked too) gets each hostile value. Each
 * document is either refused at load, every error at file:line:col, or accepted. Everything that
 * was accepted for a value is then put into ONE inventory and playbook and applied to a lab router
 * (the failover playbook, so every file edge renders is written), and: no canary file appears on
 * the router or here, every rendered file and restore.sh still parses (nft -c, keepalived -t,
 * bash -n), and the run is undone by restore.sh — by `edge rollback`, and once by the dead-man
 * timer — leaving the router byte-for-byte as it was.
 */

const CANARY = '/tmp/edge-hostile-canary';
const T = `touch \${IFS}${CANARY}`.replace(' ', '');
const HOSTILE: Array<[string, string]> = [
  ['newline', `x\ntouch ${CANARY} #`],
  ['carriage return', `x\rtouch ${CANARY}`],
  ['NUL', `x\0touch ${CANARY}`],
  ['$(…)', `x$(${T})`],
  ['backticks', `x\`${T}\``],
  ['double quotes', `x"$(${T})"`],
  ["single quotes", `x';${T};'`],
  ['semicolon', `x;${T}`],
  ['hash', `x#$(${T})`],
  ['bidi override', `x\u202e$(${T})`],
  ['bidi isolate', `x\u2066;${T}\u2069`],
  ['and-or', `x&&${T}||`],
];

/**
 * A sysctl value is sent to the kernel as data (quoted): a hostile one is refused by the router's
 * kernel and fails the run, which would stop the rest of the combined playbook. It gets its own
 * run instead (the last test).
 */
const KERNEL_REFUSES = 'edge_sysctl<recordValue>';

const INV = 'inventory.yaml';
const PB = 'playbook.yaml';
const TASKS = ['packages', 'sysctl', 'tables', 'nftables', 'persistence', 'failover', 'verify'];
const ROUTERS = 3;
/** Values applied with the whole failover playbook: the first round, one per router. */
const full = (i: number) => i < ROUTERS;

interface Outcome {
  accepted: boolean;
  errors: EdgeError[];
}

/** Loads an inventory and a playbook as edge run does, before any connection. */
function load(invText: string, pbText: string): { inventory?: Inventory; outcome: Outcome } {
  try {
    const inventory = parseInventory(parseYaml(invText, INV));
    resolvePlays(inventory, parsePlaybook(parseYaml(pbText, PB)));
    return { inventory, outcome: { accepted: true, errors: [] } };
  } catch (e) {
    if (e instanceof EdgeErrors) return { outcome: { accepted: false, errors: e.errors } };
    if (e instanceof EdgeError) return { outcome: { accepted: false, errors: [e] } };
    throw e;
  }
}

const yaml = (doc: unknown) => stringify(doc, { lineWidth: 0 });

describe.skipIf(!isRoot)('hostile strings in every field: nothing executes, everything parses', () => {
  let lab: Lab;
  let baseInv: (router: string) => Record<string, unknown>;
  let basePb: (i: number) => unknown[];
  const invPlaces = stringPlaces(inventoryFile);
  const pbPlaces = stringPlaces(playbookFile);
  /** Per hostile value: the places where edge accepted it. */
  const accepted = new Map<string, { inv: Place[]; pb: Place[] }>();
  const before = new Map<string, string>();

  beforeAll(async () => {
    lab = await ensureLab();
    const labDoc = parseYaml(readFileSync(lab.inventory, 'utf8'), lab.inventory).data as {
      all: { children: { lab: { vars: Record<string, unknown> } } };
    };
    const vars = labDoc.all.children.lab.vars;
    baseInv = (router) => ({
      all: { vars: { ...vars }, hosts: { r1: { ansible_host: lab.router(router).mgmt.address } }, children: { lab: { vars: {} } } },
    });
    // A sysctl value of the run's own makes every run change something (so it writes restore.sh),
    // even on a router another test left configured.
    // The whole failover playbook for the first value per router (every file edge renders is then
    // written and checked); the sysctl task alone for the rest (each still writes restore.sh).
    basePb = (i) => [
      {
        name: 'hostile walk',
        hosts: 'all',
        vars: { edge_sysctl: { 'net.ipv4.conf.all.arp_ignore': String(1 + (i % 2)) } },
        tasks: [{ name: 'check', 'inventory-check': null }, ...(full(i) ? TASKS : ['sysctl'])],
      },
    ];
    for (const r of lab.plan.routers.map((x) => x.name)) {
      await healthyIsps(lab, r);
      await lab.run(r, ['rm', '-f', CANARY]);
      before.set(r, await hostState(lab, r));
    }
  }, 600_000);

  it('the walk covers every string field of both schemas', () => {
    const names = [...invPlaces, ...pbPlaces].map(placeName);
    // spot checks that the walk reaches names, edge's and Ansible's variables, and play fields
    for (const p of [
      '<recordValue>.hosts<recordKey>',
      '<recordValue>.children<recordKey>',
      '<recordValue>.hosts<recordValue>.edge_mgmt_interface',
      '<recordValue>.vars.ansible_ssh_private_key_file',
      '<recordValue>.vars<extraKey>',
      '[0].name',
      '[0].tasks[0].name',
      '[0].window.timezone',
    ]) {
      expect(names).toContain(p);
    }
    expect(names.length).toBeGreaterThan(100);
  });

  it('each value in each field is refused with file:line:col, or accepted', () => {
    let refused = 0;
    for (const [label, value] of HOSTILE) {
      const acc = { inv: [] as Place[], pb: [] as Place[] };
      const cases: Array<['inv' | 'pb', Place]> = [...invPlaces.map((p): ['inv', Place] => ['inv', p]), ...pbPlaces.map((p): ['pb', Place] => ['pb', p])];
      const seen = new Set<string>();
      for (const [file, place] of cases) {
        const inv = yaml(file === 'inv' ? putAt(baseInv('r1'), place, value) : baseInv('r1'));
        const pb = yaml(file === 'pb' ? putAt(basePb(0), place, value) : basePb(0));
        // the one-play form of the playbook puts the value where the list form does: load it once
        if (seen.has(inv + pb)) continue;
        seen.add(inv + pb);
        const { outcome } = load(inv, pb);
        if (outcome.accepted) {
          acc[file].push(place);
          continue;
        }
        refused++;
        const changed = file === 'inv' ? INV : PB;
        for (const e of outcome.errors) {
          const where = `${label} at ${file}${placeName(place)}: ${formatError(e)}`;
          expect(e.code, where).toBe('CONFIG');
          expect(e.pos, `no file:line:col: ${where}`).toBeDefined();
          expect([INV, PB], where).toContain(e.pos!.file);
          expect(e.pos!.line, where).toBeGreaterThanOrEqual(1);
          expect(e.pos!.col, where).toBeGreaterThanOrEqual(1);
        }
        expect(outcome.errors.some((e) => e.pos?.file === changed), `${label} at ${file}${placeName(place)}: no error in ${changed}`).toBe(true);
      }
      accepted.set(value, acc);
    }
    // Whitespace and control characters are refused everywhere but in free text edge never sends.
    expect(refused).toBeGreaterThan(HOSTILE.length * 50);
    for (const [label, value] of HOSTILE.slice(0, 3)) {
      const names = accepted.get(value)!.inv.map(placeName);
      expect(names.filter((n) => n.endsWith('<recordKey>') || n.endsWith('<extraKey>')), label).toEqual([]);
    }
  }, 300_000);

  it('the exact injection of the issue is refused by the CLI and changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-hostile-'));
    writeFileSync(join(dir, INV), yaml(putAt(baseInv('r1'), [{ k: 'recordValue' }, { k: 'prop', name: 'hosts' }, { k: 'recordKey' }], HOSTILE[0]![1])));
    writeFileSync(join(dir, PB), yaml(basePb(0)));
    const r = await edge(['run', PB, '-i', INV], { cwd: dir });
    expect(r.code, r.stderr).toBe(5); // bad inventory: nothing was touched
    expect(r.stderr).toMatch(/inventory\.yaml:\d+:\d+: all\.hosts\["x\\ntouch \/tmp\/edge-hostile-canary #"\]: invalid key: host name contains a newline/);
    expect(await hostState(lab, 'r1')).toBe(before.get('r1'));
  }, 120_000);

  /** Writes the combined documents for value `i`, with any key or known_hosts path it names made real. */
  function combined(i: number, router: string): { dir: string; inventory: Inventory } {
    const value = HOSTILE[i]![1];
    const acc = accepted.get(value)!;
    // Names must differ from each other (a group named like its own child is a cycle), and so must
    // the key and known_hosts paths (both are made real files below): each such place gets its own
    // prefix in front of the value.
    let keys = 0;
    const distinct = (p: Place) => {
      const last = p.at(-1)!;
      if (last.k === 'recordKey' || last.k === 'extraKey') return `${String.fromCharCode(97 + keys++)}${value}`;
      // A play's host pattern: the hostile term matches nobody (a warning, as in Ansible), so the
      // union with `all` keeps the router in the play while the term still goes through the parser.
      if (/\.hosts(\[0\])?$/.test(placeName(p))) return `${value}:all`;
      return last.k === 'prop' && last.name.endsWith('_file') ? `${last.name}-${value}` : value;
    };
    const applied = (places: Place[]) => places.filter((p) => !placeName(p).includes(KERNEL_REFUSES));
    const inv = applied(acc.inv).reduce<unknown>((d, p) => putAt(d, p, distinct(p)), baseInv(router));
    const pb = applied(acc.pb).reduce<unknown>((d, p) => putAt(d, p, distinct(p)), basePb(i));
    const dir = mkdtempSync(join(tmpdir(), 'edge-hostile-'));
    writeFileSync(join(dir, INV), yaml(inv));
    writeFileSync(join(dir, PB), yaml(pb));
    const { inventory, outcome } = load(yaml(inv), yaml(pb));
    expect(outcome.errors.map((e) => formatError(e)), `${HOSTILE[i]![0]}: the combination of what was accepted one by one`).toEqual([]);
    const vars = [...inventory!.hosts.values()][0]!.vars;
    for (const [file, from] of [
      [vars.ansible_ssh_private_key_file, lab.paths.key],
      [vars.edge_known_hosts_file, lab.paths.knownHosts],
    ] as const) {
      if (!file || file === from) continue;
      // The hostile path as a real file: connecting proves edge never ran it through a shell.
      const at = resolve(dir, file);
      mkdirSync(dirname(at), { recursive: true });
      copyFileSync(from, at);
    }
    return { dir, inventory: inventory! };
  }

  async function checkRouter(router: string, runId: string, label: string, rendered: boolean): Promise<void> {
    const dir = `/var/lib/edge/snapshots/${runId}`;
    const renderedFiles = [
      'for f in /usr/local/sbin/edge-routes /usr/local/sbin/edge-health /usr/local/sbin/edge-failover; do bash -n "$f"; done',
      'nft -c -f /etc/edge/edge.nft',
      'keepalived -t -f /etc/keepalived/keepalived.conf',
    ];
    const script = [
      `bash -n ${dir}/restore.sh`,
      ...(rendered ? renderedFiles : []),
      // the canary text may appear in restore.sh only inside its comment line
      `! grep -n edge-hostile-canary ${dir}/restore.sh | grep -v '^[0-9]*:#'`,
      'echo parsed',
    ].join(' && ');
    const r = await lab.run(router, ['bash', '-c', script], { allowFail: true });
    expect(`${r.stdout}${r.stderr}`, `${label}: rendered files on ${router}`).toContain('parsed');
  }

  async function noCanary(router: string, label: string): Promise<void> {
    const r = await lab.run(router, ['bash', '-c', `ls -d ${CANARY}* 2>/dev/null || true`]);
    expect(r.stdout.trim(), `${label}: canary on ${router}`).toBe('');
    expect(readdirSync('/tmp').filter((f) => f.startsWith('edge-hostile-canary')), `${label}: canary on this host`).toEqual([]);
  }

  /** Applies value i's combination on `router`, checks, and undoes it (edge rollback, or the host's own timer). */
  async function applyAndUndo(i: number, router: string, viaTimer: boolean): Promise<void> {
    const [label] = HOSTILE[i]!;
    const { dir, inventory } = combined(i, router);
    const host = [...inventory.hosts.keys()][0]!;
    const extra = viaTimer ? ['--confirm', 'manual', '--confirm-timeout', '3'] : [];
    const run = await edge(['run', PB, '-i', INV, '--json', ...extra], { cwd: dir });
    expect(run.code, `${label}: ${run.stderr}`).toBe(0);
    const result = JSON.parse(run.stdout) as RunResult;
    expect(result.hosts.map((h) => [h.host, h.status]), label).toEqual([[host, 'changed']]);
    await checkRouter(router, result.runId, label, full(i));
    if (viaTimer) {
      const state = `/var/lib/edge/snapshots/${result.runId}/state`;
      const waited = await lab.run(router, ['bash', '-c', `for i in $(seq 120); do [ "$(cat ${state})" = rolled-back ] && exit 0; sleep 0.5; done; cat ${state}; exit 1`], { allowFail: true });
      expect(waited.code, `${label}: the dead-man timer did not restore ${router}: ${waited.stdout}`).toBe(0);
    } else {
      const rb = await edge(['rollback', result.runId, '-i', INV], { cwd: dir });
      expect(rb.code, `${label}: ${rb.stdout}${rb.stderr}`).toBe(0);
    }
    await noCanary(router, label);
    expect(await hostState(lab, router), `${label}: ${router} is not as it was`).toBe(before.get(router));
    expect(existsSync(CANARY)).toBe(false);
  }

  it('what was accepted is applied on the routers: nothing executes, every file parses, restore.sh undoes it', async () => {
    const routers = lab.plan.routers.map((r) => r.name).slice(0, ROUTERS);
    expect(routers).toHaveLength(ROUTERS);
    for (let round = 0; round * routers.length < HOSTILE.length; round++) {
      const batch = routers.map((r, k) => ({ i: round * routers.length + k, r })).filter((x) => x.i < HOSTILE.length);
      // round 1, first router: undone by the host's own dead-man timer instead of edge rollback
      await Promise.all(batch.map(({ i, r }) => applyAndUndo(i, r, round === 1 && r === routers[0])));
    }
  }, 900_000);

  it('a hostile sysctl value reaches the router only as data: its kernel refuses it, restore.sh undoes the run', async () => {
    const [label, value] = HOSTILE[3]!;
    const place = pbPlaces.find((p) => placeName(p) === `[0].vars.${KERNEL_REFUSES}`)!;
    expect(accepted.get(value)!.pb.map(placeName), label).toContain(placeName(place));
    const dir = mkdtempSync(join(tmpdir(), 'edge-hostile-'));
    writeFileSync(join(dir, INV), yaml(baseInv('r1')));
    writeFileSync(join(dir, PB), yaml(putAt(basePb(0), place, value)));
    const run = await edge(['run', PB, '-i', INV, '--json'], { cwd: dir });
    expect(run.code).toBe(2); // a host failed
    const h = (JSON.parse(run.stdout) as RunResult).hosts[0]!;
    expect(h).toMatchObject({ status: 'failed', state: 'rolled-back' });
    expect(h.error).toContain('net.ipv4.conf.all.arp_ignore');
    await noCanary('r1', label);
    expect(await hostState(lab, 'r1')).toBe(before.get('r1'));
  }, 300_000);
});

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { candidatesText, missingInterfaceVars, pickInterfaces, PICK_NONE, type PickOptions } from '../../../src/commands/pick.js';
import { EdgeError } from '../../../src/errors.js';
import type { Facts } from '../../../src/facts/types.js';
import { loadInventory } from '../../../src/inventory/load.js';
import type { ResolvedHost } from '../../../src/inventory/types.js';
import { edgeVarsSchema, type HostVars } from '../../../src/inventory/vars.js';
import { ACCEPT_DEFAULT, ScriptedPrompter } from '../../../src/ui/prompts.js';
import { freshRouter, LAB } from '../../fixtures/facts.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A project directory with inventories/test.yaml holding `text`. */
function project(text: string): { cwd: string; file: string } {
  dir = mkdtempSync(path.join(tmpdir(), 'edge-pick-'));
  mkdirSync(path.join(dir, 'inventories'));
  const file = path.join(dir, 'inventories', 'test.yaml');
  writeFileSync(file, text);
  return { cwd: dir, file };
}

/** Facts per host from the fixture; a host not listed is unreachable. */
function fakeGather(byHost: Record<string, Facts>): { gather: PickOptions['gather']; asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    gather: async (h: ResolvedHost) => {
      asked.push(h.name);
      const f = byHost[h.name];
      if (!f) throw new EdgeError('CONNECT', 'connection refused', { host: h.name });
      return f;
    },
  };
}

const FRESH = `# three new routers, not wired yet
all:
  vars:
    edge_mgmt_subnets: [198.18.0.0/24]   # the lab bridge
  hosts:
    r1:
      ansible_host: 198.18.0.11  # first router
    r2:
    r3:
`;

describe('pickInterfaces (scripted prompter, fake facts)', () => {
  it('asks WAN1, WAN2, LAN, management per host with the likely one preselected, then writes the inventory', async () => {
    const { cwd, file } = project(FRESH);
    const out: string[] = [];
    const facts = fakeGather({ r1: freshRouter(), r2: freshRouter() });
    // r1: the operator takes wan2 as WAN1 (edge's guess was wan1: lower metric), then accepts the rest
    // r2: accepts everything; r3 is unreachable
    const prompter = new ScriptedPrompter(['wan2', ACCEPT_DEFAULT, ACCEPT_DEFAULT, ACCEPT_DEFAULT, ...Array(4).fill(ACCEPT_DEFAULT), true]);
    const result = await pickInterfaces({ inventory: 'test', cwd, gather: facts.gather, write: (s) => out.push(s) }, prompter);

    expect(facts.asked.sort()).toEqual(['r1', 'r2', 'r3']);
    expect(prompter.remaining).toBe(0);
    const [w1, w2, lan, mgmt] = prompter.asked;
    expect(w1).toMatchObject({ message: 'r1: WAN1 interface', default: 'wan1', answer: 'wan2' });
    expect(w1!.choices!.map((c) => c.value)).toEqual(['mgmt0', 'wan1', 'wan2', 'lan0']);
    // WAN1 taken: shown but not selectable; the preselection moves to the other default-route interface
    expect(w2).toMatchObject({ message: 'r1: WAN2 interface', default: 'wan1', answer: 'wan1' });
    expect(w2!.choices!.find((c) => c.value === 'wan2')!.disabled).toBe('already WAN1');
    expect(lan).toMatchObject({ default: 'lan0', answer: 'lan0' });
    expect(mgmt).toMatchObject({ default: 'mgmt0', answer: 'mgmt0' });
    expect(mgmt!.choices!.at(-1)!.name).toMatch(/^\(none/);
    expect(prompter.asked.slice(4, 8).map((q) => q.answer)).toEqual(['wan1', 'wan2', 'lan0', 'mgmt0']);
    expect(prompter.asked[8]).toMatchObject({ kind: 'confirm', message: 'Write these changes to inventories/test.yaml?' });

    expect(result.written).toBe(true);
    expect(result.failed).toEqual([{ host: 'r3', error: 'r3: connection refused' }]);
    expect(result.picked.map((p) => [p.host, p.roles])).toEqual([
      ['r1', { wan1: 'wan2', wan2: 'wan1', lan: 'lan0', mgmt: 'mgmt0' }],
      ['r2', { wan1: 'wan1', wan2: 'wan2', lan: 'lan0', mgmt: 'mgmt0' }],
    ]);
    expect(readFileSync(file, 'utf8')).toBe(`# three new routers, not wired yet
all:
  vars:
    edge_mgmt_subnets: [198.18.0.0/24]   # the lab bridge
  hosts:
    r1:
      ansible_host: 198.18.0.11  # first router
      edge_wan1_interface: wan2
      edge_wan2_interface: wan1
      edge_lan_interface: lan0
      edge_mgmt_interface: mgmt0
    r2:
      edge_wan1_interface: wan1
      edge_wan2_interface: wan2
      edge_lan_interface: lan0
      edge_mgmt_interface: mgmt0
    r3:
`);
    const inv = loadInventory('test', cwd);
    expect(inv.hosts.get('r1')!.vars.edge_wan1_interface).toBe('wan2');
    expect(missingInterfaceVars(inv.hosts.get('r3')!.vars)).toEqual(['edge_wan1_interface', 'edge_wan2_interface', 'edge_lan_interface']);
    expect(missingInterfaceVars(inv.hosts.get('r1')!.vars)).toEqual([]);

    const printed = out.join('');
    expect(printed).toMatch(/\nr1:\n  INTERFACE +STATE/);
    expect(printed).toContain('r3: could not gather its interfaces: r3: connection refused');
    expect(printed).toContain('changes to inventories/test.yaml:\n  r1: edge_wan1_interface: wan2\n');
  });

  it('an interface already chosen cannot be chosen again: the host is refused, the others go on', async () => {
    const { cwd, file } = project(FRESH);
    const prompter = new ScriptedPrompter(['wan1', 'wan1']);
    const result = await pickInterfaces({ inventory: 'test', limit: 'r1', cwd, gather: fakeGather({ r1: freshRouter() }).gather, write: () => {} }, prompter);
    expect(result.failed).toEqual([{ host: 'r1', error: 'r1: WAN2 interface: wan1 cannot be chosen: already WAN1' }]);
    expect(result.written).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(FRESH);
  });

  it('values already in effect (from a group) are preselected and not written again', async () => {
    const text = `all:
  children:
    lab:
      vars:
        edge_wan1_interface: wan1
        edge_wan2_interface: wan2
        edge_lan_interface: lan0
        edge_mgmt_interface: mgmt0
      hosts:
        r1:
`;
    const { cwd, file } = project(text);
    const prompter = new ScriptedPrompter(Array(4).fill(ACCEPT_DEFAULT));
    const out: string[] = [];
    const result = await pickInterfaces({ inventory: 'test', cwd, gather: fakeGather({ r1: freshRouter() }).gather, write: (s) => out.push(s) }, prompter);
    expect(prompter.asked.map((q) => q.default)).toEqual(['wan1', 'wan2', 'lan0', 'mgmt0']);
    expect(result.picked[0]!.updates).toEqual({});
    expect(result.written).toBe(false);
    expect(out.join('')).toContain('nothing to change in inventories/test.yaml');
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  it('management "none" removes the host\'s own setting; a group\'s value is reported, not hidden', async () => {
    const text = `all:
  vars:
    edge_mgmt_interface: mgmt0
  hosts:
    r1:
      edge_mgmt_interface: wan2
`;
    const { cwd, file } = project(text);
    const prompter = new ScriptedPrompter(['wan1', 'wan2', 'lan0', PICK_NONE]);
    const result = await pickInterfaces({ inventory: 'test', cwd, yes: true, gather: fakeGather({ r1: freshRouter() }).gather, write: () => {} }, prompter);
    expect(result.written).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(`all:
  vars:
    edge_mgmt_interface: mgmt0
  hosts:
    r1:
      edge_wan1_interface: wan1
      edge_wan2_interface: wan2
      edge_lan_interface: lan0
`);
    expect(result.notes).toEqual(['r1: edge_mgmt_interface is still mgmt0 from group all (inventories/test.yaml:3); change it there']);
  });

  it('answering no to the final question writes nothing', async () => {
    const { cwd, file } = project(FRESH);
    const prompter = new ScriptedPrompter([...Array(4).fill(ACCEPT_DEFAULT), false]);
    const result = await pickInterfaces({ inventory: 'test', limit: 'r1', cwd, gather: fakeGather({ r1: freshRouter() }).gather, write: () => {} }, prompter);
    expect(result.written).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(FRESH);
  });

  it('refuses to write into an INI inventory, with how to convert it', async () => {
    const { cwd } = project('[routers]\nr1 ansible_host=192.0.2.10\n');
    const g = fakeGather({});
    await expect(pickInterfaces({ inventory: 'test', cwd, gather: g.gather, write: () => {} }, new ScriptedPrompter([]))).rejects.toThrow(
      /edge pick writes into YAML inventories; inventories\/test\.yaml is INI/,
    );
    expect(g.asked).toEqual([]);
  });

  it('refuses a --limit that matches nothing, before connecting anywhere', async () => {
    const { cwd } = project(FRESH);
    const g = fakeGather({});
    await expect(pickInterfaces({ inventory: 'test', limit: 'nope*', cwd, gather: g.gather, write: () => {} }, new ScriptedPrompter([]))).rejects.toThrow(
      /--limit "nope\*" leaves no hosts to target/,
    );
    expect(g.asked).toEqual([]);
  });
});

describe('for edge run without a terminal', () => {
  it('missingInterfaceVars names what is not set', () => {
    const vars = edgeVarsSchema.parse({ edge_wan1_interface: 'eth1' }) as HostVars;
    expect(missingInterfaceVars(vars)).toEqual(['edge_wan2_interface', 'edge_lan_interface']);
  });
  it('candidatesText lists the interfaces with what pick would preselect', () => {
    const text = candidatesText('r1', freshRouter(), { edge_mgmt_subnets: ['198.18.0.0/24'] });
    const lines = text.split('\n');
    expect(lines[0]).toBe('r1: interfaces (LIKELY is what edge pick would preselect):');
    expect(lines[1]).toMatch(/^ {2}INTERFACE/);
    expect(lines.find((l) => l.startsWith('  mgmt0'))).toMatch(new RegExp(`${LAB.mgmt.address.replace(/\./g, '\\.')}/24 .* management$`));
    expect(lines.find((l) => l.startsWith('  wan1'))).toMatch(/WAN1$/);
    expect(candidatesText('r9', { ...freshRouter(), interfaces: [] })).toBe('r9: no candidate interfaces found (only lo and edge\'s own)');
  });
});

import { describe, expect, it } from 'vitest';
import { ACCEPT_DEFAULT, inquirerPrompter, ScriptedPrompter } from '../../../src/ui/prompts.js';

const choices = [
  { name: 'eth0  UP', value: 'eth0' },
  { name: 'eth1  UP', value: 'eth1', disabled: 'already WAN1' },
  { name: 'eth2  DOWN', value: 'eth2', description: 'no carrier' },
];

describe('ScriptedPrompter', () => {
  it('answers from its queue, in order, and records every question', async () => {
    const p = new ScriptedPrompter(['eth2', ACCEPT_DEFAULT, ACCEPT_DEFAULT, false]);
    expect(await p.select({ message: 'WAN2', choices, default: 'eth0' })).toBe('eth2');
    expect(await p.select({ message: 'LAN', choices, default: 'eth0' })).toBe('eth0');
    expect(await p.confirm({ message: 'Write?', default: true })).toBe(true);
    expect(await p.confirm({ message: 'Again?', default: true })).toBe(false);
    expect(p.asked.map((q) => [q.kind, q.message, q.answer])).toEqual([
      ['select', 'WAN2', 'eth2'],
      ['select', 'LAN', 'eth0'],
      ['confirm', 'Write?', true],
      ['confirm', 'Again?', false],
    ]);
    expect(p.remaining).toBe(0);
  });

  it('refuses what a person could not pick: a disabled choice, a value not offered', async () => {
    const p = new ScriptedPrompter(['eth1', 'eth9', 'yes']);
    await expect(p.select({ message: 'WAN2', choices })).rejects.toThrow('WAN2: eth1 cannot be chosen: already WAN1');
    await expect(p.select({ message: 'WAN2', choices })).rejects.toThrow('WAN2: "eth9" is not one of the choices (eth0  UP, eth1  UP, eth2  DOWN)');
    await expect(p.confirm({ message: 'Write?', default: true })).rejects.toThrow('Write?: expected a yes/no answer, got "yes"');
  });

  it('runs out loudly', async () => {
    await expect(new ScriptedPrompter([]).select({ message: 'LAN', choices })).rejects.toThrow('no scripted answer left for: LAN');
  });

  it('compares structured values by content', async () => {
    const p = new ScriptedPrompter([{ id: 2 }]);
    expect(await p.select({ message: 'x', choices: [{ name: 'one', value: { id: 1 } }, { name: 'two', value: { id: 2 } }] })).toEqual({ id: 2 });
  });
});

describe('inquirerPrompter', () => {
  it('implements the same interface (the terminal itself is exercised by hand)', () => {
    const p = inquirerPrompter();
    expect(typeof p.select).toBe('function');
    expect(typeof p.confirm).toBe('function');
  });
});

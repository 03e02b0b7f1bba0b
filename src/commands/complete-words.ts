import { Argument, type Command } from 'commander';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { loadInventory } from '../inventory/load.js';

/**
 * `edge __complete WHAT [-i INV]`: the words the completion scripts offer — hosts and groups of
 * the inventory (for --limit), inventory names under inventories/, run ids of the local journal.
 * One word per line; nothing (and exit 0) when there is nothing to offer.
 */
export function completionWords(what: 'limit' | 'inventories' | 'runs', inventory?: string, cwd = process.cwd()): string[] {
  const list = (dir: string, re: RegExp) => {
    try {
      return readdirSync(path.join(cwd, dir)).flatMap((f) => (re.test(f) ? [f.replace(re, '')] : []));
    } catch {
      return [];
    }
  };
  switch (what) {
    case 'inventories':
      return list('inventories', /\.ya?ml$/);
    case 'runs':
      return list(path.join('.edge', 'runs'), /\.json$/).sort().reverse();
    case 'limit': {
      if (!inventory) return [];
      const inv = loadInventory(inventory, cwd);
      return [...inv.groups.keys(), ...inv.hosts.keys()];
    }
  }
}

export function register(program: Command): void {
  program
    .command('__complete', { hidden: true })
    .description('words for the shell completion scripts')
    .addArgument(new Argument('<what>').choices(['limit', 'inventories', 'runs']))
    .option('-i, --inventory <name>')
    .action((what: 'limit' | 'inventories' | 'runs', opts: { inventory?: string }) => {
      let words: string[] = [];
      try {
        words = completionWords(what, opts.inventory);
      } catch {
        // A broken inventory offers nothing; the command itself will say what is wrong.
      }
      if (words.length) process.stdout.write(`${words.join('\n')}\n`);
    });
}

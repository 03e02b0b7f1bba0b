import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { inventoryJsonSchema, playbookJsonSchema } from '../playbook/json-schema.js';

/**
 * Where the schemas go: next to the files that use them, so the shipped YAML can say
 * `# yaml-language-server: $schema=./inventory.schema.json`.
 */
export function schemaTargets(outDir?: string): { inventory: string; playbook: string } {
  return {
    inventory: path.join(outDir ?? 'inventories', 'inventory.schema.json'),
    playbook: path.join(outDir ?? 'playbooks', 'playbook.schema.json'),
  };
}

/** Writes both JSON Schemas; returns the paths written (relative to cwd when given so). */
export function writeSchemas(outDir?: string, cwd: string = process.cwd()): string[] {
  const targets = schemaTargets(outDir);
  const files: Array<[string, Record<string, unknown>]> = [
    [targets.inventory, inventoryJsonSchema()],
    [targets.playbook, playbookJsonSchema()],
  ];
  for (const [file, schema] of files) {
    const full = path.resolve(cwd, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, `${JSON.stringify(schema, null, 2)}\n`);
  }
  return files.map(([file]) => file);
}

export function register(program: Command): void {
  program
    .command('schema')
    .description('write JSON Schemas for inventory and playbook files (editor completion and checks)')
    .option('--out <dir>', 'write both schemas into DIR (default: inventories/ and playbooks/)')
    .action((opts: { out?: string }) => {
      for (const file of writeSchemas(opts.out)) process.stdout.write(`wrote ${file}\n`);
    });
}

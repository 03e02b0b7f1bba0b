import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { inventoryJsonSchema, playbookJsonSchema } from '../playbook/json-schema.js';
import { OUTPUT_TYPES, type OutputName } from './json-output.js';
import outputSchemas from './output-schemas.json' with { type: 'json' };

/**
 * Where the schemas go: next to the files that use them, so the shipped YAML can say
 * `# yaml-language-server: $schema=./inventory.schema.json`; the --json outputs' under schemas/.
 */
export function schemaTargets(outDir?: string): { inventory: string; playbook: string; outputs: Record<OutputName, string> } {
  const outputs = Object.fromEntries(
    Object.keys(OUTPUT_TYPES).map((n) => [n, path.join(outDir ?? 'schemas', `${n}-output.schema.json`)]),
  ) as Record<OutputName, string>;
  return {
    inventory: path.join(outDir ?? 'inventories', 'inventory.schema.json'),
    playbook: path.join(outDir ?? 'playbooks', 'playbook.schema.json'),
    outputs,
  };
}

/** The JSON Schema of one --json output (generated from its type, see json-output.ts). */
export function outputJsonSchema(name: OutputName): Record<string, unknown> {
  return (outputSchemas as Record<OutputName, Record<string, unknown>>)[name];
}

/** Writes every JSON Schema; returns the paths written (relative to cwd when given so). */
export function writeSchemas(outDir?: string, cwd: string = process.cwd()): string[] {
  const targets = schemaTargets(outDir);
  const files: Array<[string, Record<string, unknown>]> = [
    [targets.inventory, inventoryJsonSchema()],
    [targets.playbook, playbookJsonSchema()],
    ...(Object.entries(targets.outputs) as [OutputName, string][]).map(([n, f]): [string, Record<string, unknown>] => [f, outputJsonSchema(n)]),
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
    .description('write JSON Schemas for inventory and playbook files and for the --json outputs')
    .option('--out <dir>', 'write every schema into DIR (default: inventories/, playbooks/ and schemas/)')
    .action((opts: { out?: string }) => {
      for (const file of writeSchemas(opts.out)) process.stdout.write(`wrote ${file}\n`);
    });
}

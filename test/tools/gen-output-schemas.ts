/**
 * Generates src/commands/output-schemas.json (the JSON Schemas of edge's --json outputs) from the
 * TypeScript types in src/commands/json-output.ts, so the schema and the code cannot disagree.
 * `--check` exits 1 when the file is stale (used by the unit test).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createGenerator } from 'ts-json-schema-generator';
import { OUTPUT_TYPES } from '../../src/commands/json-output.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT = `${ROOT}src/commands/output-schemas.json`;

export function generate(): string {
  const config = {
    path: `${ROOT}src/commands/json-output.ts`,
    tsconfig: `${ROOT}tsconfig.json`,
    skipTypeCheck: true,
    additionalProperties: true,
  };
  const schemas: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(OUTPUT_TYPES)) {
    schemas[name] = { title: `edge ${name} --json`, ...createGenerator({ ...config, type }).createSchema(type) };
  }
  return `${JSON.stringify(schemas, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = generate();
  if (process.argv.includes('--check')) {
    const current = readFileSync(OUT, 'utf8');
    if (current !== text) {
      process.stderr.write(`${OUT} is stale: run npm run gen:schemas\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(OUT, text);
    process.stdout.write(`wrote ${OUT}\n`);
  }
}

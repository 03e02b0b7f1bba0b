import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OUTPUT_SCHEMA_VERSION, OUTPUT_TYPES, withSchemaVersion } from '../../../src/commands/json-output.js';
import { outputJsonSchema } from '../../../src/commands/schema.js';
import { inventoryOutput } from '../../../src/commands/inventory.js';
import { generate } from '../../tools/gen-output-schemas.js';
import { REPO } from '../../integration/edge-cli.js';

type Json = Record<string, any>;

describe('--json outputs: versioned, with JSON Schemas generated from their types', () => {
  it('src/commands/output-schemas.json is what the types generate (run npm run gen:schemas after changing them)', () => {
    expect(readFileSync(`${REPO}src/commands/output-schemas.json`, 'utf8')).toBe(generate());
  }, 120_000);

  it('every schema requires schemaVersion and knows the output fields', () => {
    for (const name of Object.keys(OUTPUT_TYPES) as (keyof typeof OUTPUT_TYPES)[]) {
      const s = outputJsonSchema(name) as Json;
      const def = s.definitions[OUTPUT_TYPES[name]] as Json;
      const props = def.properties ?? def.allOf?.find((x: Json) => x.properties)?.properties;
      const versioned = name === 'inventory' ? JSON.stringify(def) : JSON.stringify(props.schemaVersion);
      expect(versioned, name).toContain('"const":1');
    }
    const run = outputJsonSchema('run') as Json;
    expect(run.definitions.RunJson.required).toEqual(expect.arrayContaining(['schemaVersion', 'runId', 'hosts', 'status']));
    expect(JSON.stringify(run.definitions)).toContain('"interrupted"');
  });

  it('outputs carry the version', () => {
    expect(withSchemaVersion('runs', { runs: [] })).toEqual({ schemaVersion: OUTPUT_SCHEMA_VERSION, runs: [] });
    const inv = JSON.parse(inventoryOutput({ inventory: 'inventories/prod.yaml', json: true }, REPO)) as Json;
    expect(inv._meta.edge).toEqual({ schemaVersion: 1 });
    expect(Object.keys(inv._meta.hostvars).length).toBeGreaterThan(0);
  });
});

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSchemas } from '../../../src/commands/schema.js';
import { inventoryJsonSchema, playbookJsonSchema } from '../../../src/playbook/json-schema.js';

type Json = Record<string, any>;

describe('JSON Schemas for editors', () => {
  it('edge schema --out DIR writes every schema as valid JSON', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-schema-'));
    const files = writeSchemas(dir);
    expect(files).toEqual(
      ['inventory', 'playbook', 'run-output', 'status-output', 'runs-output', 'inventory-output'].map((n) => path.join(dir, `${n}.schema.json`)),
    );
    for (const f of files) expect(() => JSON.parse(readFileSync(f, 'utf8'))).not.toThrow();
  });

  it('inventory schema: Ansible structure, edge variables with descriptions, other variables allowed', () => {
    const s = inventoryJsonSchema() as Json;
    expect(s.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(s.additionalProperties).toEqual({ $ref: '#/$defs/group' });
    const group = s.$defs.group.anyOf[0];
    expect(Object.keys(group.properties)).toEqual(['hosts', 'vars', 'children']);
    expect(group.additionalProperties).toBe(false);
    const vars = s.$defs.hostVars;
    expect(vars.additionalProperties).toEqual({});
    expect(vars.properties.edge_wan1_targets.description).toBe('Health-check targets probed through WAN1');
    expect(vars.properties.edge_window.properties.timezone.description).toMatch(/IANA/);
    expect(vars.properties.ansible_host.type).toBe('string');
    for (const [k, v] of Object.entries<Json>(vars.properties)) expect(v.description, k).toBeTruthy();
    // unknown edge_ variables are flagged by the editor too
    expect(vars.propertyNames.anyOf[1]).toEqual({ not: { pattern: '^edge_' } });
  });

  it('playbook schema: plays, task entries, rollout keys', () => {
    const s = playbookJsonSchema() as Json;
    const play = s.$defs.play;
    expect(play.required).toEqual(['hosts', 'tasks']);
    expect(play.additionalProperties).toBe(false);
    expect(play.properties.serial.description).toMatch(/batch/);
    expect(play.properties.tasks.items).toEqual({ $ref: '#/$defs/task' });
    expect(s.$defs.task.anyOf[0].enum).toContain('failover');
    expect(play.properties.window.properties.days.items.enum).toEqual(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
  });

  it('the schemas shipped in the repo are up to date (run `edge schema` after changing a schema)', () => {
    const shipped = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
    expect(shipped('inventories/inventory.schema.json')).toEqual(inventoryJsonSchema());
    expect(shipped('playbooks/playbook.schema.json')).toEqual(playbookJsonSchema());
  });

  it('shipped inventories point editors at the schema', () => {
    for (const f of ['inventories/prod.yaml', 'inventories/example-ansible.yaml']) {
      expect(readFileSync(f, 'utf8').split('\n')[0]).toBe('# yaml-language-server: $schema=./inventory.schema.json');
    }
  });
});

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { EdgeErrors } from '../errors.js';
import { positionOf } from './yaml-position.js';
import { requireTrusted } from './trusted.js';
import { readYamlFile } from './yaml-source.js';
import { issuesToErrors, PARSE_PARAMS, placeIn } from './zod-issues.js';

/**
 * edge's own settings file: $EDGE_CONFIG, else ./.edge/config.yaml, else
 * ~/.config/edge/config.yaml (first found wins). Keys are the long flags they stand for.
 */
export const EDGE_SETTINGS_KEYS = [
  'inventory',
  'user',
  'private-key',
  'forks',
  'connect-timeout',
  'command-timeout',
  'accept-new-host-keys',
  'become',
] as const;
export type EdgeSettingsKey = (typeof EDGE_SETTINGS_KEYS)[number];

const positive = z.number().positive();
const schema = z
  .strictObject({
    inventory: z.string().min(1),
    user: z.string().min(1),
    'private-key': z.string().min(1),
    forks: z.number().int().positive(),
    'connect-timeout': positive,
    'command-timeout': positive,
    'accept-new-host-keys': z.boolean(),
    become: z.boolean(),
  })
  .partial();

export interface EdgeSetting {
  value: string | number | boolean;
  file: string;
  line: number;
}

export function findEdgeSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd(), home = homedir()): string | undefined {
  if (env.EDGE_CONFIG) return path.resolve(cwd, env.EDGE_CONFIG);
  const xdg = env.XDG_CONFIG_HOME || path.join(home, '.config');
  return [path.join(cwd, '.edge', 'config.yaml'), path.join(xdg, 'edge', 'config.yaml')].find((f) => existsSync(f));
}

/** Reads and validates the file (trusted.ts's rule first); errors name file:line:col and the key. Paths are relative to the file. */
export function readEdgeSettings(file: string): Map<EdgeSettingsKey, EdgeSetting> {
  // ./.edge/config.yaml: the .edge it is in is held to the same rule (another user's .edge in /tmp).
  if (path.basename(path.dirname(file)) === '.edge') requireTrusted(path.dirname(file), 'edge settings');
  requireTrusted(file, 'edge settings');
  const source = readYamlFile(file, file, 'edge settings file');
  const data = source.data ?? {};
  const parsed = schema.safeParse(data, PARSE_PARAMS);
  if (!parsed.success) {
    throw new EdgeErrors(issuesToErrors(parsed.error.issues, { locate: placeIn(source), data, knownKeys: () => [...EDGE_SETTINGS_KEYS] }));
  }
  const out = new Map<EdgeSettingsKey, EdgeSetting>();
  for (const [k, v] of Object.entries(parsed.data) as [EdgeSettingsKey, string | number | boolean][]) {
    const value = (k === 'inventory' || k === 'private-key') && typeof v === 'string' ? path.resolve(path.dirname(file), v) : v;
    out.set(k, { value, file, line: positionOf(source, [k]).line });
  }
  return out;
}

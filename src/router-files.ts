import { readFileSync } from 'node:fs';

/**
 * The files of src/router (the programs edge installs on a router, their library, edge-probe's awk),
 * read at run time from the package: one place whether edge runs from src/ (tests), dist/ (npm run
 * build) or an installed package (package.json "files" carries src/router). Below every layer: the
 * facts probe runs a function of the library, the renderers bundle whole programs.
 */
const DIR = new URL('../src/router/', import.meta.url);

const cache = new Map<string, string>();

/** A file of src/router as it is in the repository. */
export function routerFile(name: string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(new URL(name, DIR), 'utf8');
    cache.set(name, text);
  }
  return text;
}

/** The definition of shell function `name` in src/router/`file` (from `name() {` to the `}` that starts a line). */
export function shellFunction(file: string, name: string): string {
  const m = new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?^\\}\\n`, 'm').exec(routerFile(file));
  if (!m) throw new Error(`internal: src/router/${file} defines no function ${name}`);
  return m[0];
}

/** A script that defines shell function `name` of src/router/`file` and calls it (no arguments). */
export function shellCall(file: string, name: string): string {
  return `${shellFunction(file, name)}${name}`;
}

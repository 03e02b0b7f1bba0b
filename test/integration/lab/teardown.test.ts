import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isRoot, labLeftovers } from '../lab-fixture.js';
import { labPaths } from '../../../src/lab/state.js';
import { sleep } from '../../../src/lab/sys.js';

/**
 * `edge lab down` leaves no namespace, link, bridge, mount or process of the lab — after a complete
 * `up`, and after an `up` killed (SIGKILL) halfway. Runs the real CLI as child processes, in an
 * isolated lab instance (elab2-, 198.18.2.0/24) so the shared lab is never touched.
 */
const INSTANCE = 2;
const paths = labPaths(INSTANCE);
const CLI = new URL('./cli.ts', import.meta.url).pathname;
const T = { timeout: 300_000 };
const NOTHING = { netns: [], links: [], mounts: [], processes: [], cgroups: [], stateDir: false };

function lab(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    env: { ...process.env, EDGE_LAB_INSTANCE: String(INSTANCE) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, out })),
  );
  return { child, done };
}

/** The state file's recorded objects, read while `up` is writing it (undefined until there is one). */
function recorded(): { netns: string[]; procs: Record<string, { role: string }> } | undefined {
  try {
    return JSON.parse(readFileSync(paths.stateFile, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Start `up`, SIGKILL it as soon as `when` holds for the state it has recorded, then `down`. */
async function killedUpThenDown(when: (s: NonNullable<ReturnType<typeof recorded>>) => boolean): Promise<void> {
  const up = lab(['up', '--routers', '2']);
  const until = Date.now() + 120_000;
  for (;;) {
    const s = recorded();
    if (s && when(s)) break;
    if (up.child.exitCode !== null) throw new Error(`up finished before the kill point:\n${(await up.done).out}`);
    if (Date.now() > until) throw new Error('up never reached the kill point');
    await sleep(10);
  }
  up.child.kill('SIGKILL');
  expect((await up.done).signal).toBe('SIGKILL');
  const before = await labLeftovers(INSTANCE);
  expect(before.netns.length + before.processes.length).toBeGreaterThan(0); // it did leave things behind
  const down = await lab(['down']).done;
  expect(down.code, down.out).toBe(0);
  expect(await labLeftovers(INSTANCE)).toEqual(NOTHING);
}

describe.skipIf(!isRoot)('edge lab down', () => {
  it('after a complete up, nothing of the lab remains', T, async () => {
    const up = await lab(['up', '--routers', '2']).done;
    expect(up.code, up.out).toBe(0);
    expect(existsSync(paths.stateFile)).toBe(true);
    const running = await labLeftovers(INSTANCE);
    expect(running.netns).toHaveLength(9); // 2 x (router, isp1, isp2, lan) + inet
    expect(running.links).toContain(`${paths.prefix}-mgmt`);
    expect(running.processes.length).toBeGreaterThanOrEqual(5); // 2 containers, 2 dnsmasq, whoami
    expect(running.cgroups.map((c) => c.split('/').pop())).toEqual(expect.arrayContaining([`${paths.prefix}-r1`, `${paths.prefix}-r2`]));
    const down = await lab(['down']).done;
    expect(down.code, down.out).toBe(0);
    expect(await labLeftovers(INSTANCE)).toEqual(NOTHING);
  });

  it('after an up killed while wiring namespaces, nothing remains', T, async () => {
    await killedUpThenDown((s) => s.netns.some((n) => n.includes('-r1')));
  });

  it('after an up killed while containers boot, nothing remains', T, async () => {
    await killedUpThenDown((s) => Object.values(s.procs).some((p) => p.role === 'nspawn'));
  });

  it('down on a lab that is not there does nothing and succeeds', T, async () => {
    const down = await lab(['down']).done;
    expect(down.code, down.out).toBe(0);
    expect(await labLeftovers(INSTANCE)).toEqual(NOTHING);
  });
});

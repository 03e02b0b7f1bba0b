import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickInterfaces, sshFactsGatherer } from '../../../src/commands/pick.js';
import { ScriptedPrompter } from '../../../src/ui/prompts.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../../src/engine/types.js';
import { edge, REPO, type CliResult } from '../edge-cli.js';
import { managedFingerprint } from '../host-state.js';
import { ensureLab, isRoot, type Lab } from '../lab-fixture.js';
import { pollFor, report } from '../failover/helpers.js';

/**
 * Issue 19, "a router is untrusted input", on real routers: in one run r1 answers the facts probe
 * with a gzip bomb (256 MiB of zeros, 256 KiB on the wire) and r2 with 2 GiB of stdout; in the next
 * r1's `ip` never exits and r2 puts escape sequences in its hostname, its PRETTY_NAME and the
 * stderr of the task that fails on it. Each hostile router is failed with a clear error in bounded time, and is
 * left as it was (r2's failed task rolled back by edge), while r3, a normal router in the same run,
 * is applied. The controller's peak RSS (GNU time's %M) stays within 50 MB of a normal run of the
 * same three routers, and no byte of the escape sequences reaches edge's output (the run's, and
 * edge pick's, which shows the hostname). Last, r1's `ip` prints text that is not JSON for the facts
 * probe: r1 is failed naming what was wrong, and r3 is applied in the same run.
 *
 * The hostile programs are wrappers earlier in root's PATH (/usr/local/sbin), as a compromised
 * router could have; they are removed, and the os-release put back, afterwards.
 */
const PLAYBOOK = join(REPO, 'playbooks', 'failover.yaml');
const ROUTERS = ['r1', 'r2', 'r3'] as const;
const WRAPPERS = ['gzip', 'ip', 'nft', 'hostname'].map((p) => `/usr/local/sbin/${p}`);
const OS_RELEASE = '/usr/lib/os-release';
const OS_RELEASE_SAVED = '/run/edge-test/os-release.orig';
// Long enough for a first apply of r3 on a loaded 2-core CI machine; the stuck ip waits it out.
const COMMAND_TIMEOUT_S = 60;
// An OSC 52 (set the operator's clipboard), a clear screen and a colour: none may reach a terminal.
const HOSTILE = String.raw`\033]52;c;aG9zdGlsZQ==\007\033[2J\033[31mhostile\033[0m`;

describe.skipIf(!isRoot)('a hostile router fails alone, in bounded time and memory (issue 19)', () => {
  let lab: Lab;
  const applied: Record<string, string[]> = { r1: [], r2: [], r3: [] };
  const sh = async (router: string, script: string) => (await lab.run(router, ['bash', '-c', script], { allowFail: true })).stdout.trim();
  const wrapper = (router: string, name: string, body: string) =>
    sh(router, `printf '%s\\n' '#!/bin/sh' ${shq(body)} > /usr/local/sbin/${name} && chmod 0755 /usr/local/sbin/${name}`);
  const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

  /** edge run on the three routers under GNU time: the result, and edge's peak RSS in kB. */
  async function run(): Promise<{ res: CliResult; result: RunResult; maxRssKb: number }> {
    const res = await edge(['run', PLAYBOOK, '-i', lab.inventory, '--limit', ROUTERS.join(','), '--json', '--command-timeout', String(COMMAND_TIMEOUT_S)], {
      wrap: ['/usr/bin/time', '-f', 'EDGE_MAX_RSS_KB=%M'],
    });
    const rss = /EDGE_MAX_RSS_KB=(\d+)/.exec(res.stderr);
    expect(rss, res.stderr.slice(-2000)).not.toBeNull();
    let result: RunResult;
    try {
      result = JSON.parse(res.stdout) as RunResult;
    } catch {
      throw new Error(`edge printed no JSON (exit ${res.code}):\n${res.stderr.slice(-3000)}`);
    }
    for (const h of result.hosts) if (h.status === 'changed' || h.status === 'ok') applied[h.host]!.push(result.runId);
    return { res, result, maxRssKb: Number(rss![1]) };
  }

  async function rollBackAll(): Promise<void> {
    for (const r of ROUTERS) {
      for (const id of [...applied[r]!].reverse()) {
        const rb = await edge(['rollback', id, '-i', lab.inventory, '--limit', r]);
        expect(rb.code, rb.stdout + rb.stderr).toBe(0);
        applied[r]!.pop();
      }
    }
  }

  const host = (result: RunResult, name: string) => result.hosts.find((h) => h.host === name)!;

  beforeAll(async () => {
    lab = await ensureLab(3);
    for (const r of ROUTERS) await sh(r, `rm -f ${WRAPPERS.join(' ')}`);
  }, 300_000);

  afterAll(async () => {
    for (const r of ROUTERS) await sh(r, `rm -f ${WRAPPERS.join(' ')}; [ ! -f ${OS_RELEASE_SAVED} ] || mv -f ${OS_RELEASE_SAVED} ${OS_RELEASE}`);
    await rollBackAll();
  }, 300_000);

  it('gzip bomb, 2 GiB of stdout, an ip that never exits, escape sequences, malformed facts: each fails its host, r3 is applied', async () => {
    const pristine: Record<string, string> = {};
    for (const r of ROUTERS) pristine[r] = await managedFingerprint(lab, r);

    // A normal run of the same routers: the controller's peak RSS to compare with.
    // It also says what "r3 is applied" looks like: its status ('changed' from a pristine router,
    // 'ok' if an earlier test file of the shared lab left it applied) and its managed state.
    const normal = await run();
    expect(normal.res.code, normal.res.stderr.slice(-3000)).toBe(0);
    const r3Applied = { status: host(normal.result, 'r3').status, state: await managedFingerprint(lab, 'r3') };
    const expectR3Applied = async (result: RunResult) => {
      expect(host(result, 'r3').status).toBe(r3Applied.status);
      expect(await managedFingerprint(lab, 'r3'), 'r3 is not in the state a normal run leaves').toBe(r3Applied.state);
    };
    await rollBackAll();
    for (const r of ROUTERS) expect(await managedFingerprint(lab, r), `${r} not rolled back`).toBe(pristine[r]);

    // 1. r1: a gzip bomb; r2: 2 GiB of raw stdout. Both from the facts probe's `gzip`.
    await wrapper('r1', 'gzip', 'cat >/dev/null; head -c 268435456 /dev/zero | /usr/bin/gzip -1c');
    await wrapper('r2', 'gzip', 'cat >/dev/null; head -c 2147483648 /dev/zero');
    const floods = await run();
    const said1 = floods.res.stdout + floods.res.stderr;
    expect(floods.res.code, said1.slice(-3000)).not.toBe(0);
    expect(host(floods.result, 'r1').status).toBe('failed');
    expect(host(floods.result, 'r1').error).toContain('the output of the command decompresses to more than 16 MiB: refused (a gzip bomb?)');
    expect(host(floods.result, 'r2').status).toBe('failed');
    expect(host(floods.result, 'r2').error).toContain('r2 sent more than 16 MiB on stdout for one command: the channel was closed and the output dropped');
    await expectR3Applied(floods.result);
    for (const r of ['r1', 'r2']) {
      await sh(r, `rm -f /usr/local/sbin/gzip`);
      expect(await managedFingerprint(lab, r), `${r} changed`).toBe(pristine[r]);
    }
    // the 2 GiB writer ended with its channel, not after 2 GiB
    // (the pattern's brackets keep pgrep from matching the shell that runs it)
    await pollFor('the 2 GiB writer ended', (COMMAND_TIMEOUT_S + 20) * 1000, async () => ((await sh('r2', 'pgrep -f "head -c 214748364[8]" || true')) === '' || undefined));
    await rollBackAll();

    // 2. r1: `ip -j -d link show` never exits; r2: escape sequences in PRETTY_NAME and in the
    // stderr of the nft check that fails its nftables task.
    await wrapper('r1', 'ip', 'if [ "$*" = "-j -d link show" ]; then exec sleep 100000; else exec /usr/sbin/ip "$@"; fi');
    await sh('r2', `mkdir -p /run/edge-test && cp -p ${OS_RELEASE} ${OS_RELEASE_SAVED} && h=$(printf '${HOSTILE}') && sed -i "s/^PRETTY_NAME=.*/PRETTY_NAME=\\"Debian $h\\"/" ${OS_RELEASE}`);
    await wrapper('r2', 'hostname', `printf 'r2${HOSTILE}\\n'`);
    await wrapper('r2', 'nft', `case " $* " in *" -c "*) printf 'nft: ${HOSTILE}\\n' >&2; exit 1;; esac; exec /usr/sbin/nft "$@"`);
    expect(await sh('r2', `grep -c "$(printf '\\033')" ${OS_RELEASE}`)).toBe('1');
    const before2 = { r1: await managedFingerprint(lab, 'r1'), r2: await managedFingerprint(lab, 'r2') };
    const t0 = Date.now();
    const stuck = await run();
    const stuckMs = Date.now() - t0;
    expect(host(stuck.result, 'r1').status).toBe('failed');
    expect(host(stuck.result, 'r1').error).toContain(`timed out after ${COMMAND_TIMEOUT_S * 1000} ms`);
    expect(host(stuck.result, 'r2').status).toBe('failed');
    await expectR3Applied(stuck.result);
    // bounded: the command timeout and its grace, not the sleep
    expect(stuckMs).toBeLessThan((COMMAND_TIMEOUT_S + 60) * 1000);
    expect(await managedFingerprint(lab, 'r1')).toBe(before2.r1);
    expect(await managedFingerprint(lab, 'r2'), 'r2 was not rolled back to the state before the run').toBe(before2.r2);
    // timeout(1) on the router ends it a second after edge gave up (exec.ts, withRemoteTimeout)
    await pollFor('the stuck ip ended with its exec', 15_000, async () => ((await sh('r1', 'pgrep -f "sleep 10000[0]" || true')) === '' || undefined));
    await rollBackAll();

    // What a person sees (progress and recap, on stderr beside --json): r2's PRETTY_NAME and its
    // nft's stderr, the escapes made visible.
    expect(stuck.res.stderr).not.toMatch(/[\x1b\x07\x9b]/);
    expect(stuck.res.stderr).toContain('\\x1b]52;c;aG9zdGlsZQ==\\x07');
    expect(stuck.res.stderr).toContain('\\x1b[2J');

    // r2's hostname is shown where edge shows one: by edge pick, next to the inventory name.
    const picked: string[] = [];
    const inv = join(mkdtempSync(join(tmpdir(), 'edge-hostile-')), 'lab.yaml');
    copyFileSync(lab.inventory, inv);
    const settings = { acceptNewHostKeys: false, connectTimeoutMs: 10_000, commandTimeoutMs: 60_000 };
    // no answers: the first question ends the picker, after it has shown r2 and its interfaces
    await pickInterfaces({ inventory: inv, limit: 'r2', gather: sshFactsGatherer(settings), write: (t) => picked.push(t) }, new ScriptedPrompter([])).catch(() => undefined);
    const pickText = picked.join('');
    expect(pickText).not.toMatch(/[\x1b\x07\x9b]/);
    expect(pickText).toContain('r2 (r2\\x1b]52;c;aG9zdGlsZQ==\\x07\\x1b[2J');

    // 3. r1: its `ip` answers the facts probe's link query with text that is not JSON (r2 keeps
    // its hostile nft and fails as before): r1 is failed naming what was wrong, r3 applied.
    await wrapper('r1', 'ip', `if [ "$*" = "-j -d link show" ]; then echo '<html>503 not json'; else exec /usr/sbin/ip "$@"; fi`);
    const before3 = await managedFingerprint(lab, 'r1');
    const malformed = await run();
    expect(host(malformed.result, 'r1').status).toBe('failed');
    expect(host(malformed.result, 'r1').error).toContain('the facts the host sent are malformed: `ip -j -d link show` printed output that is not JSON (');
    expect(malformed.res.stderr).toMatch(/^r1: failed — .*the facts the host sent are malformed: `ip -j -d link show` printed output that is not JSON \(/m);
    await expectR3Applied(malformed.result);
    expect(await managedFingerprint(lab, 'r1'), 'r1 changed').toBe(before3);
    await rollBackAll();

    const rss = { normal: normal.maxRssKb, floods: floods.maxRssKb, stuck: stuck.maxRssKb };
    report(
      '19 hostile router',
      `peak RSS kB ${JSON.stringify(rss)}; floods run ${floods.res.ms} ms (${said1.length} B of output); ip that never exits: run ended after ${stuckMs} ms`,
    );
    expect(floods.maxRssKb - normal.maxRssKb, 'peak RSS with a gzip bomb and a 2 GiB flood').toBeLessThan(50 * 1024);
    expect(stuck.maxRssKb - normal.maxRssKb, 'peak RSS with a stuck ip and escape sequences').toBeLessThan(50 * 1024);
  }, 900_000);
});

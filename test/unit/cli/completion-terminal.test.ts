import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completionScript } from '../../../src/commands/completion.js';
import { SHELLS, type Shell } from '../../../src/ui/cli-model.js';
import { CLI, REPO } from '../../integration/edge-cli.js';
import { has } from '../../fixtures/host-tools.js';

/**
 * Completion as a person meets it: each shell runs in a real terminal (tmux, 80×24) with edge's
 * script loaded, keys are typed, Tab is pressed, and the test reads what the screen offers. The
 * other completion tests call the functions; this one would catch a script that is right but
 * never reached (zsh passing "-i FILE" as one word to edge, bash falling back to file names).
 */

const dir = mkdtempSync(path.join(tmpdir(), 'edge-complete-tty-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Hosts and groups no file in the repository is named like: seeing them proves edge was asked. */
const INVENTORY = `all:
  children:
    core:
      hosts:
        zulu-rtr1: {}
        zulu-rtr2: {}
    spokes:
      hosts:
        yankee-rtr3: {}
`;

beforeAll(async () => {
  for (const s of SHELLS) writeFileSync(path.join(dir, `edge.${s}`), await completionScript(s));
  writeFileSync(path.join(dir, 'inv.yaml'), INVENTORY);
  writeFileSync(path.join(dir, 'edge'), `#!/bin/sh\nexec ${process.execPath} --import tsx ${CLI} "$@"\n`);
  chmodSync(path.join(dir, 'edge'), 0o755);
});

const tmux = (...args: string[]) => spawnSync('tmux', ['-L', `edge-complete-${process.pid}`, ...args], { encoding: 'utf8' });

/** Each shell without the user's configuration, edge's script loaded, in the repository. */
const START: Record<Shell, string> = {
  bash: `env -i HOME=${dir} TERM=xterm PATH=${dir}:/usr/bin:/bin bash --norc --noprofile`,
  zsh: `env -i HOME=${dir} TERM=xterm PATH=${dir}:/usr/bin:/bin zsh -f`,
  fish: `env -i HOME=${dir} TERM=xterm PATH=${dir}:/usr/bin:/bin XDG_CONFIG_HOME=${dir}/fish-config fish --no-config`,
};
const LOAD: Record<Shell, string> = {
  bash: `source ${dir}/edge.bash; PS1='$ '`,
  zsh: `autoload -Uz compinit; compinit -u -d ${dir}/zcompdump; source ${dir}/edge.zsh; PS1='$ '`,
  fish: `source ${dir}/edge.fish; function fish_prompt; echo '$ '; end`,
};

class Terminal {
  private constructor(readonly name: string) {}

  static async open(shell: Shell): Promise<Terminal> {
    const t = new Terminal(`${shell}-${process.pid}`);
    tmux('new-session', '-d', '-s', t.name, '-x', '80', '-y', '24', '-c', REPO, START[shell]);
    await t.type(`cd ${REPO}; ${LOAD[shell]}`, 'Enter');
    await t.type('clear', 'Enter');
    return t;
  }

  async type(text: string, ...keys: string[]): Promise<void> {
    if (text) tmux('send-keys', '-t', this.name, '-l', text);
    for (const k of keys) tmux('send-keys', '-t', this.name, k);
    await new Promise((r) => setTimeout(r, 300));
  }

  screen(): string {
    return tmux('capture-pane', '-p', '-t', this.name).stdout;
  }

  /** Polls the screen until `want` holds (edge __complete starts node: a second or more), else the last screen. */
  async until(want: (screen: string) => boolean, ms = 30_000): Promise<string> {
    const t0 = Date.now();
    let s = this.screen();
    while (!want(s) && Date.now() - t0 < ms) {
      await new Promise((r) => setTimeout(r, 250));
      s = this.screen();
    }
    return s;
  }

  /** Ctrl-C: a fresh, empty command line. */
  async reset(): Promise<void> {
    await this.type('', 'C-c');
    await this.type('clear', 'Enter');
  }

  close(): void {
    tmux('kill-session', '-t', this.name);
  }
}

/** Tab, twice for bash (its first Tab only completes a common prefix). */
const TAB: Record<Shell, string[]> = { bash: ['Tab', 'Tab'], zsh: ['Tab'], fish: ['Tab'] };

describe.skipIf(!has('tmux'))('completion in a real terminal (tmux 80×24)', () => {
  // each shell in its own tmux session: they run side by side
  it.concurrent.each(SHELLS.filter((s) => has(s)))('%s: commands, --limit with the hosts and groups of -i, and no file names after --tags', async (shell) => {
    const t = await Terminal.open(shell);
    try {
      await t.type('edge rollb', 'Tab');
      expect(await t.until((s) => /edge rollback/.test(s))).toMatch(/^\$ edge rollback/m);
      await t.reset();

      await t.type(`edge run playbooks/failover.yaml -i ${dir}/inv.yaml --limit `, ...TAB[shell]);
      const words = ['zulu-rtr1', 'zulu-rtr2', 'yankee-rtr3', 'core', 'spokes'];
      const offered = await t.until((s) => words.every((w) => s.includes(w)));
      for (const w of words) expect(offered, `${shell} offered:\n${offered}`).toContain(w);
      await t.reset();

      // --tags takes task names: no file of the repository may be offered for it
      await t.type('edge run playbooks/failover.yaml --tags ', ...TAB[shell]);
      await new Promise((r) => setTimeout(r, 2_000));
      const tags = t.screen();
      for (const f of ['package.json', 'README.md', 'tsconfig.json']) expect(tags, `${shell} offered:\n${tags}`).not.toContain(f);
      await t.reset();

      // and where edge takes a file, the files are there
      await t.type('edge run playbooks/fail', 'Tab');
      expect(await t.until((s) => /playbooks\/failover\.(yaml|md)/.test(s))).toMatch(/playbooks\/failover\./);
      for (const l of t.screen().split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    } finally {
      t.close();
    }
  }, 120_000);
});

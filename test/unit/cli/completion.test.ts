import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { completionScript } from '../../../src/commands/completion.js';
import { manText } from '../../../src/commands/man.js';
import { COMMANDS } from '../../../src/commands/registry.js';
import { SHELLS } from '../../../src/ui/cli-model.js';
import { CLI, REPO } from '../../integration/edge-cli.js';
import { has } from '../../fixtures/host-tools.js';

const scripts: Record<string, string> = {};
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'edge-completion-'));
  for (const s of SHELLS) {
    scripts[s] = await completionScript(s);
    writeFileSync(path.join(dir, `edge.${s}`), scripts[s]!);
  }
  // `edge` on PATH for the scripts' `edge __complete` calls: the real CLI from the sources.
  writeFileSync(path.join(dir, 'edge'), `#!/bin/sh\nexec ${process.execPath} --import tsx ${CLI} "$@"\n`);
  chmodSync(path.join(dir, 'edge'), 0o755);
});

describe('shell completion, generated from the command definitions', () => {
  it.each(['bash', 'zsh', 'fish'].filter(has))('%s -n parses it', (shell) => {
    const r = spawnSync(shell, ['-n', path.join(dir, `edge.${shell}`)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const c of COMMANDS.filter((x) => !x.hidden)) expect(scripts[shell]).toContain(c.name);
  });

  /** What bash offers for the words typed so far (the last one being completed). */
  function bashComplete(...words: string[]): string[] {
    const line = ['edge', ...words].map((w) => `'${w}'`).join(' ');
    const script = `source ${dir}/edge.bash; COMP_WORDS=(${line}); COMP_CWORD=${words.length}; _edge; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = spawnSync('bash', ['-c', script], { cwd: REPO, encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split('\n').filter(Boolean);
  }

  it.skipIf(!has('ansible-inventory'))('bash offers commands, flags, choices, and the hosts and groups of the -i inventory for --limit', () => {
    expect(bashComplete('ro')).toEqual(['rollback']);
    expect(bashComplete('run', '--li')).toEqual(['--limit', '--list-hosts', '--list-tasks']);
    expect(bashComplete('run', '--confirm', '')).toEqual(['auto', 'manual']);
    expect(bashComplete('lab', 'fa')).toEqual(['fault']);
    expect(bashComplete('completion', '')).toEqual(['bash', 'zsh', 'fish']);
    const inv = 'inventories/example-ansible.yaml';
    const offered = bashComplete('run', 'playbooks/failover.yaml', '-i', inv, '--limit', '');
    const listed = spawnSync('ansible-inventory', ['-i', inv, '--list'], { cwd: REPO, encoding: 'utf8' });
    const ansible = JSON.parse(listed.stdout) as Record<string, unknown> & { _meta: { hostvars: Record<string, unknown> } };
    // Ansible always has the group `ungrouped` (--list leaves it out when empty; --limit takes it).
    const names = ['ungrouped', ...Object.keys(ansible).filter((k) => k !== '_meta'), ...Object.keys(ansible._meta.hostvars)];
    expect(new Set(offered)).toEqual(new Set(names));
  }, 30_000);

  it.skipIf(!has('groff'))('the man page is clean roff (groff -ww reports nothing) and has every command and exit code', async () => {
    const page = await manText('2026-12-01');
    const r = spawnSync('groff', ['-man', '-ww', '-z'], { input: page, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const text = spawnSync('groff', ['-man', '-Tutf8', '-P', '-c'], { input: page, encoding: 'utf8', env: { ...process.env, MANWIDTH: '80' } }).stdout.replace(/.\x08/g, '');
    for (const c of COMMANDS.filter((x) => !x.hidden)) expect(text).toContain(`edge ${c.name}`);
    expect(text).toMatch(/EXIT STATUS[\s\S]*99[\s\S]*interrupted/);
    expect(text).toContain('--private-key');
  });
});

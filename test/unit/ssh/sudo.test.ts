import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { becomeFailure, buildInvocation } from '../../../src/ssh/sudo.js';

// A stand-in for sudo that behaves like the real one on the points that matter here: `-n` fails
// when a password is needed, `-S` reads one line from stdin only when it needs a password.
const FAKE_SUDO = `#!/bin/sh
stdin_pw=0; nonint=0
while [ $# -gt 0 ]; do
  case "$1" in
    -n) nonint=1 ;;
    -S) stdin_pw=1 ;;
    -p) shift ;;
    --) shift; break ;;
  esac
  shift
done
if [ "$FAKE_SUDO_MODE" = password ]; then
  if [ $nonint = 1 ]; then echo "sudo: a password is required" >&2; exit 1; fi
  tries=0
  while [ $tries -lt 3 ]; do
    IFS= read -r pw || { echo "sudo: no password was provided" >&2; exit 1; }
    [ "$pw" = "$FAKE_SUDO_PW" ] && exec "$@"
    echo "Sorry, try again." >&2
    tries=$((tries + 1))
  done
  echo "sudo: 3 incorrect password attempts" >&2; exit 1
fi
exec "$@"
`;

let bin: string;
beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), 'edge-fakesudo-'));
  writeFileSync(join(bin, 'sudo'), FAKE_SUDO);
  chmodSync(join(bin, 'sudo'), 0o755);
});
afterAll(() => rmSync(bin, { recursive: true, force: true }));

const SCRIPT = 'echo "first line ran"\nread -r x; echo "script read: $x"\n';
const PW = "s3cret pa'ss";

function run(command: string, stdin: Buffer, mode: 'password' | 'nopasswd', pw = PW) {
  const r = spawnSync('sh', ['-c', command], {
    input: stdin,
    env: { HOME: bin, PATH: `${bin}:${process.env.PATH}`, FAKE_SUDO_MODE: mode, FAKE_SUDO_PW: pw },
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('buildInvocation', () => {
  it('runs argv as is when no sudo is needed', () => {
    expect(buildInvocation(['bash', '-s'], false)).toMatchObject({ command: 'bash -s', become: 'none' });
  });

  it('uses sudo -n without a password, and reports that one is needed', () => {
    const inv = buildInvocation(['bash', '-s'], true);
    expect(inv.command).toBe('sudo -n -- bash -s');
    const ok = run(inv.command, Buffer.concat([inv.stdinPrefix, Buffer.from(SCRIPT), Buffer.from('data\n')]), 'nopasswd');
    expect(ok.stdout).toBe('first line ran\nscript read: data\n');
    const denied = run(inv.command, Buffer.from(SCRIPT), 'password');
    const err = becomeFailure(inv.become, denied, { name: 'r1', user: 'ops' });
    expect(err?.code).toBe('CONNECT');
    expect(err?.hint).toMatch(/--ask-become-pass/);
  });

  for (const mode of ['password', 'nopasswd'] as const) {
    it(`feeds the password on stdin and the script starts right after it (sudo ${mode})`, () => {
      const inv = buildInvocation(['bash', '-s'], true, PW);
      expect(inv.command).not.toContain(PW);
      const r = run(inv.command, Buffer.concat([inv.stdinPrefix, Buffer.from(SCRIPT), Buffer.from('data\n')]), mode);
      expect(r.stdout).toBe('first line ran\nscript read: data\n');
      expect(r.stderr).toBe('');
      expect(r.stdout + r.stderr).not.toContain('s3cret');
      expect(becomeFailure(inv.become, r, { name: 'r1', user: 'ops' })).toBeUndefined();
    });
  }

  it('reports a wrong password without running the script or echoing anything', () => {
    const inv = buildInvocation(['bash', '-s'], true, 'wrong');
    const r = run(inv.command, Buffer.concat([inv.stdinPrefix, Buffer.from(SCRIPT)]), 'password');
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain('wrong');
    const err = becomeFailure(inv.become, r, { name: 'r1', user: 'ops' });
    expect(err?.message).toMatch(/rejected the become password/);
    expect(err?.message).not.toContain('wrong');
  });

  it('uses a fresh marker per exec and rejects passwords with line breaks', () => {
    expect(buildInvocation(['bash', '-s'], true, 'x').command).not.toBe(buildInvocation(['bash', '-s'], true, 'x').command);
    expect(() => buildInvocation(['bash', '-s'], true, 'a\nb')).toThrow(/line break/);
  });

  it('quotes a custom argv', () => {
    expect(buildInvocation(['cat', '/tmp/a b'], true).command).toBe("sudo -n -- cat '/tmp/a b'");
  });
});

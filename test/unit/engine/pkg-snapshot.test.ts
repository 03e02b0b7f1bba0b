import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { HOST_LIB } from '../../../src/engine/host-layout.js';
import { PKGS_REMOVED_MARK, pkgStateLib } from '../../../src/engine/pkg-snapshot.js';

/**
 * src/router/pkg-state.sh against a fake dpkg: the records around apt (what dpkg did not have before,
 * what changed under /etc), the restore (purge exactly those, /etc back byte for byte), the baseline's
 * record, a lock held by another apt, and a dpkg that refuses.
 */

const root = mkdtempSync(join(tmpdir(), 'edge-pkgs-'));
afterAll(() => process.env.KEEP_SANDBOX || rmSync(root, { recursive: true, force: true }));

let dir: string;
const p = (...x: string[]) => join(dir, ...x);

/** dpkg-query prints the status file; dpkg logs its calls and purges/removes in it (or fails as FAIL says). */
function fakes() {
  mkdirSync(p('bin'), { recursive: true });
  writeFileSync(p('bin/sync'), '#!/bin/sh\n', { mode: 0o755 }); // the host's disks are not the test's
  writeFileSync(p('bin/dpkg-query'), `#!/bin/bash\ncat ${p('status')}\n`, { mode: 0o755 });
  writeFileSync(
    p('bin/dpkg'),
    `#!/bin/bash
echo "dpkg $*" >> ${p('calls')}
if [ -s ${p('lock')} ]; then n=$(cat ${p('lock')}); echo $((n - 1)) > ${p('lock')}; [ "$n" -le 0 ] || { echo "dpkg: error: dpkg frontend lock was locked by another process with pid 4242" >&2; exit 2; }; fi
if [ -f ${p('refuse')} ]; then cat ${p('refuse')} >&2; exit 1; fi
act=$1; shift
for n in "$@"; do
  if [ "$act" = --purge ]; then sed -i "/^$n /d" ${p('status')}; else sed -i "s/^$n .*/$n config-files/" ${p('status')}; fi
done
`,
    { mode: 0o755 },
  );
}

/** An /etc with a passwd, a directory, a symlink and a file apt will leave alone. */
function etc() {
  mkdirSync(p('etc/systemd/system/multi-user.target.wants'), { recursive: true });
  writeFileSync(p('etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n', { mode: 0o644 });
  writeFileSync(p('etc/hostname'), 'r1\n');
  mkdirSync(p('etc/default'));
  chmodSync(p('etc/default'), 0o755);
  symlinkSync('/usr/share/zoneinfo/UTC', p('etc/localtime'));
}

/** What apt does: adds foo and its dependency libfoo, configures bar (config files before), changes /etc. */
function apt() {
  writeFileSync(p('status'), 'bar installed\nbase installed\nfoo installed\nlibfoo half-configured\n');
  writeFileSync(p('etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nfoo:x:100:100::/var/lib/foo:/usr/sbin/nologin\n');
  writeFileSync(p('etc/passwd-'), 'root:x:0:0:root:/root:/bin/bash\n');
  writeFileSync(p('etc/default/foo'), 'ARGS=""\n');
  mkdirSync(p('etc/foo/conf.d'), { recursive: true });
  writeFileSync(p('etc/foo/conf.d/a.conf'), 'a\n');
  symlinkSync('/lib/systemd/system/foo.service', p('etc/systemd/system/multi-user.target.wants/foo.service'));
  chmodSync(p('etc/default'), 0o700);
  rmSync(p('etc/localtime'));
  symlinkSync('/usr/share/zoneinfo/Europe/Paris', p('etc/localtime'));
}

function sh(body: string, env: Record<string, string> = {}) {
  const script = `set -u\nexport LC_ALL=C\nrc=0\n${HOST_LIB}\n${pkgStateLib(p('baseline'))}\nD=${p('snap')}\n${body}\necho "rc=$rc"\n`;
  return spawnSync('bash', ['-c', script], {
    encoding: 'utf8',
    input: '',
    // SHLVL: a bash started with none may take itself for a login over ssh and read ~/.bashrc
    env: { SHLVL: '1', PATH: `${p('bin')}:/usr/bin:/bin`, EDGE_ETC: p('etc'), ...env },
  });
}

/** The tree as the lab's fingerprint sees it: every entry with type, mode, owner, link target and content. */
const tree = () => spawnSync('bash', ['-c', `cd ${p('etc')} && find . -printf '%p %y %m %U:%G %l\\n' | sort && find . -type f -print0 | sort -z | xargs -0 md5sum`], { encoding: 'utf8', env: { SHLVL: '1', PATH: '/usr/bin:/bin' } }).stdout;

beforeEach(() => {
  dir = mkdtempSync(join(root, 't-'));
  fakes();
  etc();
  mkdirSync(p('snap'));
  mkdirSync(p('baseline/items'), { recursive: true });
  writeFileSync(p('status'), 'bar config-files\nbase installed\n');
});

// Each case runs several bash scripts with a fake dpkg: seconds on a loaded 2-core CI host, more than the 20 s default.
describe('pkg-state.sh: the packages part of a snapshot', { timeout: 120_000 }, () => {
  it('purges exactly what apt added, removes again what had config files only, and puts /etc back byte for byte', () => {
    const before = tree();
    expect(sh('edge_pkgs_before').stderr).toBe('');
    apt();
    const after = sh('edge_pkgs_after');
    expect(after.stderr).toBe('');
    expect(readFileSync(p('snap/pkgs/added'), 'utf8')).toBe('bar config-files\nfoo absent\nlibfoo absent\n');
    expect(readFileSync(p('snap/pkgs/etc.changed'), 'utf8').split('\n').filter(Boolean).sort()).toEqual(
      [
        'd 755 ' + `${process.getuid!()}:${process.getgid!()}\tdefault`,
        '-\tdefault/foo',
        '-\tfoo',
        '-\tfoo/conf.d',
        '-\tfoo/conf.d/a.conf',
        'l 777 ' + `${process.getuid!()}:${process.getgid!()}\tlocaltime`,
        'f 644 ' + `${process.getuid!()}:${process.getgid!()}\tpasswd`,
        '-\tpasswd-',
        '-\tsystemd/system/multi-user.target.wants/foo.service',
      ].sort(),
    );
    // the copy of /etc is dropped once the changes are known; only what changed is kept
    expect(spawnSync('ls', [p('snap/pkgs/before')], { encoding: 'utf8' }).stdout).toBe('status\n');
    expect(readFileSync(p('snap/pkgs/done'), 'utf8')).toContain('3 packages, 9 paths');
    const r = sh('edge_pkgs_restore "$D/pkgs"');
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${PKGS_REMOVED_MARK} foo libfoo bar\nrc=0\n`);
    expect(readFileSync(p('calls'), 'utf8')).toBe('dpkg --purge foo libfoo\ndpkg --remove bar\n');
    expect(readFileSync(p('status'), 'utf8')).toBe('bar config-files\nbase installed\n');
    expect(tree()).toBe(before);
    // again: nothing left to purge, /etc stays as it is
    expect(sh('edge_pkgs_restore "$D/pkgs"').stdout).toBe('rc=0\n');
    expect(readFileSync(p('calls'), 'utf8')).toBe('dpkg --purge foo libfoo\ndpkg --remove bar\n');
    expect(tree()).toBe(before);
  });

  it('apt cut short (no record after it): the restore finds what it got to and undoes that', () => {
    const before = tree();
    sh('edge_pkgs_before');
    apt();
    const r = sh('edge_pkgs_restore "$D/pkgs"');
    expect(r.stdout).toBe(`${PKGS_REMOVED_MARK} foo libfoo bar\nrc=0\n`);
    expect(tree()).toBe(before);
  });

  it('the baseline keeps each package once and each path\'s first state, and leaves a path with a baseline file item to that item', () => {
    const before = tree();
    const key = Buffer.from(`file:${p('etc')}/hostname`).toString('hex');
    writeFileSync(p('baseline/items', key), '{"kind":"file"}\n');
    sh('edge_pkgs_before');
    apt();
    writeFileSync(p('etc/hostname'), 'r1-renamed\n');
    const rec = sh('edge_pkgs_after');
    expect(rec.stderr + rec.stdout).toBe('rc=0\n');
    expect(readFileSync(p('baseline/pkgs/added'), 'utf8')).toBe('bar config-files\nfoo absent\nlibfoo absent\n');
    expect(readFileSync(p('baseline/pkgs/etc.changed'), 'utf8')).not.toContain('hostname');
    expect(readFileSync(p('baseline/pkgs/etc.changed'), 'utf8')).toContain('\tpasswd\n');
    // a second run's record adds nothing that is there already
    rmSync(p('snap'), { recursive: true });
    mkdirSync(p('snap'));
    sh('edge_pkgs_before');
    writeFileSync(p('status'), 'bar installed\nbase installed\nfoo installed\nlibfoo installed\nnew installed\n');
    writeFileSync(p('etc/passwd'), 'changed again\n');
    sh('edge_pkgs_after');
    expect(readFileSync(p('baseline/pkgs/added'), 'utf8')).toBe('bar config-files\nfoo absent\nlibfoo absent\nnew absent\n');
    expect(readFileSync(p('baseline/pkgs/etc.changed'), 'utf8').match(/\tpasswd$/gm)).toHaveLength(1);
    writeFileSync(p('etc/hostname'), 'r1\n'); // the baseline's file item puts it back (not this library)
    const r = sh(`D=${p('baseline')}\nedge_pkgs_restore "$D/pkgs"`);
    expect(r.stdout).toBe(`${PKGS_REMOVED_MARK} foo libfoo new bar\nrc=0\n`);
    expect(tree()).toBe(before);
    // undone: the baseline's record is gone (a package installed after this is not edge's)
    expect(existsSync(p('baseline/pkgs'))).toBe(false);
  });

  it('a run rolled back takes out of the baseline what it put there, and only that', () => {
    const before = tree();
    sh('edge_pkgs_before');
    apt();
    sh('edge_pkgs_after');
    const first = { added: readFileSync(p('baseline/pkgs/added'), 'utf8'), etc: readFileSync(p('baseline/pkgs/etc.changed'), 'utf8') };
    // a second run on top installs one more package and changes passwd again
    const snap2 = `D=${p('snap2')}`;
    mkdirSync(p('snap2'));
    sh(`${snap2}\nedge_pkgs_before`);
    writeFileSync(p('status'), `${readFileSync(p('status'), 'utf8')}new installed\n`);
    writeFileSync(p('etc/new.conf'), 'x\n');
    sh(`${snap2}\nedge_pkgs_after`);
    expect(readFileSync(p('baseline/pkgs/added'), 'utf8')).toBe(`${first.added}new absent\n`);
    // rolled back, newest first: the baseline is as the first run left it, then empty
    expect(sh(`${snap2}\nedge_pkgs_restore "$D/pkgs"`).stdout).toBe(`${PKGS_REMOVED_MARK} new\nrc=0\n`);
    expect(readFileSync(p('baseline/pkgs/added'), 'utf8')).toBe(first.added);
    expect(readFileSync(p('baseline/pkgs/etc.changed'), 'utf8')).toBe(first.etc);
    expect(sh('edge_pkgs_restore "$D/pkgs"').stdout).toContain('rc=0');
    expect(readFileSync(p('baseline/pkgs/added'), 'utf8')).toBe('');
    expect(readFileSync(p('baseline/pkgs/etc.changed'), 'utf8')).toBe('');
    expect(spawnSync('find', [p('baseline/pkgs/etc'), '-type', 'f'], { encoding: 'utf8' }).stdout).toBe('');
    expect(tree()).toBe(before);
  });

  it('waits for another apt to let go of the lock, then purges', () => {
    sh('edge_pkgs_before');
    apt();
    writeFileSync(p('lock'), '2');
    const r = sh('edge_pkgs_restore "$D/pkgs"', { EDGE_DPKG_WAIT: '10' });
    expect(r.stdout).toContain(`${PKGS_REMOVED_MARK} foo libfoo bar`);
    expect(readFileSync(p('calls'), 'utf8').match(/--purge/g)).toHaveLength(3);
  });

  it('a lock held too long, or a dpkg that refuses: the restore fails with dpkg\'s words and leaves /etc for the packages still there', () => {
    sh('edge_pkgs_before');
    apt();
    const applied = tree();
    writeFileSync(p('lock'), '100');
    const locked = sh('edge_pkgs_restore "$D/pkgs"', { EDGE_DPKG_WAIT: '2' });
    expect(locked.stdout).toBe('rc=1\n');
    expect(locked.stderr).toMatch(/^edge restore: failed: dpkg --purge foo libfoo: dpkg: error: dpkg frontend lock was locked by another process with pid 4242/);
    expect(tree()).toBe(applied);
    rmSync(p('lock'));
    writeFileSync(p('refuse'), 'dpkg: dependency problems prevent removal of foo:\n operator-tool depends on foo.\n');
    const refused = sh('edge_pkgs_restore "$D/pkgs"');
    expect(refused.stdout).toBe('rc=1\n');
    expect(refused.stderr).toContain('operator-tool depends on foo.');
    expect(tree()).toBe(applied);
  });
});

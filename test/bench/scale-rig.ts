/**
 * The scale rig of `npm run bench:scale`: one network namespace that looks like a router (wan1,
 * wan2 and lan0 with addresses and a default route; veth pairs whose far ends stay inside the same
 * namespace, so nothing can leave it), one sshd in it, and N distinct host addresses: the whole of
 * 198.18.128.0/17 (inside the lab's management range 198.18.0.0/15) is a local route on lo, so
 * every address answers without being listed on an interface (the facts stay the size of one
 * router's). The controller runs inside the namespace too. The sshd is killed by its PID and the
 * namespace deleted at the end.
 *
 * sshd runs in a mount namespace of its own: a fake systemctl over /usr/local/sbin, an empty home
 * for root (the sessions run none of this host's dotfiles), and /var/lib behind an overlay whose
 * upper layer is a tmpfs, with a tmpfs at /var/lib/edge holding edge's script cache as the bench
 * asks (scale-cache.ts). Whatever a session writes there is gone with sshd; the host's own /var/lib
 * is never written (it has no /var/lib/edge to mount over). sshd runs at nice 19 and its sessions
 * as SCHED_IDLE, and by default the routers replay their answers (RigOptions.routers).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { EDGE_VAR } from '../../src/engine/host-layout.js';
import { SCRIPT_CACHE } from '../../src/engine/script-cache.js';
import { fingerprint } from '../../src/ssh/known-hosts.js';

export const RIG_PREFIX = '198.18.128.0/17';
/** 128 blocks of /24, each without its .0 and .255 (valid on a local route, but no one's router address). */
const PER_BLOCK = 254;
export const MAX_HOSTS = 128 * PER_BLOCK;
/** Inventory names s00001…: as wide as the largest rig, so they sort as they are numbered. */
const NAME_DIGITS = String(MAX_HOSTS).length;

export interface Rig {
  ns: string;
  dir: string;
  sshd: ChildProcess;
  /** Address of host i (1-based). */
  address(i: number): string;
  /** The rig's host key as edge fingerprints it (conn.hostKeyFingerprint: `SHA256:…`). */
  hostKeyFingerprint: string;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const ipn = (ns: string, ...args: string[]) => sh('ip', ['-n', ns, ...args]);

export function address(i: number): string {
  if (!Number.isInteger(i) || i < 1 || i > MAX_HOSTS) throw new Error(`the rig has room for ${MAX_HOSTS} hosts`);
  return `198.18.${128 + Math.floor((i - 1) / PER_BLOCK)}.${((i - 1) % PER_BLOCK) + 1}`;
}

/** Inventory name of host i (1-based). */
export function hostName(i: number): string {
  return `s${String(i).padStart(NAME_DIGITS, '0')}`;
}

/** wan1/wan2/lan0 as a router has them, each a veth whose peer (the "ISP" side) stays in the namespace. */
function routerLinks(ns: string): void {
  const links: [string, string][] = [
    ['wan1', '198.51.100.10/29'],
    ['wan2', '203.0.113.10/29'],
    ['lan0', '10.99.0.1/24'],
  ];
  for (const [name, cidr] of links) {
    ipn(ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}-peer`);
    ipn(ns, 'addr', 'add', cidr, 'dev', name);
    ipn(ns, 'link', 'set', `${name}-peer`, 'up');
    ipn(ns, 'link', 'set', name, 'up');
  }
  ipn(ns, 'route', 'add', 'default', 'via', '198.51.100.9', 'dev', 'wan1');
  ipn(ns, 'route', 'add', 'default', 'via', '203.0.113.9', 'dev', 'wan2', 'metric', '200');
}

function keys(dir: string): { hostKey: string; fp: string } {
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'edge-scale-host', '-f', join(dir, 'host_ed25519')]);
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'edge-scale-client', '-f', join(dir, 'id')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id.pub')));
  const key = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').trim().split(/\s+/)[1]!;
  return { hostKey: join(dir, 'host_ed25519'), fp: fingerprint(key) };
}

function sshdConfig(dir: string, hostKey: string, routers: Routers, replayMs: number | undefined): string {
  const file = join(dir, 'sshd_config');
  writeFileSync(
    file,
    [
      'ListenAddress 0.0.0.0:22',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'UseDNS no',
      'StrictModes no',
      // edge paces its own handshakes; sshd must not drop the ones that do come.
      'MaxStartups 400:30:800',
      'LogLevel ERROR',
      // SCHED_IDLE: the command as sshd would run it (the login shell's -c), or the replaying router.
      routers === 'real' ? 'ForceCommand exec chrt --idle 0 /bin/bash -c "$SSH_ORIGINAL_COMMAND"' : `ForceCommand exec chrt --idle 0 /bin/bash ${replayScript(dir, replayMs)}`,
      '',
    ].join('\n'),
  );
  return file;
}

async function waitForSshd(rig: Rig): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      sh('ip', ['netns', 'exec', rig.ns, 'bash', '-c', `exec 3<>/dev/tcp/${address(1)}/22`]);
      return;
    } catch {
      if (rig.sshd.exitCode !== null) throw new Error(`sshd exited (${rig.sshd.exitCode})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error('sshd did not start listening');
}

/** The rig's host key and client key, made before the rig (the controller's cache records name the host key). */
export function rigKeys(dir: string): { hostKey: string; fp: string } {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return keys(dir);
}

export interface RigOptions {
  /** Hash → the file's bytes, in every host's /var/lib/edge/cache. */
  cache?: ReadonlyMap<string, string>;
  /** Whether each host runs what edge sends, or replays the answer of one that did (Routers). */
  routers?: Routers;
  /** How long a replayed answer takes (ms); undefined: as long as the real run of that exec took. */
  replayMs?: number;
}

/**
 * Real routers have CPUs of their own; the rig's share the controller's. Here the probe costs about
 * 1.3 CPU-seconds a host (some 90 processes, on a VM where a fork and exec costs ~10 ms), so with
 * `real` routers 10,000 hosts are ~4 CPU-hours of probes on 2 cores: the run measures the rig, not
 * the controller, and at the same priority they starved it into handshake timeouts. Both ways sshd
 * runs at nice 19 and the sessions as SCHED_IDLE, so the controller has the CPU it asks for.
 *
 * `replay` (default): the first session to get a given exec (command and stdin byte for byte: a
 * --check run sends every host the same one) runs it for real, alone and at normal priority, and
 * keeps stdout, stderr, exit status and how long it took; every other session with that exec
 * waits (RigOptions.replayMs, or as long as the real run took) and answers the same bytes. The controller does all it does with real routers
 * (handshake, channel, the script sent, the answer received, decompressed, parsed, planned); the
 * routers take their time, and of the controller's cores only sshd's work and the replay's few
 * processes (~0.15 CPU-s a host). What differs per host in the facts is only the session's
 * addresses (SSH_CONNECTION, all the first host's), on which no part of this check's plan depends:
 * every rig address is in the one management subnet.
 */
export type Routers = 'replay' | 'real';

/** The rig for `hosts` hosts in `dir` (rigKeys first). */
export async function buildRig(dir: string, hosts: number, opts: RigOptions = {}): Promise<Rig> {
  const cache = opts.cache ?? new Map<string, string>();
  const routers = opts.routers ?? 'replay';
  const ns = `edge-scale-${process.pid}`;
  sh('ip', ['netns', 'add', ns]);
  try {
    ipn(ns, 'link', 'set', 'lo', 'up');
    ipn(ns, 'route', 'add', 'local', RIG_PREFIX, 'dev', 'lo');
    routerLinks(ns);
    const hostKey = join(dir, 'host_ed25519');
    const [type, key] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
    writeFileSync(join(dir, 'known_hosts'), Array.from({ length: hosts }, (_, i) => `${address(i + 1)} ${type} ${key}\n`).join(''));
    mkdirSync('/run/sshd', { recursive: true });
    const log = openSync(join(dir, 'sshd.log'), 'a');
    const start = [
      `mount --bind ${fakeSystemctl(dir)} /usr/local/sbin`,
      // A router's root has a stock home: this host's ~/.bashrc (which bash reads for every ssh
      // session) is not the rig's to run (a pyenv init there cost ~0.8 s of CPU per connection).
      `mount -t tmpfs -o mode=0700,size=1m edge-scale-home ${userInfo().homedir}`,
      ...edgeVar(dir, cache),
      // The replayed answers: a tmpfs of sshd's own.
      `mount -t tmpfs -o mode=0700,size=64m edge-scale-replay ${replayDir(dir)}`,
      `exec /usr/sbin/sshd -D -e -f ${sshdConfig(dir, hostKey, routers, opts.replayMs)}`,
    ].join(' && ');
    mkdirSync(replayDir(dir), { recursive: true });
    // nice, unshare and sh exec what follows, so this child's PID is sshd's.
    const sshd = spawn('ip', ['netns', 'exec', ns, 'nice', '-n', '19', 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', start], {
      stdio: ['ignore', log, log],
    });
    const rig: Rig = { ns, dir, sshd, address, hostKeyFingerprint: fingerprint(key!) };
    await waitForSshd(rig);
    return rig;
  } catch (e) {
    sh('ip', ['netns', 'del', ns]);
    throw e;
  }
}

/**
 * Shell (for sshd's own mount namespace) that gives the sessions a /var/lib/edge of tmpfs holding
 * `cache` as edge's installScript leaves it (the directory 0700, each file 0600, root's). The host
 * has no /var/lib/edge to mount over, so /var/lib is first an overlay whose upper layer is a tmpfs:
 * the directory is made there, and nothing reaches the host's disk.
 */
function edgeVar(dir: string, cache: ReadonlyMap<string, string>): string[] {
  const files = join(dir, 'router-cache');
  rmSync(files, { recursive: true, force: true });
  mkdirSync(files, { recursive: true, mode: 0o700 });
  for (const [hash, bytes] of cache) {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`not a cache name: ${hash}`);
    writeFileSync(join(files, hash), bytes, { mode: 0o600 });
  }
  const layer = join(dir, 'var-lib-layer');
  mkdirSync(layer, { recursive: true });
  return [
    `mount -t tmpfs -o mode=0755,size=16m edge-scale-var-lib ${layer}`,
    `mkdir ${layer}/upper ${layer}/work`,
    `mount -t overlay edge-scale-var-lib -o lowerdir=/var/lib,upperdir=${layer}/upper,workdir=${layer}/work /var/lib`,
    `mkdir -p ${EDGE_VAR}`,
    `mount -t tmpfs -o mode=0700,size=16m edge-scale-edge-var ${EDGE_VAR}`,
    `mkdir -m 0700 ${SCRIPT_CACHE}`,
    ...(cache.size ? [`cp -p ${files}/* ${SCRIPT_CACHE}/`] : []),
  ];
}

const replayDir = (dir: string) => join(dir, 'replay');

/** The session command of `replay` routers (Routers): bash builtins but for a handful of execs, as a replay costs CPU too. */
function replayScript(dir: string, replayMs: number | undefined): string {
  if (replayMs !== undefined && !(Number.isInteger(replayMs) && replayMs >= 0)) throw new Error(`replayMs: whole milliseconds, not ${replayMs}`);
  const file = join(dir, 'router.sh');
  const R = replayDir(dir);
  writeFileSync(
    file,
    [
      '#!/bin/bash',
      '# bench:scale replaying router (scale-rig.ts, Routers): the first session with this exec runs it, the others replay it.',
      `R=${R}`,
      'cmd=${SSH_ORIGINAL_COMMAND-}',
      'in=$R/in.$$',
      String.raw`key=$( { printf '%s\0' "$cmd"; tee "$in"; } | sha256sum )`,
      'key=${key%% *}',
      'rec=$R/$key',
      'if [ ! -f "$rec.ms" ]; then',
      '  exec 9>"$rec.lock"',
      '  flock 9',
      '  if [ ! -f "$rec.ms" ]; then',
      '    t0=$EPOCHREALTIME',
      // The one real run at normal priority (sshd's nice 19 and SCHED_IDLE undone): its time is a fair share's.
      '    chrt --other 0 nice -n -19 /bin/bash -c "$cmd" < "$in" > "$rec.out" 2> "$rec.err" 9>&-',
      '    echo $? > "$rec.code"',
      '    t1=$EPOCHREALTIME',
      '    ms=$(( (${t1/./} - ${t0/./}) / 1000 ))',
      '    echo "$key $ms" >> "$R/real.log"',
      '    echo "$ms" > "$rec.ms"',
      '  fi',
      '  exec 9>&-',
      'else',
      replayMs === undefined ? '  read -r ms < "$rec.ms"' : `  ms=${replayMs}`,
      String.raw`  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"`,
      'fi',
      'rm -f "$in"',
      'read -r code < "$rec.code"',
      '[ ! -s "$rec.err" ] || cat "$rec.err" >&2',
      'cat "$rec.out"',
      'exit "$code"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return file;
}

/** What the replaying routers ran for real: each distinct exec and how long it took (ms), read in sshd's mount namespace. */
export function replayedExecs(rig: Rig): { key: string; ms: number }[] {
  try {
    const log = readFileSync(`/proc/${rig.sshd.pid}/root${join(replayDir(rig.dir), 'real.log')}`, 'utf8');
    return log
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => ({ key: l.split(' ')[0]!, ms: Number(l.split(' ')[1]) }));
  } catch {
    return [];
  }
}

/**
 * The rig runs no systemd, so sshd's sessions get a `systemctl` that answers as a Debian router's
 * would (systemd-networkd active, edge's units not there yet), first in the probe's PATH: bound
 * over /usr/local/sbin in a mount namespace of sshd's own, so the host is left as it is.
 */
function fakeSystemctl(dir: string): string {
  const bin = join(dir, 'sbin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    join(bin, 'systemctl'),
    [
      '#!/bin/sh',
      'case "$1" in',
      '  is-active) [ "$2" = systemd-networkd ] && { echo active; exit 0; }; echo inactive; exit 3 ;;',
      '  show) shift; for u in "$@"; do case "$u" in -p|Id,*) continue ;; esac',
      '    printf "Id=%s\\nLoadState=not-found\\nActiveState=inactive\\nUnitFileState=\\n\\n" "$u"; done ;;',
      '  *) exit 1 ;;',
      'esac',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return bin;
}

/**
 * CPU seconds of the rig's "routers" so far: sshd with every session it has reaped (per-connection
 * sshd, the shell, the probe's commands), from /proc/PID/stat (utime, stime, cutime, cstime).
 */
export function rigCpuSeconds(rig: Rig): number {
  if (!rig.sshd.pid) return 0;
  const stat = readFileSync(`/proc/${rig.sshd.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  // Fields 14-17 of proc(5); f starts at field 3. Clock ticks: 100 a second on Linux (USER_HZ).
  return ((f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0)) / 100;
}

/** sshd by its PID (`ip netns exec` execs it, so the child's PID is sshd's), then the namespace. */
export async function teardownRig(rig: Rig): Promise<void> {
  if (rig.sshd.exitCode === null && rig.sshd.pid) {
    const gone = new Promise((r) => rig.sshd.once('exit', r));
    process.kill(rig.sshd.pid, 'SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
  }
  // Session processes sshd forked die with their connections; the namespace goes once they have.
  for (let i = 0; i < 50; i++) {
    try {
      sh('ip', ['netns', 'del', rig.ns]);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`could not delete network namespace ${rig.ns}`);
}

/** An inventory of `hosts` routers, all answering at the addresses of the rig in `dir`. */
export function writeInventory(dir: string, hosts: number): string {
  const file = join(dir, `inventory-${hosts}.yaml`);
  const lines = [
    'all:',
    '  vars:',
    '    ansible_user: root',
    `    ansible_ssh_private_key_file: ${join(dir, 'id')}`,
    `    edge_known_hosts_file: ${join(dir, 'known_hosts')}`,
    '    edge_wan1_interface: wan1',
    '    edge_wan2_interface: wan2',
    '    edge_lan_interface: lan0',
    `    edge_mgmt_subnets: ['${RIG_PREFIX}']`,
    '  hosts:',
    ...Array.from({ length: hosts }, (_, i) => `    ${hostName(i + 1)}: { ansible_host: ${address(i + 1)} }`),
    '',
  ];
  writeFileSync(file, lines.join('\n'));
  return file;
}

/**
 * The scale rig of `npm run bench:scale`: one network namespace that looks like a router (wan1,
 * wan2 and lan0 with addresses and a default route; veth pairs whose far ends stay inside the same
 * namespace, so nothing can leave it), one sshd in it, and N distinct host addresses: the whole of
 * 198.18.200.0/21 is a local route on lo, so every address answers without being listed on an
 * interface (the facts stay the size of one router's). The controller runs inside the namespace
 * too. The sshd is killed by its PID and the namespace deleted at the end.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RIG_PREFIX = '198.18.200.0/21';
const MAX_HOSTS = 2040;

export interface Rig {
  ns: string;
  dir: string;
  sshd: ChildProcess;
  /** Address of host i (1-based). */
  address(i: number): string;
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const ipn = (ns: string, ...args: string[]) => sh('ip', ['-n', ns, ...args]);

export function address(i: number): string {
  if (i < 1 || i > MAX_HOSTS) throw new Error(`the rig has room for ${MAX_HOSTS} hosts`);
  return `198.18.${200 + (i >> 8)}.${i & 255}`;
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

function keys(dir: string): { hostKey: string; pub: string } {
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'edge-scale-host', '-f', join(dir, 'host_ed25519')]);
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'edge-scale-client', '-f', join(dir, 'id')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id.pub')));
  const [type, key] = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').trim().split(/\s+/);
  return { hostKey: join(dir, 'host_ed25519'), pub: `${type} ${key}` };
}

function sshdConfig(dir: string, hostKey: string): string {
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

export async function buildRig(dir: string, hosts: number): Promise<Rig> {
  const ns = `edge-scale-${process.pid}`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  sh('ip', ['netns', 'add', ns]);
  try {
    ipn(ns, 'link', 'set', 'lo', 'up');
    ipn(ns, 'route', 'add', 'local', RIG_PREFIX, 'dev', 'lo');
    routerLinks(ns);
    const { hostKey, pub } = keys(dir);
    writeFileSync(join(dir, 'known_hosts'), Array.from({ length: hosts }, (_, i) => `${address(i + 1)} ${pub}\n`).join(''));
    mkdirSync('/run/sshd', { recursive: true });
    const log = openSync(join(dir, 'sshd.log'), 'a');
    // unshare and sh exec what follows, so this child's PID is sshd's.
    const start = `mount --bind ${fakeSystemctl(dir)} /usr/local/sbin && exec /usr/sbin/sshd -D -e -f ${sshdConfig(dir, hostKey)}`;
    const sshd = spawn('ip', ['netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', start], { stdio: ['ignore', log, log] });
    const rig: Rig = { ns, dir, sshd, address };
    await waitForSshd(rig);
    return rig;
  } catch (e) {
    sh('ip', ['netns', 'del', ns]);
    throw e;
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

/** An inventory of `hosts` routers, all answering at the rig's addresses. */
export function writeInventory(rig: Rig, hosts: number): string {
  const file = join(rig.dir, `inventory-${hosts}.yaml`);
  const lines = [
    'all:',
    '  vars:',
    '    ansible_user: root',
    `    ansible_ssh_private_key_file: ${join(rig.dir, 'id')}`,
    `    edge_known_hosts_file: ${join(rig.dir, 'known_hosts')}`,
    '    edge_wan1_interface: wan1',
    '    edge_wan2_interface: wan2',
    '    edge_lan_interface: lan0',
    `    edge_mgmt_subnets: ['${RIG_PREFIX}']`,
    '  hosts:',
    ...Array.from({ length: hosts }, (_, i) => `    s${String(i + 1).padStart(4, '0')}: { ansible_host: ${address(i + 1)} }`),
    '',
  ];
  writeFileSync(file, lines.join('\n'));
  return file;
}

import { describe, expect, it } from 'vitest';
import type { Facts } from '../../../src/facts/types.js';
import { shlexSplit } from '../../../src/inventory/shlex.js';
import type { HostVars } from '../../../src/inventory/vars.js';
import { changeScope, changeShell, PKGS_AFTER, PKGS_BEFORE } from '../../../src/tasks/change-ops.js';
import type { Change, SnapshotScope } from '../../../src/tasks/contract.js';
import { NFT_TABLE, PATHS, UNITS } from '../../../src/tasks/paths.js';
import { TASKS } from '../../../src/tasks/registry.js';
import { configure, freshRouter, labVars } from '../../fixtures/facts.js';

/**
 * For every task, over routers in many states and varied vars: everything the shell of each change
 * touches is inside that change's snapshot scope. The shell is read as text, independently of how
 * change-ops.ts derives the scope; a command this reader does not know fails the test, so a new
 * kind of change must say here what it touches.
 */

type Touch = { kind: 'file' | 'sysctl' | 'nft' | 'rule' | 'routes' | 'unit' | 'link' | 'packages'; id: string };

/** What starting a unit makes by itself, as found on the lab's Debian 12 and 13 routers. */
const UNIT_START_MAKES: Record<string, Touch[]> = {
  [UNITS.keepalived]: [
    { kind: 'file', id: '/etc/iproute2/rt_addrprotos.d/keepalived.conf' }, // keepalived 2.3 registers its protocol
    { kind: 'link', id: 'edge-ka0' }, // ExecStartPre=edge-failover prepare
    { kind: 'link', id: 'edge-ka1' },
  ],
};

const words = (line: string) => {
  const r = shlexSplit(line);
  if ('error' in r) throw new Error(`${r.error}: ${line}`);
  return r.words;
};

/** Lines of the shell, heredoc bodies left out. */
function lines(shell: string): string[] {
  return shell.replace(/<<'EDGE_B64'\n[\s\S]*?\nEDGE_B64/g, '').split('\n').filter((l) => l.trim());
}

function touches(shell: string, nftFileContent: (path: string) => string, vars: HostVars): Touch[] {
  const out: Touch[] = [];
  const localRule = String(vars.edge_rule_priority + 40);
  for (const line of lines(shell)) {
    const w = words(line.replace(/;/g, ' ; '));
    let m: RegExpMatchArray | null;
    if (w[0] === 'edge_write_file' || (w[0] === 'rm' && w[2] === '--' && w[3] !== '$edge_t')) out.push({ kind: 'file', id: w[w[0] === 'rm' ? 3 : 1]! });
    else if (w[0] === 'mv' && w[3] === '$edge_t') out.push({ kind: 'file', id: w[4]! });
    else if (/^(edge_mkdir|edge_t=|base64 -d > "\$edge_t"|chown \S+ "\$edge_t"|sync )/.test(line)) continue; // temp file and directories (the snapshot records new directories itself)
    else if (/^if ! .* "\$edge_t"; then rm -f -- "\$edge_t"; edge_fail .*; fi$/.test(line)) continue; // validation of the temp file
    else if (w[0] === 'sysctl' && w[2] === '-w') out.push({ kind: 'sysctl', id: w[3]!.split('=')[0]! });
    else if (w[0] === 'nft' && w[1] === '-f') {
      for (const t of nftFileContent(w[2]!).matchAll(/^table (\S+ \S+)/gm)) out.push({ kind: 'nft', id: t[1]! });
    } else if ((m = /^if \[ -x (\S+) \]; then \1 sync; fi$/.exec(line)) && m[1] === PATHS.edgeFailover) {
      // edge-failover sync: the preferred-WAN map in edge's table, and the rule the router's own traffic follows
      out.push({ kind: 'nft', id: NFT_TABLE }, { kind: 'rule', id: localRule });
    } else if (w[0] === PATHS.edgeFailover && w[1] === 'link') out.push({ kind: 'link', id: 'edge-ka0' }, { kind: 'link', id: 'edge-ka1' });
    else if (/^edge_rule_(add|del)\(\) \{/.test(line)) continue;
    else if ((w[0] === 'edge_rule_add' || w[0] === 'edge_rule_del') && w[1] === 'pref') out.push({ kind: 'rule', id: w[2]! });
    else if (w[0] === 'ip' && w[1] === 'route' && (w[2] === 'flush' || w[2] === 'replace') && w[3] === 'table') out.push({ kind: 'routes', id: w[4]! });
    else if (w[0] === 'systemctl' && w[1] === 'daemon-reload') continue;
    else if (w[0] === 'systemctl' && ['enable', 'start', 'restart', 'disable'].includes(w[1]!)) {
      const unit = w[w.length - 1]!;
      out.push({ kind: 'unit', id: unit });
      if (w[1] === 'start' || w[1] === 'restart') out.push(...(UNIT_START_MAKES[unit] ?? []));
    } else if (line === PKGS_BEFORE || line === PKGS_AFTER || (w[0] === 'apt-get' && w[1] === '-q' && w[2] === 'update')) continue; // the records around apt, its index
    else if ((m = /^DEBIAN_FRONTEND=noninteractive apt-get .* install (.+)$/.exec(line))) for (const p of words(m[1]!)) out.push({ kind: 'packages', id: p });
    else throw new Error(`the test does not know what this line of a change touches: ${line}`);
  }
  return out;
}

function covered(t: Touch, s: SnapshotScope): boolean {
  switch (t.kind) {
    case 'file':
      return s.files?.includes(t.id) ?? false;
    case 'sysctl':
      return s.sysctl?.includes(t.id) ?? false;
    case 'nft':
      return s.nftTables?.includes(t.id) ?? false;
    case 'rule':
      return s.ruleRange !== undefined && Number(t.id) >= s.ruleRange[0] && Number(t.id) <= s.ruleRange[1];
    case 'routes':
      return s.routeTables?.includes(Number(t.id)) ?? false;
    case 'unit':
      return s.units?.includes(t.id) ?? false;
    case 'link':
      return s.links?.includes(t.id) ?? false;
    case 'packages':
      return s.packages?.includes(t.id) ?? false;
  }
}

const vars = labVars();
const configured = () => configure(freshRouter(), vars);

/** Routers in the states a run meets, each with the vars it is planned with. */
const FIXTURES: [string, Facts, HostVars][] = [
  ['fresh Debian 12, networkd', freshRouter(), vars],
  ['fresh, ifupdown', freshRouter({ networkManager: 'ifupdown' }), vars],
  ['fresh, wan1 down', freshRouter({ wan1Carrier: false }), vars],
  ['fresh, other rule priority and sysctl', freshRouter(), labVars({ edge_rule_priority: 2000, edge_sysctl: { 'net.ipv4.tcp_syncookies': 1 } })],
  ['configured, nothing to do', configured(), vars],
  ['configured, upgrade asked', configured(), labVars({ edge_packages_upgrade: true })],
  ['configured, new targets and timing', configured(), labVars({ edge_health_timeout: 2, edge_wan2_targets: ['192.0.2.9'] })],
  ['configured, then moved to ifupdown', { ...configured(), networkManager: 'ifupdown' }, vars],
  [
    'configured, then drifted everywhere',
    (() => {
      const f = configured();
      f.sysctl['net.ipv4.ip_forward'] = '0';
      delete f.nftTableText[NFT_TABLE];
      f.rules = f.rules.filter((r) => r.priority !== 1010);
      f.routes = f.routes.filter((r) => r.table !== 'wan2');
      f.units[UNITS.keepalived]!.active = 'inactive';
      f.units[UNITS.edgeRoutes]!.enabled = 'disabled';
      f.files[PATHS.keepalivedDropIn] = { ...f.files[PATHS.keepalivedDropIn]!, content: '# edited\n' };
      f.files[PATHS.edgeNftUnit] = { ...f.files[PATHS.edgeNftUnit]!, mode: '0600' };
      f.files[PATHS.networkdDropIn] = { path: PATHS.networkdDropIn, exists: true, content: 'x\n', mode: '0644', owner: 'root', group: 'root' };
      return f;
    })(),
    labVars({ edge_conntrack_flush: false }),
  ],
];

/** The content a change loads with `nft -f`: written by the same plan, or already on the host. */
function nftFileLookup(all: Change[], facts: Facts, fresh: Change[]) {
  return (path: string): string => {
    for (const c of [...all, ...fresh]) for (const op of c.ops) if (op.kind === 'file' && op.path === path) return op.content;
    const f = facts.files[path]?.content;
    if (f === undefined) throw new Error(`no content known for ${path}`);
    return f;
  };
}

describe('every change\'s snapshot scope covers what its shell touches', () => {
  const tasks = Object.values(TASKS);
  it('knows every task', () => expect(tasks.map((t) => t!.name).sort()).toEqual(['failover', 'inventory-check', 'nftables', 'packages', 'persistence', 'sysctl', 'tables', 'verify']));

  for (const [name, facts, v] of FIXTURES) {
    it(name, () => {
      let changes = 0;
      for (const task of tasks) {
        const plan = task!.plan({ host: 'r1', vars: v, facts, params: undefined });
        const fresh = task!.plan({ host: 'r1', vars: v, facts: freshRouter(), params: undefined }).changes;
        for (const c of plan.changes) {
          changes++;
          const scope = changeScope(c);
          const shell = changeShell(c);
          const touched = touches(shell, nftFileLookup(plan.changes, facts, fresh), v);
          // apt runs only between the two records the restore goes by
          if (touched.some((t) => t.kind === 'packages')) expect(shell).toMatch(new RegExp(`^${PKGS_BEFORE}\n[\\s\\S]*\n${PKGS_AFTER}$`));
          expect(touched.length, `${task!.name}: "${c.summary}" touches nothing the test can see`).toBeGreaterThan(0);
          for (const t of touched) {
            expect(covered(t, scope), `${task!.name}: "${c.summary}" touches ${t.kind} ${t.id} outside its scope ${JSON.stringify(scope)}`).toBe(true);
          }
        }
      }
      if (name !== 'configured, nothing to do') expect(changes).toBeGreaterThan(0);
      else expect(changes).toBe(0);
    });
  }
});

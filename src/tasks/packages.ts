import { z } from 'zod';
import { runtimeDiff } from '../render/diff.js';
import { shJoin, shQuote } from '../encode/index.js';
import type { Task, TaskContext } from './contract.js';
import { taskParams } from './params.js';

/** What the router needs: firewall/NAT, the failover engine, flow flushing, routing, probes (ping, and mawk: edge-probe's state machine). */
export const REQUIRED_PACKAGES = ['nftables', 'keepalived', 'conntrack', 'iproute2', 'iputils-ping', 'mawk'] as const;

const params = taskParams.packages;

export const packagesTask: Task<z.infer<typeof params>> = {
  name: 'packages',
  description: 'install what is missing of nftables, keepalived, conntrack, iproute2, iputils-ping, mawk (upgrade only when asked)',
  params,
  needs() {
    return { packages: [...REQUIRED_PACKAGES] };
  },
  plan({ vars, facts, params: p }: TaskContext<z.infer<typeof params>>) {
    const missing = REQUIRED_PACKAGES.filter((n) => !facts.packages[n]?.installed);
    const installed = REQUIRED_PACKAGES.filter((n) => facts.packages[n]?.installed);
    const upgrade = (p?.upgrade ?? vars.edge_packages_upgrade) && installed.length > 0;
    // Nothing to install and no upgrade asked for: no change, so no apt call at all.
    if (!missing.length && !upgrade) return { changes: [] };
    const what: string[] = [];
    const before: string[] = [];
    const after: string[] = [];
    if (missing.length) {
      what.push(`install ${missing.join(', ')}`);
      after.push(...missing.map((n) => `${n} (install)`));
    }
    const notes = ['packages are not part of the snapshot: a rollback leaves them installed'];
    if (upgrade) {
      what.push(`upgrade ${installed.join(', ')}`);
      before.push(...installed.map((n) => `${n} ${facts.packages[n]?.version ?? ''}`.trim()));
      after.push(...installed.map((n) => `${n} (newest available)`));
      notes.push('an upgrade always reports a change: the facts do not know which versions the mirror has');
    }
    return {
      changes: [{ summary: what.join('; '), diff: runtimeDiff('packages', before, after), ops: [{ kind: 'packages', install: missing, upgrade: upgrade ? installed : [] }] }],
      notes,
    };
  },
  verify() {
    const n = REQUIRED_PACKAGES.length;
    return [
      `edge_n=$(dpkg-query -W -f '\${db:Status-Status}\\n' ${shJoin([...REQUIRED_PACKAGES])} 2>/dev/null | grep -cx installed || true)`,
      `[ "$edge_n" = ${n} ] || edge_fail ${shQuote(`not all of ${REQUIRED_PACKAGES.join(', ')} are installed`)}`,
    ].join('\n');
  },
};

import { z } from 'zod';
import { NFT_FAMILY, NFT_NAME, PREFERRED_MAP } from '../render/nftables.js';
import { shQuote } from '../encode/index.js';
import { NO_FACTS } from '../facts/types.js';
import type { Task, TaskContext } from './contract.js';
import { NFT_TABLE, PATHS, UNITS } from './paths.js';
import { notPlanned, resolveTopology } from './wan.js';
import { taskParams } from './params.js';

const params = taskParams.verify;
type Params = z.infer<typeof params>;

/**
 * The verify script: every problem is reported (not just the first) and the script fails if there
 * was any. A WAN whose link is down is a warning, not a failure: the router is doing its job.
 * It reads only names from the vars (interfaces, tables) and checks the live state on the host,
 * so it needs no facts: the engine can run it inside the fact-gathering exec.
 */
export function verifyScript(ctx: Pick<TaskContext<Params>, 'vars' | 'params'>): string | undefined {
  const r = resolveTopology(ctx.vars, NO_FACTS);
  if (!r.ok) return `edge_fail ${shQuote(`cannot verify: ${r.missing.join(', ')} not set`)}`;
  const probes = ctx.params?.probes ?? true;
  const q = shQuote;
  const lines = [
    'edge_problems=0',
    'edge_bad() { echo "edge: $*" >&2; edge_problems=1; }',
    'edge_warn() { echo "edge: warning: $*" >&2; }',
    `if [ -x ${q(PATHS.edgeRoutes)} ]; then`,
    // edge-routes converges by itself (the apply has just (re)started it; it follows netlink with
    // a short debounce): a rule it is about to set is not yet a failure. It gets 10 s.
    `  edge_i=0; until ${q(PATHS.edgeRoutes)} check >/dev/null 2>&1 || [ "$edge_i" -ge 50 ]; do sleep 0.2; edge_i=$((edge_i + 1)); done`,
    `  ${q(PATHS.edgeRoutes)} check || edge_bad ${q(`ip rules or WAN tables are not what edge wants (see above); edge-routes.service restores them: journalctl -u ${UNITS.edgeRoutes}`)}`,
    'else',
    `  edge_bad ${q(`${PATHS.edgeRoutes} is missing: run the persistence task`)}`,
    'fi',
    `nft list map ${NFT_FAMILY} ${NFT_NAME} ${PREFERRED_MAP} >/dev/null 2>&1 || edge_bad ${q(`table ${NFT_TABLE} with map ${PREFERRED_MAP} is not loaded: systemctl restart ${UNITS.edgeNft}`)}`,
    ...[UNITS.edgeRoutes, UNITS.edgeNft, UNITS.keepalived].map(
      (u) => `systemctl is-active --quiet ${q(u)} || edge_bad ${q(`${u} is not active: journalctl -u ${u}`)}`,
    ),
  ];
  for (const w of r.topology.wans) {
    const carrier = `ip -o link show dev ${q(w.ifname)} 2>/dev/null | grep -q '[<,]UP,LOWER_UP[,>]'`;
    lines.push(`if ${carrier}; then`);
    if (probes) {
      lines.push(
        `  if ! edge_out=$(${q(PATHS.edgeHealth)} ${w.name} 2>&1); then`,
        `    edge_bad ${q(`${w.label} (${w.ifname}) fails its health check through its own path (mark + source address → table ${w.tableName}):`)} "$edge_out"`,
        '  fi',
      );
    } else lines.push('  :');
    lines.push(
      'else',
      `  edge_warn ${q(`${w.label} (${w.ifname}) link is down: table ${w.tableName} is empty and new flows use the other WAN; not checked`)}`,
      'fi',
    );
  }
  lines.push('[ "$edge_problems" = 0 ] || exit 1');
  return lines.join('\n');
}

export const verifyTask: Task<Params> = {
  name: 'verify',
  description: 'prove on the router: rules, tables, ruleset, services, and each WAN healthy through its own path',
  params,
  alwaysVerify: true,
  needs() {
    return {};
  },
  plan({ vars, facts }) {
    const r = resolveTopology(vars, facts);
    return r.ok ? { changes: [] } : notPlanned(r.missing);
  },
  verify: verifyScript,
  verifyWithoutFacts: (vars, params) => verifyScript({ vars, params }),
};

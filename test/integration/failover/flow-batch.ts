import { wanOfSource } from '../../../src/lab/plan.js';
import type { Lab } from '../lab-fixture.js';

/**
 * A batch of NEW TCP flows from a router's LAN client to the lab's whoami service, from a given
 * source address (an IPv6 one: to whoami's IPv6 address), `concurrency` at a time; whoami answers with the address it saw, so each flow says
 * which WAN it left by. Returns the count per WAN and of flows that got no answer.
 */
const BATCH_JS = String.raw`
const net = require('net');
const o = JSON.parse(process.argv[1]);
let started = 0, done = 0;
const out = {};
function one() {
  if (started >= o.count) return;
  started++;
  let finished = false, buf = '';
  const s = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress });
  const finish = (k) => { if (finished) return; finished = true; s.destroy(); out[k] = (out[k] || 0) + 1; done++; if (done === o.count) console.log(JSON.stringify(out)); else one(); };
  s.setEncoding('utf8');
  s.on('data', (d) => { buf += d; if (buf.includes('\n')) finish('seen ' + buf.trim().replace(/^::ffff:/, '').replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '')); });
  s.on('error', (e) => finish('error ' + (e.code || e.message)));
  s.on('close', () => finish(buf ? 'seen ' + buf.trim() : 'error closed'));
  setTimeout(() => finish('error timeout'), o.timeoutMs);
}
for (let i = 0; i < o.concurrency; i++) one();
`;

export interface BatchResult {
  wan1: number;
  wan2: number;
  failed: number;
  /** why the failed ones failed ("timeout", "ECONNRESET", …), for the report when a test fails */
  errors: Record<string, number>;
  other: Record<string, number>;
}

export async function flowBatch(
  lab: Lab,
  router: string,
  opts: { count: number; from?: string; concurrency?: number; timeoutMs?: number },
): Promise<BatchResult> {
  const r = lab.router(router);
  // an IPv6 source (the client's SLAAC address, say) talks to whoami's IPv6 address
  const whoami = opts.from?.includes(':') ? lab.plan.whoami6 : lab.plan.whoami;
  const cfg = { host: whoami.address, port: whoami.port, count: opts.count, localAddress: opts.from ?? r.lan.client, concurrency: opts.concurrency ?? 20, timeoutMs: opts.timeoutMs ?? 3_000 };
  const res = await lab.run(`${router}-lan`, [process.execPath, '-e', BATCH_JS, JSON.stringify(cfg)], { timeoutMs: 120_000 });
  const counts = JSON.parse(res.stdout.trim().split('\n').pop() ?? '{}') as Record<string, number>;
  const out: BatchResult = { wan1: 0, wan2: 0, failed: 0, errors: {}, other: {} };
  for (const [k, n] of Object.entries(counts)) {
    const via = k.startsWith('seen ') ? wanOfSource(k.slice(5), r) : undefined;
    if (via === 'wan1' || via === 'wan2') out[via] += n;
    else if (k.startsWith('error ')) {
      out.failed += n;
      out.errors[k.slice(6)] = n;
    } else out.other[k] = n;
  }
  return out;
}

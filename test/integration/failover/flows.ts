import { spawn, type ChildProcess } from 'node:child_process';
import { wanOfSource, type LabPlan, type RouterPlan } from '../../../src/lab/plan.js';

/** What a flow stream needs of a lab (the integration tests' Lab, or the benchmark's). */
export interface LabView {
  plan: LabPlan;
  router(name: string): RouterPlan;
}

/**
 * A steady stream of NEW flows from a router's LAN client: one fresh TCP connection to the lab
 * internet's whoami service every `everyMs`, each given `timeoutMs` (shorter than the first SYN
 * retransmission, so every attempt is one new routing/NAT decision on the router). whoami answers
 * with the source address it saw, so each flow says which WAN it left by (family 6: whoami's IPv6
 * address, from the client's SLAAC address). Times are the host's clock (the lab routers share it).
 */

export interface Flow {
  /** epoch ms when the connection attempt started */
  at: number;
  ms: number;
  via?: 'wan1' | 'wan2' | 'lan' | 'unknown';
  error?: string;
}

const CLIENT_JS = String.raw`
const net = require('net');
const [host, port, every, timeout] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])];
function once() {
  const at = Date.now();
  let done = false;
  const s = net.connect({ host, port });
  const finish = (r) => { if (done) return; done = true; s.destroy(); console.log(JSON.stringify({ at, ms: Date.now() - at, ...r })); };
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (d) => { buf += d; if (buf.includes('\n')) finish({ seen: buf.trim() }); });
  s.on('error', (e) => finish({ error: e.code || e.message }));
  s.on('close', () => finish(buf ? { seen: buf.trim() } : { error: 'closed' }));
  setTimeout(() => finish({ error: 'timeout' }), timeout);
}
setInterval(once, every);
once();
`;

export class FlowStream {
  readonly flows: Flow[] = [];
  private child?: ChildProcess;

  constructor(
    private lab: LabView,
    private router: string,
    private everyMs = 100,
    private timeoutMs = 600,
    private family: 4 | 6 = 4,
  ) {}

  start(): this {
    const r: RouterPlan = this.lab.router(this.router);
    const w = this.family === 6 ? this.lab.plan.whoami6 : this.lab.plan.whoami;
    this.child = spawn(
      'ip',
      ['netns', 'exec', r.lanNs, process.execPath, '-e', CLIENT_JS, w.address, String(w.port), String(this.everyMs), String(this.timeoutMs)],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let buf = '';
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const o = JSON.parse(line) as { at: number; ms: number; seen?: string; error?: string };
          const addr = (/^(?:::ffff:)?([0-9.]+):[0-9]+$/.exec(o.seen ?? '') ?? /^\[([0-9a-f:]+)\]:[0-9]+$/.exec(o.seen ?? ''))?.[1];
          this.flows.push(o.error || !addr ? { at: o.at, ms: o.ms, error: o.error ?? 'no answer' } : { at: o.at, ms: o.ms, via: wanOfSource(addr, r) });
        } catch {
          /* a partial line at exit */
        }
      }
    });
    return this;
  }

  stop(): void {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGTERM');
  }

  /** The first flow started at or after `since` that left by `via`, polling until `timeoutMs` after `since`. */
  async firstVia(via: 'wan1' | 'wan2', since: number, timeoutMs: number): Promise<Flow | undefined> {
    for (;;) {
      const f = this.flows.find((x) => x.at >= since && x.via === via);
      if (f) return f;
      if (Date.now() - since > timeoutMs + this.timeoutMs) return undefined;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * The first flow started at or after `since` from which on every flow for `holdMs` left by `via`
   * (none by the other WAN, none unanswered): when new flows all moved, as in balance, where some
   * took `via` before. Polls until `timeoutMs` after `since`.
   */
  async steadyVia(via: 'wan1' | 'wan2', since: number, holdMs: number, timeoutMs: number): Promise<Flow | undefined> {
    for (;;) {
      const fs = this.flows.filter((x) => x.at >= since);
      for (let i = 0; i < fs.length; i++) {
        const run = fs.slice(i).filter((x) => x.at < fs[i]!.at + holdMs);
        const complete = fs.some((x) => x.at >= fs[i]!.at + holdMs);
        if (complete && run.every((x) => x.via === via)) return fs[i];
      }
      if (Date.now() - since > timeoutMs + holdMs + this.timeoutMs) return undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Flows started in [from, to): how many, how many answered, and by which WAN. */
  between(from: number, to: number): { total: number; failed: number; via: Record<string, number> } {
    const fs = this.flows.filter((f) => f.at >= from && f.at < to);
    const via: Record<string, number> = {};
    for (const f of fs) if (f.via) via[f.via] = (via[f.via] ?? 0) + 1;
    return { total: fs.length, failed: fs.filter((f) => f.error).length, via };
  }
}

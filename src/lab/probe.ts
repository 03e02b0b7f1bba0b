/**
 * The outside view of failover: from a router's LAN client, N fresh TCP connections to the
 * internet's whoami service (each a new flow, so each is a new routing/NAT decision on the router)
 * and one ping per health target.
 *
 * WAN attribution comes only from TCP: whoami answers with the source address it saw, which after
 * the router's NAT is the router's wan1 or wan2 address (IPv6: an address in the link or the
 * prefix delegated by that WAN's ISP; a ULA source seen outside is reported as `lan`, a leak).
 * Both families are probed, each on its own. Pings say only whether a target answered
 * (and how fast); an echo reply does not tell which way it went, and the probe does not pretend.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { EdgeError } from '../errors.js';
import type { LabPlan, RouterPlan, Wan } from './plan.js';
import { wanOfSource } from './plan.js';
import { PROBE_CLIENT_JS } from './render.js';
import type { LabPaths } from './state.js';
import { inNetns } from './sys.js';

const flowsSchema = z.array(
  z.object({
    localPort: z.number().int().optional(),
    ms: z.number(),
    seen: z.string().optional(),
    error: z.string().optional(),
  }),
);
const pingsSchema = z.array(z.object({ target: z.string(), ok: z.boolean(), ms: z.number().optional() }));
const rawSchema = z.object({ tcp: flowsSchema, ping: pingsSchema, tcp6: flowsSchema.default([]), ping6: pingsSchema.default([]) });
export type RawProbe = z.infer<typeof rawSchema>;

export type Via = Wan | 'lan' | 'unknown';

export interface ProbeFlow {
  localPort?: number;
  ms: number;
  /** address:port the service saw */
  seen?: string;
  seenAddress?: string;
  via?: Via;
  error?: string;
}

export interface ProbeResult extends FamilyProbe {
  router: string;
  client: string;
  at: string;
  /** The same over IPv6 (the client's SLAAC address, whoami's IPv6 address, the IPv6 targets). */
  v6: FamilyProbe;
}

export interface FamilyProbe {
  service: string;
  flows: ProbeFlow[];
  pings: { target: string; ok: boolean; ms?: number }[];
  /** The WAN all answered flows left by; 'mixed' when they differ; 'none' when no flow got an answer. */
  via: Via | 'mixed' | 'none';
}

/** Pure: the probe client's output line → raw result (usage error on anything else). */
export function parseProbeOutput(text: string): RawProbe {
  const line = text
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (!line) throw new EdgeError('LAB', `the probe printed no result: ${text.trim().slice(0, 200)}`);
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (e) {
    throw new EdgeError('LAB', `the probe printed invalid JSON: ${line.slice(0, 200)}`, { cause: e });
  }
  const r = rawSchema.safeParse(json);
  if (!r.success) throw new EdgeError('LAB', `unexpected probe result: ${r.error.issues[0]?.message}`);
  return r.data;
}

/** Pure: map each flow's seen source to the router's WAN, and sum up. */
export function attribute(raw: RawProbe, r: RouterPlan, plan: LabPlan, at: Date): ProbeResult {
  return {
    router: r.name,
    client: r.lan.client,
    at: at.toISOString(),
    ...family(raw.tcp, raw.ping, `${plan.whoami.address}:${plan.whoami.port}`, r),
    v6: family(raw.tcp6, raw.ping6, `[${plan.whoami6.address}]:${plan.whoami6.port}`, r),
  };
}

function family(tcp: RawProbe['tcp'], pings: RawProbe['ping'], service: string, r: RouterPlan): FamilyProbe {
  const flows: ProbeFlow[] = tcp.map((f) => {
    if (f.seen === undefined || f.error) return { localPort: f.localPort, ms: f.ms, error: f.error ?? 'no answer' };
    // 192.0.2.1:40000, ::ffff:192.0.2.1:40000 or [2001:db8::1]:40000
    const m = /^(?:::ffff:)?([0-9.]+):([0-9]+)$/.exec(f.seen) ?? /^\[([0-9a-f:]+)\]:([0-9]+)$/.exec(f.seen);
    const seenAddress = m?.[1];
    return { localPort: f.localPort, ms: f.ms, seen: f.seen, seenAddress, via: seenAddress ? wanOfSource(seenAddress, r) : 'unknown' };
  });
  const vias = [...new Set(flows.flatMap((f) => (f.via ? [f.via] : [])))];
  return { service, flows, pings, via: vias.length === 0 ? 'none' : vias.length === 1 ? vias[0]! : 'mixed' };
}

export function formatProbe(p: ProbeResult): string {
  return [`${p.router}: probe from LAN client ${p.client}`, ...formatFamily(p, 'IPv4'), ...formatFamily(p.v6, 'IPv6')].join('\n');
}

function formatFamily(p: FamilyProbe, name: string): string[] {
  const lines: string[] = [];
  for (const [i, f] of p.flows.entries()) {
    const head = `  tcp #${i + 1} → ${p.service}`;
    lines.push(f.error ? `${head}  failed (${f.error}) after ${f.ms} ms` : `${head}  seen as ${f.seen}  → ${f.via}  (${f.ms} ms)`);
  }
  for (const g of p.pings) lines.push(`  ping ${g.target.padEnd(12)} ${g.ok ? `ok ${g.ms} ms` : 'no reply'}`);
  const answered = p.flows.filter((f) => !f.error).length;
  lines.push(`  new ${name} flows leave via: ${p.via} (${answered}/${p.flows.length} answered)`);
  return lines;
}

export interface ProbeOptions {
  count?: number;
  timeoutMs?: number;
}

export async function runProbe(paths: LabPaths, plan: LabPlan, r: RouterPlan, opts: ProbeOptions = {}): Promise<ProbeResult> {
  mkdirSync(paths.runDir, { recursive: true });
  const script = join(paths.runDir, 'probe-client.mjs');
  // Probes of several routers run at once: a client being started must never read a half-written file.
  if (!existsSync(script) || readFileSync(script, 'utf8') !== PROBE_CLIENT_JS) {
    const tmp = `${script}.${process.pid}.${r.name}.tmp`;
    writeFileSync(tmp, PROBE_CLIENT_JS);
    renameSync(tmp, script);
  }
  const count = opts.count ?? 3;
  const timeoutMs = opts.timeoutMs ?? 2_000;
  const cfg = {
    host: plan.whoami.address,
    host6: plan.whoami6.address,
    port: plan.whoami.port,
    count,
    timeoutMs,
    targets: plan.targets,
    targets6: plan.targets6,
    pingTimeoutS: 1,
  };
  const at = new Date();
  const res = await inNetns(r.lanNs, process.execPath, [script, JSON.stringify(cfg)], {
    timeoutMs: count * (timeoutMs + 1_000) + 10_000,
  });
  return attribute(parseProbeOutput(res.stdout), r, plan, at);
}

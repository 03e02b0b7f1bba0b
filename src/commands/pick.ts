import { FILE_CAPS, readBoundedText } from '../config/read-file.js';
import path from 'node:path';
import type { Command } from 'commander';
import pLimit from 'p-limit';
import { parseYaml, type YamlSource } from '../config/yaml-source.js';
import { connectorFor, withConnection, type ConnectionSettings } from '../engine/connect.js';
import { gatherFacts } from '../engine/host-run.js';
import { EdgeError, errorMessage, formatError } from '../errors.js';
import type { Facts } from '../facts/types.js';
import {
  candidatesTable,
  interfaceCandidates,
  likelyRoles,
  ROLE_LABELS,
  ROLE_VARS,
  ROLES,
  validateRoles,
  type CandidateRow,
  type LikelyContext,
  type RoleChoice,
} from '../inventory/interface-candidates.js';
import { selectHosts } from '../inventory/limit.js';
import { parseInventory } from '../inventory/load.js';
import { parseInventoryText } from '../inventory/sources.js';
import { resolveInventoryPath } from '../inventory/resolve-path.js';
import type { ResolvedHost } from '../inventory/types.js';
import type { HostVars } from '../inventory/vars.js';
import { setHostVarsInText, writeTextAtomic, type HostVarUpdates } from '../inventory/write-vars.js';
import { REQUIRED_INTERFACE_VARS } from '../tasks/wan.js';
import { inquirerPrompter, type Choice, type Prompter } from '../ui/prompts.js';
import { screenText, screenWriter } from '../ui/screen.js';
import { DEFAULT_WIDTH } from '../ui/width.js';
import { addConnectionOptions, becomePassword, type ConnectionFlags } from './options.js';
import { loadSettingFiles, sshArgsSettings } from './settings.js';

/**
 * `edge pick`: gathers each host's interfaces, asks which is WAN1, WAN2, LAN and management (the
 * likely one preselected, an interface already given another role not selectable), and writes
 * the answers into the inventory file in place (comments and formatting kept; see write-vars.ts).
 * The core, pickInterfaces, takes the facts gatherer and the prompter as arguments, so tests and
 * `edge run` drive it without SSH or a terminal.
 */

/** The interface variables `edge run` needs and `vars` lacks. */
export function missingInterfaceVars(vars: Pick<HostVars, (typeof REQUIRED_INTERFACE_VARS)[number]>): string[] {
  return REQUIRED_INTERFACE_VARS.filter((k) => !vars[k]);
}

function likelyContext(vars: Partial<HostVars> | undefined, facts: Facts): LikelyContext {
  const current: RoleChoice = {};
  for (const role of ROLES) {
    const v = vars?.[ROLE_VARS[role]];
    if (typeof v === 'string') current[role] = v;
  }
  return { mgmtSubnets: vars?.edge_mgmt_subnets ?? [], serverAddress: facts.session?.serverAddress, current };
}

/**
 * The host's interfaces as a table with the likely role of each, for `edge run` to print when it
 * cannot ask (no terminal): what to set, and the command that would ask.
 */
export function candidatesText(hostName: string, facts: Facts, vars?: Partial<HostVars>): string {
  const rows = interfaceCandidates(facts);
  if (rows.length === 0) return `${hostName}: no candidate interfaces found (only lo and edge's own)`;
  const likely = likelyRoles(rows, likelyContext(vars, facts));
  const table = candidatesTable(rows, likely, DEFAULT_WIDTH - 2);
  return `${hostName}: interfaces (LIKELY is what edge pick would preselect):\n${table.replace(/^/gm, '  ')}`;
}

/** Gathers facts over SSH: one connection, one exec, closed again. What `edge pick` uses. */
export function sshFactsGatherer(settings: ConnectionSettings): (host: ResolvedHost) => Promise<Facts> {
  return (host) =>
    withConnection(connectorFor(host.name, host.vars, settings), (conn) => gatherFacts(conn, host.name, host.vars, [], settings.commandTimeoutMs));
}

/** pick edits YAML in place (comments kept); an INI inventory is read everywhere else but not written. */
function yamlToWrite(text: string, display: string): YamlSource {
  const { source, format } = parseInventoryText(text, display);
  if (format === 'yaml') return source;
  throw new EdgeError('USAGE', `edge pick writes into YAML inventories; ${display} is INI`, {
    field: '-i',
    hint: `convert it once: ansible-inventory -i ${display} --list --yaml --output ${display}.yaml`,
  });
}

/** pick writes into one YAML file: several -i would leave it unclear which. */
function singleInventory(values: string | readonly string[]): string {
  if (typeof values === 'string') return values;
  if (values.length !== 1) {
    throw new EdgeError('USAGE', `edge pick writes into one inventory file; got ${values.length} -i options`, { field: '-i' });
  }
  return values[0]!;
}

export interface PickOptions {
  /** Inventory name (inventories/NAME.yaml) or path of a YAML inventory (the file written). */
  inventory: string;
  limit?: string;
  /** -e values: they win over what is written, as everywhere. */
  extraVars?: string[];
  cwd?: string;
  /** Facts of one host; `edge pick` passes sshFactsGatherer, tests a fake. */
  gather: (host: ResolvedHost) => Promise<Facts>;
  /** Hosts gathered in parallel (default 50). */
  forks?: number;
  /** Where tables and the summary go (default stdout). */
  write?: (text: string) => void;
  /** Write without the final confirmation. */
  yes?: boolean;
}

export interface PickedHost {
  host: string;
  roles: RoleChoice;
  /** The variables written for this host (undefined: removed from the host's own entry). */
  updates: Record<string, string | undefined>;
}

export interface PickResult {
  /** The inventory file as named on the command line. */
  file: string;
  picked: PickedHost[];
  /** Hosts whose facts could not be gathered or that have too few interfaces. */
  failed: { host: string; error: string }[];
  written: boolean;
  /** Things the operator should know (a value still coming from a group, formatting re-printed). */
  notes: string[];
}

/** The management answer "none" (managed over the LAN or a WAN), for scripted answers. */
export const PICK_NONE = '(none)';
const NONE = PICK_NONE;

function choiceLabel(r: CandidateRow): string {
  const bits = [r.state, r.addresses[0], r.gateways.length ? `default via ${r.gateways.join(', ')}` : undefined];
  return `${r.name.padEnd(15)} ${bits.filter(Boolean).join(', ')}`;
}

function choiceDescription(r: CandidateRow): string {
  const parts = [
    r.mac ? `MAC ${r.mac}` : undefined,
    r.addresses.length ? `addresses ${r.addresses.join(', ')}` : 'no addresses',
    r.speedMbps ? `${r.speedMbps} Mb/s` : undefined,
    r.kind ? r.kind : undefined,
  ];
  return parts.filter(Boolean).join('; ');
}

/**
 * Asks the four roles for one host; an interface already chosen for a role is shown but cannot be
 * picked. The preselection is worked out again after each answer, with the answers so far fixed:
 * when the operator takes the likely WAN2 as WAN1, the other default-route interface is offered
 * for WAN2 instead of whatever comes first.
 */
async function askRoles(host: string, rows: readonly CandidateRow[], ctx: LikelyContext, prompter: Prompter): Promise<RoleChoice> {
  const chosen: RoleChoice = {};
  for (const role of ROLES) {
    // answers so far come first (ROLES order), then what the inventory says for the rest
    const likely = likelyRoles(rows, { ...ctx, current: { ...ctx.current, ...chosen } });
    const takenBy = (name: string) => ROLES.find((r) => chosen[r] === name);
    const free = rows.filter((r) => !takenBy(r.name));
    const optional = role === 'mgmt';
    if (!optional && free.length === 0) {
      throw new EdgeError('USAGE', `no interface left for ${ROLE_LABELS[role]}: edge needs WAN1, WAN2 and LAN on three different interfaces`, { host });
    }
    const choices: Choice<string>[] = rows.map((r) => {
      const t = takenBy(r.name);
      return { name: choiceLabel(r), value: r.name, description: choiceDescription(r), disabled: t ? `already ${ROLE_LABELS[t]}` : false };
    });
    if (optional) choices.push({ name: '(none: managed over the LAN or a WAN)', value: NONE });
    const preferred = likely[role];
    const dflt = preferred && !takenBy(preferred) ? preferred : optional ? NONE : free[0]!.name;
    const answer = await prompter.select<string>({ message: `${host}: ${ROLE_LABELS[role]} interface`, choices, default: dflt });
    if (answer !== NONE) chosen[role] = answer;
  }
  return chosen;
}

/** The variable changes that make the host's effective values equal `roles` (nothing for values already in effect). */
function updatesFor(host: ResolvedHost, roles: RoleChoice): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const role of ROLES) {
    const k = ROLE_VARS[role];
    const want = roles[role];
    const now = host.vars[k];
    if (want === now) continue;
    // "none" for management: remove the host's own setting (a group's value cannot be undone from here)
    if (want === undefined) {
      if (host.varSources[k]?.scope === 'host') out[k] = undefined;
      continue;
    }
    out[k] = want;
  }
  return out;
}

function describeUpdates(file: string, picked: readonly PickedHost[]): string {
  const lines = [`changes to ${file}:`];
  for (const p of picked) {
    for (const [k, v] of Object.entries(p.updates)) lines.push(`  ${p.host}: ${k}${v === undefined ? ' removed' : `: ${v}`}`);
  }
  return lines.join('\n');
}

/**
 * Gathers facts of the selected hosts (in parallel), asks the roles host by host, and writes the
 * changes into the inventory file after one confirmation. The new file is loaded as an inventory
 * before it is written: a file edge would refuse is never written. Hosts that could not be reached
 * are reported in `failed` and left as they are.
 */
export async function pickInterfaces(opts: PickOptions, prompter: Prompter): Promise<PickResult> {
  const cwd = opts.cwd ?? process.cwd();
  // Hostnames, interface names and gather errors are router text: written through the terminal encoder.
  const write = screenWriter(opts.write ?? ((s: string) => void process.stdout.write(s)));
  const display = resolveInventoryPath(opts.inventory, cwd);
  const abs = path.resolve(cwd, display);
  const readInv = () => readBoundedText(display, { what: 'inventory', maxBytes: FILE_CAPS.config, readFrom: abs });
  const text = readInv();
  // The file's own group_vars/host_vars and -e count, as for every other command.
  const context = { cwd, varsDirs: [path.dirname(abs)], extraVars: opts.extraVars ?? [] };
  const inventory = parseInventory(yamlToWrite(text, display), context);
  const names = selectHosts(inventory, opts.limit);
  if (names.length === 0) throw new EdgeError('USAGE', `no hosts selected in ${display}${opts.limit ? ` by --limit ${opts.limit}` : ''}`);

  const limit = pLimit(opts.forks ?? 50);
  const gathered = await Promise.all(
    names.map((name) =>
      limit(async () => {
        try {
          return { name, facts: await opts.gather(inventory.hosts.get(name)!) };
        } catch (e) {
          return { name, error: e instanceof EdgeError ? formatError(e) : errorMessage(e) };
        }
      }),
    ),
  );

  const result: PickResult = { file: display, picked: [], failed: [], written: false, notes: [] };
  for (const g of gathered) {
    if (g.error !== undefined || !g.facts) {
      result.failed.push({ host: g.name, error: g.error ?? 'no facts' });
      write(`\n${g.name}: could not gather its interfaces: ${g.error}\n`);
      continue;
    }
    const host = inventory.hosts.get(g.name)!;
    const rows = interfaceCandidates(g.facts);
    const ctx = likelyContext(host.vars, g.facts);
    const likely = likelyRoles(rows, ctx);
    write(`\n${g.name}${g.facts.hostname && g.facts.hostname !== g.name ? ` (${g.facts.hostname})` : ''}:\n${candidatesTable(rows, likely, DEFAULT_WIDTH - 2).replace(/^/gm, '  ')}\n`);
    let roles: RoleChoice;
    try {
      roles = await askRoles(g.name, rows, ctx, prompter);
    } catch (e) {
      if (!(e instanceof EdgeError) || e.code === 'INTERRUPTED') throw e;
      result.failed.push({ host: g.name, error: formatError(e) });
      write(`${formatError(e)}\n`);
      continue;
    }
    const problems = validateRoles(roles, rows);
    if (problems.length) {
      result.failed.push({ host: g.name, error: problems.join('; ') });
      continue;
    }
    result.picked.push({ host: g.name, roles, updates: updatesFor(host, roles) });
  }

  const changed = result.picked.filter((p) => Object.keys(p.updates).length > 0);
  if (changed.length === 0) {
    write(`\nnothing to change in ${display}\n`);
    return result;
  }
  const updates: HostVarUpdates = Object.fromEntries(changed.map((p) => [p.host, p.updates]));
  const edit = setHostVarsInText(text, display, updates);
  // Load what would be written first: a file edge would refuse is never written.
  const after = parseInventory(parseYaml(edit.text, display), context);
  for (const p of result.picked) {
    const h = after.hosts.get(p.host)!;
    for (const role of ROLES) {
      const k = ROLE_VARS[role];
      const v = h.vars[k];
      if (v !== p.roles[role]) {
        const from = h.varSources[k];
        result.notes.push(`${p.host}: ${k} is still ${String(v)}${from ? ` from ${from.scope === 'group' ? `group ${from.group}` : from.scope} (${from.file}:${from.line})` : ''}; change it there`);
      }
    }
  }
  if (!edit.exact) result.notes.push(`${display}: the file was re-printed as a whole; check its formatting`);

  write(`\n${describeUpdates(display, changed)}\n`);
  const ok = opts.yes || (await prompter.confirm({ message: `Write these changes to ${display}?`, default: true }));
  if (!ok) {
    write('nothing written\n');
    return result;
  }
  // The file must not have changed while the questions were asked (an editor, another pick).
  if (readInv() !== text) {
    throw new EdgeError('USAGE', `${display} changed while edge pick was asking; nothing was written`, { hint: 'run edge pick again' });
  }
  writeTextAtomic(abs, edit.text);
  result.written = true;
  write(`wrote ${display}\n`);
  for (const n of result.notes) write(`note: ${n}\n`);
  return result;
}

interface PickFlags extends ConnectionFlags {
  yes?: boolean;
}

async function pickCommand(flags: PickFlags): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new EdgeError('USAGE', 'edge pick asks questions and needs an interactive terminal', {
      hint: 'set edge_wan1_interface, edge_wan2_interface, edge_lan_interface (and edge_mgmt_interface) in the inventory instead',
    });
  }
  const settings: ConnectionSettings = {
    acceptNewHostKeys: flags.acceptNewHostKeys === true,
    connectTimeoutMs: flags.connectTimeout * 1000,
    commandTimeoutMs: flags.commandTimeout * 1000,
    becomePassword: await becomePassword(flags.askBecomePass),
    sshArgs: sshArgsSettings(loadSettingFiles()),
  };
  const result = await pickInterfaces(
    { inventory: singleInventory(flags.inventory), extraVars: flags.extraVars, limit: flags.limit, forks: flags.forks, yes: flags.yes, gather: sshFactsGatherer(settings) },
    inquirerPrompter(),
  );
  if (result.failed.length) {
    process.stderr.write(screenText(`edge: not picked: ${result.failed.map((f) => f.host).join(', ')}\n`));
    process.exitCode = 1;
  }
}

export function register(program: Command): void {
  addConnectionOptions(
    program
      .command('pick')
      .description('ask which interface of each host is WAN1, WAN2, LAN and management, and write the answers into the inventory'),
  )
    .option('-y, --yes', 'write the answers without asking for a final confirmation')
    .action((flags: PickFlags) => pickCommand(flags));
}


import { flagsOf, type CommandModel } from './cli-model.js';

/** The man page (roff, man macros), rendered from the command model and the exit-code table. */

/** Escapes text for roff: backslashes, a leading dot or quote, and hyphens in flags. */
function esc(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^[.']/gm, '\\&$&')
    // troff reads bytes, not UTF-8: anything outside ASCII goes in as a named code point
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

function optionItem(o: { short?: string; long?: string; arg?: string; optionalArg?: boolean; description: string; defaultValue?: string }): string[] {
  const flags = flagsOf(o).map((f) => `\\fB${esc(f)}\\fR`).join(', ');
  const arg = o.arg === undefined ? '' : o.optionalArg ? ` [\\fI${esc(o.arg)}\\fR]` : ` \\fI${esc(o.arg)}\\fR`;
  const def = o.defaultValue !== undefined ? ` (default: ${esc(o.defaultValue)})` : '';
  return ['.TP', `${flags}${arg}`, `${esc(o.description)}${def}`];
}

function usage(path: string, c: CommandModel): string {
  const args = c.args.map((a) => (a.required ? `\\fI${esc(a.name)}\\fR` : `[\\fI${esc(a.name)}\\fR]`) + (a.variadic ? '...' : '')).join(' ');
  return `\\fBedge ${esc(path)}\\fR${c.options.length ? ' [\\fIoptions\\fR]' : ''}${args ? ` ${args}` : ''}`;
}

function commandSection(path: string, c: CommandModel): string[] {
  const out = ['.SS', `${usage(path, c)}`, esc(c.description), '.PP'];
  if (c.options.length) out.push('.RS', ...c.options.flatMap(optionItem), '.RE');
  return [...out, ...c.commands.flatMap((s) => commandSection(`${path} ${s.name}`, s))];
}

export interface ManPageInput {
  root: CommandModel;
  version: string;
  date: string;
  exitCodes: readonly { code: number; meaning: string }[];
  detailedExitCodes: readonly { code: number; meaning: string }[];
}

export function manPage(m: ManPageInput): string {
  const codes = (t: readonly { code: number; meaning: string }[]) => t.flatMap((r) => ['.TP', `\\fB${r.code}\\fR`, esc(r.meaning)]);
  return [
    `.TH EDGE 1 "${m.date}" "edge ${esc(m.version)}" "User Commands"`,
    '.SH NAME',
    `edge \\- ${esc(m.root.description.split('\n').join(' '))}`,
    '.SH SYNOPSIS',
    '\\fBedge\\fR \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.SH DESCRIPTION',
    'Every command has \\fB\\-\\-help\\fR. Inventories are Ansible YAML inventories; the command line takes',
    "Ansible's flags with Ansible's meaning where they apply.",
    '.SH COMMANDS',
    ...m.root.commands.flatMap((c) => commandSection(c.name, c)),
    '.SH EXIT STATUS',
    ...codes(m.exitCodes),
    '.PP',
    'With \\fB\\-\\-detailed\\-exitcode\\fR:',
    ...codes(m.detailedExitCodes),
    '.SH ENVIRONMENT',
    '.TP',
    '\\fBANSIBLE_CONFIG\\fR, \\fBANSIBLE_INVENTORY\\fR, \\fBANSIBLE_REMOTE_USER\\fR, \\fBANSIBLE_PRIVATE_KEY_FILE\\fR, \\fBANSIBLE_FORKS\\fR, \\fBANSIBLE_TIMEOUT\\fR, \\fBANSIBLE_HOST_KEY_CHECKING\\fR',
    'As in Ansible; see \\fBedge config\\fR for what is in effect.',
    '.TP',
    '\\fBEDGE_CONFIG\\fR',
    "edge's own settings file (YAML; keys are long flag names).",
    '.TP',
    '\\fBEDGE_LAB_INSTANCE\\fR',
    'Which local lab \\fBedge lab\\fR and \\fB\\-i lab\\fR mean.',
    '.SH FILES',
    '.TP',
    '\\fI./ansible.cfg\\fR, \\fI~/.ansible.cfg\\fR, \\fI/etc/ansible/ansible.cfg\\fR',
    'The first found is read, as Ansible does ([defaults]: inventory, remote_user, private_key_file, forks, timeout, host_key_checking).',
    '.TP',
    '\\fI./.edge/config.yaml\\fR, \\fI~/.config/edge/config.yaml\\fR',
    "edge's own settings.",
    '.TP',
    '\\fI.edge/runs/RUN_ID.json\\fR',
    'The journal of each run.',
    '.SH SEE ALSO',
    '\\fBansible\\-playbook\\fR(1), \\fBssh_config\\fR(5)',
    '',
  ].join('\n');
}

import { EdgeError, type SourcePos } from '../errors.js';
import { sshArgsOptions, type SshArgsField } from '../inventory/ssh-args.js';
import type { VarSource } from '../inventory/types.js';
import type { HostVars } from '../inventory/vars.js';
import type { SshCliOption } from '../ssh/types.js';

/**
 * The ssh options of one host in the order Ansible's ssh plugin puts them on ssh's command line:
 * ssh_args, then `-o StrictHostKeyChecking=no` when host key checking is off (edge: accept-new, a
 * changed key is still refused), then the user and port, then ssh_common_args and ssh_extra_args.
 * Each comes from the host's ansible_ssh_* variable, else the environment or ansible.cfg.
 */

/** ANSIBLE_SSH_ARGS or ansible.cfg [ssh_connection]: the text and where it was written. */
export interface SshArgsSetting {
  text: string;
  /** `ANSIBLE_SSH_ARGS` or the ansible.cfg line. */
  field: string;
  pos?: SourcePos;
}

export type SshArgsSettings = Partial<Record<SshArgsField, SshArgsSetting>>;

const FIELDS: readonly SshArgsField[] = ['ssh_args', 'ssh_common_args', 'ssh_extra_args'];

interface Placed {
  options: SshCliOption[];
  field: string;
  pos?: SourcePos;
}

function placed(field: SshArgsField, vars: HostVars, settings: SshArgsSettings, sources?: Record<string, VarSource>): Placed | undefined {
  const name = `ansible_${field}`;
  const v = vars[name];
  const src = sources?.[name];
  const from: SshArgsSetting | undefined =
    typeof v === 'string' ? { text: v, field: src?.path ?? name, ...(src ? { pos: { file: src.file, line: src.line, col: src.col } } : {}) } : settings[field];
  if (!from) return undefined;
  try {
    return { options: sshArgsOptions(from.text, field), field: from.field, ...(from.pos ? { pos: from.pos } : {}) };
  } catch (e) {
    throw new EdgeError('CONFIG', `${(e as Error).message}: refused`, { field: from.field, ...(from.pos ? { pos: from.pos } : {}) });
  }
}

export function sshOptionsFor(
  host: string,
  vars: HostVars,
  settings: SshArgsSettings,
  acceptNewHostKeys: boolean,
  sources?: Record<string, VarSource>,
): { sshOptionsFirst: SshCliOption[]; sshOptions: SshCliOption[] } {
  const [args, common, extra] = FIELDS.map((f) => placed(f, vars, settings, sources));
  refuseSecondJump(host, [args, common, extra]);
  return {
    sshOptionsFirst: [...(args?.options ?? []), ...(acceptNewHostKeys ? [{ keyword: 'stricthostkeychecking', values: ['accept-new'] }] : [])],
    sshOptions: [...(common?.options ?? []), ...(extra?.options ?? [])],
  };
}

/** ssh exits on a -J that follows another -J or a -o ProxyJump: refused here, at the later one. */
function refuseSecondJump(host: string, parts: (Placed | undefined)[]): void {
  let jumpSeen = false;
  for (const p of parts) {
    for (const o of p?.options ?? []) {
      if ('jump' in o && jumpSeen) {
        throw new EdgeError('CONFIG', `-J ${o.jump} follows another -J or -o ProxyJump, which ssh refuses ("Only a single -J option is permitted"): refused`, {
          host,
          field: p!.field,
          hint: 'give one bastion chain, comma-separated: -J first,second',
          ...(p!.pos ? { pos: p!.pos } : {}),
        });
      }
      jumpSeen ||= 'jump' in o || o.keyword === 'proxyjump';
    }
  }
}

/**
 * The command line as plain data, taken from the commander definitions (commands/cli-model.ts),
 * so completion scripts and the man page are rendered from the same definitions as --help.
 */
export interface OptionModel {
  short?: string;
  long?: string;
  description: string;
  /** The value's name (`pattern` for `--limit <pattern>`); undefined for a flag. */
  arg?: string;
  optionalArg?: boolean;
  choices?: readonly string[];
  defaultValue?: string;
}

export interface CommandModel {
  name: string;
  description: string;
  args: { name: string; required: boolean; variadic: boolean }[];
  options: OptionModel[];
  commands: CommandModel[];
}

/** What a value is, for completing it: the shells ask edge for hosts and run ids. */
export type ValueKind = 'hosts' | 'inventory' | 'runs' | 'file' | 'dir' | 'shell' | 'choices' | 'none';

export function valueKind(name: string | undefined, choices?: readonly string[]): ValueKind {
  if (choices?.length) return 'choices';
  switch (name) {
    case undefined:
      return 'none';
    case 'pattern':
      return 'hosts';
    // -i's value: a name under inventories/, or a file or directory
    case 'source':
      return 'inventory';
    case 'run-id':
      return 'runs';
    case 'playbook':
    case 'file':
    case 'path':
      return 'file';
    case 'dir':
      return 'dir';
    case 'shell':
      return 'shell';
    default:
      return 'none';
  }
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** The flags of an option as written on a command line (`-l`, `--limit`). */
export function flagsOf(o: OptionModel): string[] {
  return [o.short, o.long].filter((f): f is string => f !== undefined);
}

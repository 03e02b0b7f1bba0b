import type { Command, Option } from 'commander';
import type { CommandModel, OptionModel } from '../ui/cli-model.js';
import { buildProgram } from './program.js';

/** The commander definitions of every command, as plain data for the completion and man renderers. */

function optionModel(o: Option): OptionModel {
  const m = /[<[]([^>\]]+)[>\]]/.exec(o.flags);
  const dv = o.defaultValue;
  return {
    ...(o.short ? { short: o.short } : {}),
    ...(o.long ? { long: o.long } : {}),
    description: o.description,
    ...(m ? { arg: m[1]!.replace(/\.\.\.$/, '') } : {}),
    ...(o.optional ? { optionalArg: true } : {}),
    ...(o.argChoices ? { choices: o.argChoices } : {}),
    ...(dv !== undefined && typeof dv !== 'boolean' && !o.negate ? { defaultValue: String(dv) } : {}),
  };
}

export function commandModel(c: Command): CommandModel {
  return {
    name: c.name(),
    description: c.description(),
    args: c.registeredArguments.map((a) => ({ name: a.name(), required: a.required, variadic: a.variadic })),
    options: c.options.filter((o) => !o.hidden).map(optionModel),
    commands: c.commands.filter((s) => !(s as unknown as { _hidden?: boolean })._hidden).map(commandModel),
  };
}

/** The whole command line, every command's module loaded. */
export async function fullModel(): Promise<CommandModel> {
  return commandModel(await buildProgram('all'));
}

import { isDeepStrictEqual } from 'node:util';
import { EdgeError } from '../errors.js';
import { screenText } from './screen.js';

/**
 * Questions to the operator behind a small interface, so commands that ask (the interface picker,
 * `edge run` offering it) are driven by scripted answers in tests and by @inquirer in a terminal.
 */

export interface Choice<T> {
  name: string;
  value: T;
  description?: string;
  /** true, or the reason shown next to it: the choice is listed but cannot be picked. */
  disabled?: string | boolean;
}

export interface SelectQuestion<T> {
  message: string;
  choices: readonly Choice<T>[];
  /** The value preselected. */
  default?: T;
}

export interface ConfirmQuestion {
  message: string;
  default: boolean;
}

export interface Prompter {
  select<T>(q: SelectQuestion<T>): Promise<T>;
  confirm(q: ConfirmQuestion): Promise<boolean>;
}

/** Ctrl-C in a prompt: @inquirer rejects with ExitPromptError; edge reports it like any interrupt. */
function interrupted(e: unknown): never {
  if (e instanceof Error && e.name === 'ExitPromptError') throw new EdgeError('INTERRUPTED', 'cancelled at the prompt');
  throw e;
}

/** The terminal implementation. @inquirer is imported on first use: commands that never ask don't load it. */
export function inquirerPrompter(): Prompter {
  return {
    async select<T>(q: SelectQuestion<T>): Promise<T> {
      const { select } = await import('@inquirer/prompts');
      // Interface names and descriptions come from the router: the prompt shows them escaped.
      const choices = q.choices.map((c) => ({ ...c, name: screenText(c.name), description: c.description && screenText(c.description), disabled: typeof c.disabled === 'string' ? screenText(c.disabled) : c.disabled }));
      return select<T>({ message: screenText(q.message), choices, default: q.default, pageSize: 12 }).catch(interrupted);
    },
    async confirm(q: ConfirmQuestion): Promise<boolean> {
      const { confirm } = await import('@inquirer/prompts');
      return confirm({ message: screenText(q.message), default: q.default }).catch(interrupted);
    },
  };
}

/** Take the question's default (the preselected choice, or the confirm's default). */
export const ACCEPT_DEFAULT: unique symbol = Symbol('accept default');

export type ScriptedAnswer = unknown;

export interface AskedQuestion {
  kind: 'select' | 'confirm';
  message: string;
  choices?: readonly Choice<unknown>[];
  default?: unknown;
  answer: unknown;
}

/**
 * Answers from a queue, in order, for tests and programmatic use. Like the terminal, it refuses
 * what a person could not pick: a value that is not among the choices or is disabled throws.
 * Every question and its answer is recorded in `asked`.
 */
export class ScriptedPrompter implements Prompter {
  readonly asked: AskedQuestion[] = [];
  private readonly answers: ScriptedAnswer[];

  constructor(answers: readonly ScriptedAnswer[]) {
    this.answers = [...answers];
  }

  /** Answers not used yet. */
  get remaining(): number {
    return this.answers.length;
  }

  private next(message: string): ScriptedAnswer {
    if (this.answers.length === 0) throw new Error(`no scripted answer left for: ${message}`);
    return this.answers.shift();
  }

  async select<T>(q: SelectQuestion<T>): Promise<T> {
    const a = this.next(q.message);
    const wanted = a === ACCEPT_DEFAULT ? q.default : a;
    const choice = q.choices.find((c) => isDeepStrictEqual(c.value, wanted));
    if (!choice) {
      throw new EdgeError('USAGE', `${q.message}: ${JSON.stringify(wanted)} is not one of the choices (${q.choices.map((c) => c.name).join(', ')})`);
    }
    if (choice.disabled) {
      const why = typeof choice.disabled === 'string' ? `: ${choice.disabled}` : '';
      const what = typeof choice.value === 'string' ? choice.value : choice.name;
      throw new EdgeError('USAGE', `${q.message}: ${what} cannot be chosen${why}`);
    }
    this.asked.push({ kind: 'select', message: q.message, choices: q.choices, default: q.default, answer: choice.value });
    return choice.value;
  }

  async confirm(q: ConfirmQuestion): Promise<boolean> {
    const a = this.next(q.message);
    const answer = a === ACCEPT_DEFAULT ? q.default : a;
    if (typeof answer !== 'boolean') throw new EdgeError('USAGE', `${q.message}: expected a yes/no answer, got ${JSON.stringify(answer)}`);
    this.asked.push({ kind: 'confirm', message: q.message, default: q.default, answer });
    return answer;
  }
}

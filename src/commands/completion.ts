import { Argument, type Command } from 'commander';
import { SHELLS, type Shell } from '../ui/cli-model.js';
import { bashCompletion } from '../ui/completion-bash.js';
import { fishCompletion } from '../ui/completion-fish.js';
import { zshCompletion } from '../ui/completion-zsh.js';
import { fullModel } from './cli-model.js';

const RENDER = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion } as const;

export async function completionScript(shell: Shell): Promise<string> {
  return RENDER[shell](await fullModel());
}

export function register(program: Command): void {
  program
    .command('completion')
    .description('print a completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText(
      'after',
      '\nInstall:\n  bash: edge completion bash > /etc/bash_completion.d/edge\n  zsh:  edge completion zsh > "${fpath[1]}/_edge"\n  fish: edge completion fish > ~/.config/fish/completions/edge.fish\n',
    )
    .action(async (shell: Shell) => {
      process.stdout.write(await completionScript(shell));
    });
}

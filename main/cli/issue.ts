import { Command } from 'commander';

// Placeholder until the owning subsystem lands its command; it is replaced, not extended.
export function register(program: Command): void {
  program
    .command('issue')
    .description('(not built yet)')
    .allowUnknownOption()
    .action(() => {
      process.stderr.write('homeport: "issue" is not built yet.\n');
      process.exitCode = 2;
    });
}

#!/usr/bin/env node
import './cli/compile-cache';
import { Command, CommanderError } from 'commander';
import { version } from './version';
import { register as registerIssue } from './cli/issue';
import { register as registerRenew } from './cli/renew';
import { register as registerStatus } from './cli/status';
import { register as registerExport } from './cli/export';
import { register as registerCt } from './cli/ct';
import { register as registerCheck } from './cli/check';
import { register as registerServe } from './cli/serve';
import { register as registerRoute } from './cli/route';

/**
 * `homeport …`: the engine from a terminal. Each command lives in main/cli/<name>.ts and
 * only declares its options here; its action imports the engine lazily, so `--help` and
 * light commands start fast.
 */
const program = new Command('homeport')
  .description('Certificates every browser accepts, and your home services behind HTTPS.')
  .version(version, '-v, --version')
  // Usage errors are said once, in the one-line form every failure has (reportUsageErrors).
  .configureOutput({ outputError: () => undefined })
  .configureHelp({ sortSubcommands: false });

registerIssue(program);
registerRenew(program);
registerStatus(program);
registerExport(program);
registerCt(program);
registerCheck(program);
registerServe(program);
registerRoute(program);
reportUsageErrors(program);

/**
 * A usage error (unknown option or command, missing argument, invalid value) exits 2, which
 * `check` and `ct` keep apart from their verdict 1, with the one line (and the --json error)
 * of every other failure; --help and --version exit 0.
 */
function reportUsageErrors(cmd: Command): void {
  cmd.exitOverride((e) => {
    if (e.exitCode !== 0 && e.code !== 'commander.help') {
      const error = usageError(e, cmd);
      if (cmd.options.some((o) => o.long === '--json') && process.argv.includes('--json')) {
        process.stdout.write(JSON.stringify({ error }, null, 2) + '\n');
      }
      process.stderr.write(`homeport: ${error.message} Fix: ${error.fix}\n`);
    }
    throw e;
  });
  cmd.commands.forEach(reportUsageErrors);
}

function usageError(e: CommanderError, cmd: Command): { code: string; message: string; fix: string } {
  const code = `usage.${e.code.replace(/^commander\./, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const text = e.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  const invalid = /^option '([^']*)' (?:argument|value) '(.*)' (?:from env '[^']*' )?is invalid\. (.*)$/s.exec(text);
  if (invalid) {
    const flag = /--[\w-]+/.exec(invalid[1]!)?.[0] ?? invalid[1];
    return { code, message: `${flag} ${JSON.stringify(invalid[2])} is not valid.`, fix: invalid[3]! };
  }
  let name = cmd.name();
  for (let c = cmd.parent; c; c = c.parent) name = `${c.name()} ${name}`;
  const sentence = text.charAt(0).toUpperCase() + text.slice(1);
  return { code, message: /[.?)]$/.test(sentence) ? sentence : `${sentence}.`, fix: `See ${name} --help.` };
}

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    // Reported by reportUsageErrors; a bare `homeport` or `homeport route` has shown the help.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
    return;
  }
  // Commands report their own failures through cli/output.ts; this is the last resort.
  process.stderr.write(`homeport: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});

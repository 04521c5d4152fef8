#!/usr/bin/env node
import './cli/compile-cache';
import { Command } from 'commander';
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
  .showHelpAfterError('(run with --help for usage)')
  .configureHelp({ sortSubcommands: false });

registerIssue(program);
registerRenew(program);
registerStatus(program);
registerExport(program);
registerCt(program);
registerCheck(program);
registerServe(program);
registerRoute(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  // Commands report their own failures through cli/output.ts; this is the last resort.
  process.stderr.write(`homeport: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
});

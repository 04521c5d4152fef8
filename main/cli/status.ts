import { Command } from 'commander';
import { addDataDirOption, addJsonOption, type DataDirOptions } from './options';

interface StatusOptions extends DataDirOptions {
  json?: boolean;
}

/** `homeport status [name]`: every certificate's state, read-only (nothing is contacted or changed). */
export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description("show each certificate's state: active, resting until ready, renewal time, last error")
    .argument('[name]', 'only this certificate');
  addDataDirOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (name: string | undefined, opts: StatusOptions) => {
    const { fail, printJson, printLine } = require('./output') as typeof import('./output');
    try {
      const { Engine } = require('../engine/engine') as typeof import('../engine/engine');
      const { printView } = require('./certs-print') as typeof import('./certs-print');
      const engine = await Engine.open({ dataDir: opts.dataDir });
      const views = name ? [await engine.status(name)] : await engine.list();
      if (opts.json) printJson(name ? views[0] : views);
      else if (views.length === 0) printLine(`No certificates in ${engine.dataDir} yet: get one with \`homeport issue <name>\`.`);
      else views.forEach((v, i) => {
        if (i) printLine();
        printView(v, engine);
      });
    } catch (e) {
      fail(e, { json: opts.json });
    }
  });
}

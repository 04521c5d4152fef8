import { Command, Option } from 'commander';
import { addDataDirOption, addJsonOption, type DataDirOptions } from './options';

interface ExportOptions extends DataDirOptions {
  format: 'pem' | 'pfx' | 'zip';
  out: string;
  password?: string;
  json?: boolean;
}

/** `homeport export <name>`: the active certificate as PEM files, a PFX, or a zip of all. */
export function register(program: Command): void {
  const cmd = program
    .command('export')
    .description('write a certificate and its key as PEM files (a directory), a password-protected PFX, or a zip')
    .argument('<name>', 'the certificate (as `homeport status` names it)')
    .addOption(new Option('--format <format>', 'pem (cert, chain, fullchain, key), pfx (PKCS#12) or zip').choices(['pem', 'pfx', 'zip']).makeOptionMandatory())
    .requiredOption('--out <path>', 'pem: a directory; pfx, zip: a file')
    .addOption(new Option('--password <password>', 'PFX password (the zip then holds a PFX too)').env('HOMEPORT_EXPORT_PASSWORD'));
  addDataDirOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (name: string, opts: ExportOptions) => {
    const { fail, printJson, printLine, progress } = require('./output') as typeof import('./output');
    try {
      const { Engine } = require('../engine/engine') as typeof import('../engine/engine');
      const engine = await Engine.open({ dataDir: opts.dataDir });
      const result = await engine.export(name, { format: opts.format, out: opts.out, password: opts.password });
      if (result.slot === 'next') progress(`${name} is not active yet; exported the resting certificate ${result.serial}`);
      if (opts.json) printJson(result);
      else for (const f of result.files) printLine(f);
    } catch (e) {
      fail(e, { json: opts.json });
    }
  });
}

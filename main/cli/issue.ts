import { Command, InvalidArgumentError, Option } from 'commander';
import {
  addCaOptions,
  addDataDirOption,
  addJsonOption,
  addListenerOptions,
  addResolverOption,
  publicIps,
  schema,
} from './options';
import type { EngineCliOptions } from './engine-options';

interface IssueOptions extends EngineCliOptions {
  keyType?: 'ec256' | 'ec384' | 'rsa2048' | 'rsa3072' | 'rsa4096';
  challenge?: 'http-01' | 'tls-alpn-01' | 'dns-01';
  dnsProvider?: string;
  certName?: string;
  serving?: 'hold' | 'serve-now';
  holdHandshake?: number;
  publicIp?: string[];
  wait?: boolean;
}

/**
 * `homeport issue <name...>`: get a certificate now. The names are saved in config.json so
 * `homeport renew` and `homeport serve` keep it renewed. Kept light: the engine loads in the action.
 */
export function register(program: Command): void {
  const cmd = program
    .command('issue')
    .description('get a certificate for one or more names now (the first name names it) and keep it in the data directory')
    .argument('<name...>', 'DNS names on the certificate; IDNs are converted, *.example.com needs dns-01')
    .addOption(new Option('--key-type <type>', 'key type (default ec256)').choices(['ec256', 'ec384', 'rsa2048', 'rsa3072', 'rsa4096']))
    .addOption(new Option('--challenge <type>', 'force a challenge (default: the first that works)').choices(['http-01', 'tls-alpn-01', 'dns-01']))
    .option('--dns-provider <name>', 'the dnsProviders entry of config.json to use for dns-01')
    .option('--cert-name <id>', 'the name to store it under (default: from the first name)', certName)
    .addOption(
      new Option('--serving <policy>', 'a first certificate before it is CT-ready: serve it at once (default), or hold it back').choices(['hold', 'serve-now']),
    )
    .addOption(
      new Option('--hold-handshake <seconds>', 'on-demand: serve it at once, but hold each TLS handshake up to this long for its CT-ready moment')
        .argParser(seconds)
        .conflicts('serving'),
    )
    .option('--public-ip <address>', "this host's public address for the pre-flight checks (repeatable); no probe service is asked then", publicIps)
    .option('--wait', 'wait until the new certificate is active (it rests until ready)');
  addCaOptions(cmd);
  addListenerOptions(cmd);
  addResolverOption(cmd);
  addDataDirOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (names: string[], opts: IssueOptions, command: Command) => {
    const { fail, printJson, printLine, progress } = require('./output') as typeof import('./output');
    let engine: import('../engine/engine').Engine | undefined;
    try {
      const { Engine } = require('../engine/engine') as typeof import('../engine/engine');
      const { engineOptions } = require('./engine-options') as typeof import('./engine-options');
      const { printView, waitForActive } = require('./certs-print') as typeof import('./certs-print');
      const options = engineOptions(opts, command);
      engine = await Engine.open({ ...options, overrides: { ...options.overrides, publicIps: opts.publicIp } });
      const cert = await engine.addCertificate({
        names,
        name: opts.certName,
        keyType: opts.keyType,
        challenge: opts.challenge,
        dnsProvider: opts.dnsProvider,
        serving: opts.holdHandshake !== undefined ? { holdHandshakeSeconds: opts.holdHandshake } : opts.serving,
      });
      // Saved before issuing, so a later `renew` or `serve` asks the same CA even if this attempt
      // fails. The option parsers checked the flags as the schema does, so this cannot refuse
      // them after the certificate was saved.
      await engine.persistOverrides();
      let final = await engine.issue(cert.name, { onProgress: (step) => progress(step) });
      if (opts.wait && final.resting && final.readiness?.readyAt != null) {
        progress(`Waiting until it is ready: ${final.readiness?.reason ?? ''}`);
        await waitForActive(engine, cert.name, final.resting.serial);
        final = await engine.status(cert.name);
      }
      if (opts.json) printJson(final);
      else {
        printView(final, engine);
        if (final.resting) printLine(`  (it becomes active when ready: run \`homeport renew\` after that, or keep \`homeport serve\` running)`);
      }
    } catch (e) {
      fail(e, { json: opts.json });
    } finally {
      await engine?.close();
    }
  });
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 120) throw new InvalidArgumentError('Give whole seconds from 1 to 120.');
  return n;
}

/** Checked here as well as by the engine, so the error names --cert-name and nothing is saved. */
function certName(value: string): string {
  if (!schema().CertIdSchema.safeParse(value).success) {
    throw new InvalidArgumentError('Use lower-case letters, digits, ".", "_" or "-" (it names a directory), e.g. my-cert.');
  }
  return value;
}

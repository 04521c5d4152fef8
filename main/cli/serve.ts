import { Command, InvalidArgumentError } from 'commander';
import { availableParallelism } from 'node:os';
import { addCaOptions, addDataDirOption, addListenerOptions, addResolverOption } from './options';
import type { EngineCliOptions } from './engine-options';

interface ServeCliOptions extends EngineCliOptions {
  workers?: number;
}

function workerCount(value: string): number {
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('Give a whole number from 1, or "auto" for one per CPU.');
  return n;
}

/**
 * `homeport serve`: the engine and the HTTPS reverse proxy together, from the data
 * directory's config: it issues what is missing, renews what is due, and proxies the routes
 * until stopped (Ctrl-C lets open requests finish first).
 */
export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('issue and renew the configured certificates and proxy the routes over HTTPS (homeport route add …)')
    .option('--workers <n|auto>', 'proxy processes: 1 (default) or "auto" for one per CPU', workerCount);
  addDataDirOption(cmd);
  addCaOptions(cmd);
  addListenerOptions(cmd);
  addResolverOption(cmd);
  cmd.action(async (opts: ServeCliOptions, command: Command) => {
    const { fail, progress, printLine } = await import('./output.js');
    try {
      const { engineOptions } = await import('./engine-options.js');
      const { startServing } = await import('../engine/proxy/serve.js');
      const { describeRoute } = await import('../engine/proxy/route-config.js');
      const { dataDir, overrides } = engineOptions(opts, command);
      const serving = await startServing({
        dataDir,
        httpPort: overrides?.httpPort,
        httpsPort: overrides?.httpsPort,
        workers: opts.workers,
        notice: (line) => progress(line),
        engine: { overrides },
      });
      const config = serving.engine!.config;
      printLine(`Homeport is serving on http :${serving.ports.httpPort} and https :${serving.ports.httpsPort} (${serving.settings.workers} proxy process${serving.settings.workers === 1 ? '' : 'es'}).`);
      if (config.routes.length === 0) printLine('No routes yet: add one with "homeport route add <host> <upstream-url>".');
      for (const r of config.routes) {
        const covered = serving.certificates.contextFor(r.host) !== undefined;
        printLine(`  ${describeRoute(r)}${covered ? '' : `   (no certificate yet: add one with "homeport issue ${r.host}")`}`);
      }
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) process.exit(130);
        stopping = true;
        progress(`${signal}: finishing open requests (press Ctrl-C again to quit at once)`);
        void serving.stop(10_000).then(() => process.exit(0));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    } catch (e) {
      fail(e);
    }
  });
}

import { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { addDataDirOption, addListenerOptions, type DataDirOptions } from './options';

interface ServeCliOptions extends DataDirOptions {
  httpPort?: number;
  httpsPort?: number;
  workers?: number;
}

function workerCount(value: string): number {
  if (value === 'auto') return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`"${value}" is not a worker count: give a whole number from 1, or "auto" for one per CPU.`);
  return n;
}

/**
 * `homeport serve`: the reverse proxy in front of the configured routes, with the
 * certificates in the data directory, until stopped (Ctrl-C drains open requests first).
 */
export function register(program: Command): void {
  const cmd = program
    .command('serve')
    .description('run the HTTPS reverse proxy for the configured routes (homeport route add …)')
    .option('--workers <n|auto>', 'proxy processes: 1 (default) or "auto" for one per CPU', workerCount);
  addDataDirOption(cmd);
  // Ports default to config.json's listeners, so no default here.
  addListenerOptions(cmd);
  for (const o of cmd.options) if (o.long === '--http-port' || o.long === '--https-port') o.defaultValue = undefined;
  cmd.action(async (opts: ServeCliOptions) => {
    const { fail, progress, printLine } = await import('./output.js');
    try {
      const { startServing } = await import('../engine/proxy/serve.js');
      const { describeRoute } = await import('../engine/proxy/route-config.js');
      const serving = await startServing({
        dataDir: opts.dataDir,
        httpPort: opts.httpPort,
        httpsPort: opts.httpsPort,
        workers: opts.workers,
        notice: (line) => progress(line),
      });
      const { loadConfig } = await import('../engine/config/file.js');
      const routes = (await loadConfig(opts.dataDir)).routes;
      printLine(`Homeport is serving on http :${serving.ports.httpPort} and https :${serving.ports.httpsPort} (${serving.settings.workers} process${serving.settings.workers === 1 ? '' : 'es'}).`);
      if (routes.length === 0) printLine('No routes yet: add one with "homeport route add <host> <upstream-url>".');
      for (const r of routes) {
        const covered = serving.certificates.contextFor(r.host) !== undefined;
        printLine(`  ${describeRoute(r)}${covered ? '' : `   (no certificate yet: run "homeport issue ${r.host}")`}`);
      }
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) process.exit(130);
        stopping = true;
        progress(`${signal}: finishing open requests (Ctrl-C again to quit at once)`);
        void serving.stop(10_000).then(() => process.exit(0));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    } catch (e) {
      fail(e);
    }
  });
}

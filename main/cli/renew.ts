import { Command } from 'commander';
import { addCaOptions, addDataDirOption, addJsonOption, addListenerOptions, addResolverOption } from './options';
import type { EngineCliOptions } from './engine-options';

interface RenewOptions extends EngineCliOptions {
  force?: boolean;
  wait?: boolean;
}

/**
 * `homeport renew [name]`: renews what is due (ARI window or a third of the lifetime left),
 * finishes what an interrupted run left, activates successors that are ready; --force renews
 * now. The current certificate stays active until its successor is ready.
 */
export function register(program: Command): void {
  const cmd = program
    .command('renew')
    .description('renew certificates that are due (or one by name), and activate renewed ones that became ready')
    .argument('[name]', 'only this certificate')
    .option('--force', 'renew now even if not due (and even while backing off after a failure)')
    .option('--wait', 'wait until renewed certificates are active');
  addCaOptions(cmd);
  addListenerOptions(cmd);
  addResolverOption(cmd);
  addDataDirOption(cmd);
  addJsonOption(cmd);
  cmd.action(async (name: string | undefined, opts: RenewOptions, command: Command) => {
    const { fail, printJson, printLine, progress } = require('./output') as typeof import('./output');
    let engine: import('../engine/engine').Engine | undefined;
    try {
      const { Engine } = require('../engine/engine') as typeof import('../engine/engine');
      const { engineOptions, relative } = require('./engine-options') as typeof import('./engine-options');
      const { printView, waitForActive } = require('./certs-print') as typeof import('./certs-print');
      engine = await Engine.open(engineOptions(opts, command));
      if (!name && engine.config.certificates.length === 0) {
        if (opts.json) printJson([]);
        else printLine('No certificates yet: get one with `homeport issue <name>`.');
        return;
      }
      const outcomes = await engine.renew({ id: name, force: opts.force, onProgress: (id, step) => progress(`${id}: ${step}`) });
      if (opts.wait) {
        for (const o of outcomes) {
          // A certificate the gate says will never be ready (readyAt null) is not waited for; its reason is printed.
          if ((o.action === 'issued' || o.action === 'resting') && o.status.resting && o.status.readiness?.readyAt != null) {
            progress(`${o.id}: waiting until it is ready: ${o.status.readiness?.reason ?? ''}`);
            await waitForActive(engine, o.id, o.status.resting.serial);
            o.status = await engine.status(o.id);
          }
        }
      }
      if (opts.json) {
        printJson(outcomes.map((o) => ({ ...o, ...(o.action === 'failed' ? { error: o.error.toJSON() } : {}) })));
      } else {
        for (const o of outcomes) {
          const head =
            o.action === 'issued' ? 'renewed' :
            o.action === 'not-due' ? `not due: renews ${relative(o.dueAt)} (${o.reason})` :
            o.action === 'waiting' ? `backing off after a failure: next try ${relative(o.retryAt)} (--force to try now)` :
            o.action === 'resting' ? 'a renewed certificate rests until it is ready' :
            `failed: ${o.error.toLine()}`;
          printLine(`${o.id}: ${head}`);
          if (o.action !== 'not-due') printView(o.status, engine);
        }
      }
      const failed = outcomes.find((o) => o.action === 'failed');
      if (failed && failed.action === 'failed') {
        process.stderr.write(`homeport: ${failed.id}: ${failed.error.toLine()}\n`);
        process.exitCode = 1;
      }
    } catch (e) {
      fail(e, { json: opts.json });
    } finally {
      await engine?.close();
    }
  });
}

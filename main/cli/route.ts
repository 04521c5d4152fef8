import { Command } from 'commander';
import { addDataDirOption, addJsonOption, type DataDirOptions } from './options';

/**
 * `homeport route add|list|remove`: the proxy's routes in config.json. A running
 * `homeport serve` picks changes up by itself.
 */
interface AddOptions extends DataDirOptions {
  path?: string;
  stripPrefix?: boolean;
  trustSelfSigned?: boolean;
  redirect: boolean;
  hostHeader?: string;
  hsts?: boolean;
  auth?: string[];
  realm?: string;
  allow?: string[];
  json?: boolean;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

function repeat(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function register(program: Command): void {
  const route = program.command('route').description('manage the reverse proxy routes (name → local service)');

  addJsonOption(
    addDataDirOption(
      route
        .command('add')
        .description('serve <host> from one or more upstreams (replaces an existing route for the same host and path)')
        .argument('<host>', 'the public name, e.g. photos.example.com (or *.example.com)')
        .argument('<upstream-url...>', 'http://127.0.0.1:8123, https://10.0.0.5:8443 or unix:/run/app.sock; several = round robin')
        .option('--path <prefix>', 'only requests under this path prefix, e.g. /grafana')
        .option('--strip-prefix', 'remove the path prefix before passing the request on')
        .option('--trust-self-signed', 'accept the self-signed certificate of an https:// upstream')
        .option('--no-redirect', 'also serve the route over plain HTTP instead of redirecting to HTTPS')
        .option('--host-header <value>', 'send this Host header upstream instead of the visitor\'s')
        .option('--hsts', 'send Strict-Transport-Security (browsers then insist on HTTPS for a year)')
        .option('--auth <user:password>', 'require a user name and password (stored hashed); repeat for more users', repeat)
        .option('--realm <text>', 'name shown in the browser\'s sign-in prompt', 'Homeport')
        .option('--allow <cidr>', 'only these addresses or ranges, e.g. 192.168.1.0/24,fd00::/8 (repeatable)', collect),
    ),
  ).action(async (host: string, upstreams: string[], opts: AddOptions) => {
    const { fail, printJson, printLine } = await import('./output.js');
    try {
      const { addRoute } = await import('../engine/proxy/route-config.js');
      const { route: saved, replaced } = await addRoute(opts.dataDir, {
        host,
        upstreams,
        pathPrefix: opts.path,
        stripPrefix: opts.stripPrefix,
        trustSelfSigned: opts.trustSelfSigned,
        redirectHttp: opts.redirect,
        hostRewrite: opts.hostHeader,
        hsts: opts.hsts,
        auth: opts.auth,
        realm: opts.realm,
        allow: opts.allow,
      });
      if (opts.json) printJson({ route: saved, replaced });
      else printLine(`${replaced ? 'Updated' : 'Added'} route ${saved.host}${saved.pathPrefix ?? ''} → ${saved.upstreams.join(', ')}`);
    } catch (e) {
      fail(e, { json: opts.json });
    }
  });

  addJsonOption(addDataDirOption(route.command('list').description('show the routes'))).action(
    async (opts: DataDirOptions & { json?: boolean }) => {
      const { fail, printJson, printLine } = await import('./output.js');
      try {
        const { listRoutes, describeRoute } = await import('../engine/proxy/route-config.js');
        const routes = await listRoutes(opts.dataDir);
        if (opts.json) return printJson({ routes });
        if (routes.length === 0) return printLine('No routes yet. Add one: homeport route add <host> <upstream-url>');
        for (const r of routes) printLine(describeRoute(r));
      } catch (e) {
        fail(e, { json: opts.json });
      }
    },
  );

  addJsonOption(
    addDataDirOption(
      route
        .command('remove')
        .description('stop serving <host> (all its paths, or only --path)')
        .argument('<host>', 'the route\'s host')
        .option('--path <prefix>', 'remove only the route for this path prefix'),
    ),
  ).action(async (host: string, opts: DataDirOptions & { path?: string; json?: boolean }) => {
    const { fail, printJson, printLine } = await import('./output.js');
    try {
      const { removeRoute } = await import('../engine/proxy/route-config.js');
      const removed = await removeRoute(opts.dataDir, host, opts.path);
      if (opts.json) printJson({ removed });
      else printLine(`Removed ${removed.map((r) => `${r.host}${r.pathPrefix ?? ''}`).join(', ')}`);
    } catch (e) {
      fail(e, { json: opts.json });
    }
  });
}

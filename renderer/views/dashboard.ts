import type { CertificateSummary, RouteView } from '../../main/api/contract';
import { errorBox, liveCountdown, showError, type Ctx } from '../app.js';
import { h, patch, relative } from '../dom.js';
import { pendingReadiness, stateBadge } from './common.js';

export function dashboard(ctx: Ctx): HTMLElement {
  const head = h('header', { class: 'page-head' },
    h('h1', {}, 'Certificates'),
    h('button', { class: 'primary', onclick: () => ctx.go('#/wizard') }, 'Add certificate'),
  );
  const page = h('main', { class: 'page', 'data-view': 'dashboard' });
  const routes = h('section', { class: 'routes' });
  const form = routeForm(ctx);
  const draw = () => {
    const { certificates, proxy } = ctx.overview;
    const now = Date.now();
    patch(page,
      head,
      certificates.length === 0
        ? h('div', { class: 'empty' }, h('p', {}, 'No certificates yet.'), h('button', { class: 'primary', onclick: () => ctx.go('#/wizard') }, 'Get your first certificate'))
        : h('ul', { class: 'cards' }, certificates.map((c) => certCard(c, now))),
      h('header', { class: 'page-head' },
        h('h2', {}, 'Proxy routes'),
        proxy.running ? h('span', { class: 'muted small', 'data-proxy': 'running' }, `Serving on ports ${proxy.httpPort} and ${proxy.httpsPort}`) : null,
      ),
      !proxy.running && proxy.problem
        ? h('div', { class: 'callout bad', 'data-proxy': 'stopped' },
            h('strong', {}, `The proxy is not running: ${proxy.problem.message}`),
            proxy.problem.fix ? h('p', {}, proxy.problem.fix) : null,
            h('p', { class: 'muted small' }, 'Certificates are still issued and renewed. Change the ports in Settings, then restart Homeport.'),
          )
        : null,
      routes,
    );
    patch(routes, routesTable(ctx, ctx.overview.routes, form.status), form.form, form.status);
  };
  draw();
  ctx.onRefresh(draw);
  return page;
}

function certCard(cert: CertificateSummary, now: number): HTMLElement {
  const pending = pendingReadiness(cert, now);
  const cur = cert.current;
  return h('li', { class: 'card cert', 'data-cert': cert.name },
    h('a', { class: 'card-link', href: `#/cert/${encodeURIComponent(cert.name)}` },
      h('div', { class: 'card-top' }, h('h3', {}, cert.name), stateBadge(cert.state)),
      cert.names.length > 1 ? h('p', { class: 'muted small' }, `also ${cert.names.slice(1).join(', ')}`) : null,
      pending
        ? h('div', { class: 'ct-wait' },
            h('span', { class: 'muted' }, 'All browsers accept it in'),
            liveCountdown(pending, 'now'),
          )
        : cur?.readyAt === null
          ? h('p', { class: 'warn-text small' }, cur.readyReason ?? 'Not accepted by every browser.')
          : null,
      cur ? lifetimeBar(cur.notBefore, cur.notAfter, cert.renewAt, now) : null,
      h('dl', { class: 'facts' },
        cur ? [h('dt', {}, 'Expires'), h('dd', {}, relative(cur.notAfter, now))] : null,
        cert.renewAt ? [h('dt', {}, 'Renews'), h('dd', {}, relative(cert.renewAt, now))] : null,
        cur ? [h('dt', {}, 'Issued by'), h('dd', {}, cur.issuer)] : null,
      ),
      cert.lastError ? h('p', { class: 'bad-text small' }, cert.lastError.message) : null,
    ),
  );
}

/** The form to add a route; it outlives redraws of the table, so what is typed stays. */
function routeForm(ctx: Ctx): { form: HTMLFormElement; status: HTMLElement } {
  const host = h('input', { name: 'host', placeholder: 'jellyfin.example.com', 'aria-label': 'Host', required: true });
  const upstream = h('input', { name: 'upstream', placeholder: 'http://192.168.1.20:8096', 'aria-label': 'Upstream', required: true });
  const status = h('div', { class: 'form-status' });
  const add = async (e: Event) => {
    e.preventDefault();
    status.replaceChildren();
    try {
      await ctx.client.addRoute({ host: host.value, upstreams: [upstream.value] });
      form.reset();
      await ctx.refresh();
    } catch (err) {
      showError(status, err, { host, upstreams: upstream });
    }
  };
  const form = h('form', { class: 'inline-form', onsubmit: add }, host, upstream, h('button', { type: 'submit' }, 'Add route'));
  return { form, status };
}

function routesTable(ctx: Ctx, routes: RouteView[], status: HTMLElement): HTMLElement {
  return routes.length === 0
    ? h('p', { class: 'muted' }, 'No routes yet. Add one to serve a home service under its own name.')
    : h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Host'), h('th', { class: 'opt' }, 'Upstream'), h('th', { class: 'num' }, 'Requests'), h('th', { class: 'num' }, 'Errors'), h('th', { class: 'num opt' }, 'p99'), h('th', {}))),
        h('tbody', {}, routes.map((r) =>
          h('tr', { 'data-route': r.host },
            h('td', {}, r.host + (r.pathPrefix ?? ''), ...routeGuards(r)),
            h('td', { class: 'mono small opt' }, r.upstreams.join(', ')),
            h('td', { class: 'num' }, r.counters ? r.counters.requests.toLocaleString() : '–'),
            h('td', { class: 'num' }, r.counters ? r.counters.errors.toLocaleString() : '–'),
            h('td', { class: 'num opt' }, r.counters?.p99Ms !== undefined ? `${r.counters.p99Ms} ms` : '–'),
            h('td', { class: 'num' }, h('button', { class: 'link', onclick: async () => {
              try {
                await ctx.client.removeRoute({ host: r.host, pathPrefix: r.pathPrefix ?? '' });
                await ctx.refresh();
              } catch (err) {
                status.replaceChildren(errorBox(err));
              }
            } }, 'Remove')),
          ))),
      );
}

/** What keeps visitors out, as badges: adding a route here never changes these. */
function routeGuards(r: RouteView): HTMLElement[] {
  return [
    ...(r.signIn ? [h('span', { class: 'badge neutral guard', title: 'Visitors sign in with a user name and password' }, 'sign-in')] : []),
    ...(r.allow ? [h('span', { class: 'badge neutral guard', title: `Only ${r.allow.join(', ')} may visit` }, 'allow-list')] : []),
  ];
}

/** The certificate's life at a glance: how much has passed, and where the renewal falls. */
function lifetimeBar(notBefore: string, notAfter: string, renewAt: string | undefined, now: number): HTMLElement {
  const start = Date.parse(notBefore);
  const span = Math.max(1, Date.parse(notAfter) - start);
  const pct = (t: number) => `${Math.min(100, Math.max(0, ((t - start) / span) * 100)).toFixed(1)}%`;
  // Positions go through the CSSOM: the CSP forbids style attributes.
  const used = h('div', { class: 'life-used' });
  used.style.width = pct(now);
  const bar = h('div', { class: 'life', role: 'img', 'aria-label': `${pct(now)} of its lifetime has passed` }, used);
  if (renewAt) {
    const mark = h('div', { class: 'life-renew', title: 'renewal' });
    mark.style.left = pct(Date.parse(renewAt));
    bar.append(mark);
  }
  return bar;

}

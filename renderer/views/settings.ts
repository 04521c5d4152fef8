import type { Settings } from '../../main/api/contract';
import { errorBox, showError, type Ctx } from '../app.js';
import { h, mount } from '../dom.js';
import { applyTheme } from '../theme.js';

export function settings(ctx: Ctx): HTMLElement {
  const page = h('main', { class: 'page narrow', 'data-view': 'settings' }, h('p', { class: 'muted' }, 'Loading…'));
  ctx.client.getSettings().then((s) => mount(page, ...form(ctx, s)), (err) => mount(page, errorBox(err)));
  return page;
}

function form(ctx: Ctx, s: Settings): HTMLElement[] {
  const status = h('div', { class: 'form-status' });
  const field = (id: string, label: string, input: HTMLElement, hint?: string) =>
    h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'muted small' }, hint) : null);
  const email = h('input', { id: 'email', type: 'email', value: s.email ?? '', placeholder: 'you@example.com' });
  const cas = h('input', { id: 'cas', value: s.cas.join(', '), spellcheck: 'false' });
  const httpPort = h('input', { id: 'httpPort', type: 'number', min: 1, max: 65535, value: s.httpPort });
  const httpsPort = h('input', { id: 'httpsPort', type: 'number', min: 1, max: 65535, value: s.httpsPort });
  const resolver = h('input', { id: 'resolver', value: s.resolver ?? '', placeholder: 'system resolver' });
  const publicIps = h('input', { id: 'publicIps', value: s.publicIps.join(', '), placeholder: 'found automatically', spellcheck: 'false' });
  const firstMargin = h('input', { id: 'firstMargin', type: 'number', min: 2, value: s.ctMargins.firstIssuanceSeconds });
  const renewalMargin = h('input', { id: 'renewalMargin', type: 'number', min: 2, value: s.ctMargins.renewalSeconds });
  const theme = h('select', { id: 'theme' }, (['system', 'light', 'dark'] as const).map((t) => h('option', { value: t, selected: s.theme === t }, t[0]!.toUpperCase() + t.slice(1))));
  const check = (id: string, label: string, on: boolean) => h('label', { class: 'toggle' }, h('input', { type: 'checkbox', id, checked: on }), label);
  const notify = h('fieldset', {}, h('legend', {}, 'Notify me when'),
    check('n-ready', 'a certificate is accepted by every browser', s.notify.ctReady),
    check('n-failed', 'issuance or renewal fails', s.notify.failed),
    check('n-drift', 'DNS changes in a way that would break the next renewal', s.notify.drift),
  );
  const canLaunchAtLogin = ctx.overview.canLaunchAtLogin;
  const login = check('launch', 'Start Homeport when I log in', s.launchAtLogin);

  const save = async (e: Event) => {
    e.preventDefault();
    status.replaceChildren();
    const val = (id: string) => (document.getElementById(id) as HTMLInputElement).checked;
    const patch: Partial<Settings> = {
      cas: cas.value.split(/[\s,]+/).filter(Boolean),
      httpPort: Number(httpPort.value),
      httpsPort: Number(httpsPort.value),
      theme: theme.value as Settings['theme'],
      notify: { ctReady: val('n-ready'), failed: val('n-failed'), drift: val('n-drift') },
      ...(email.value ? { email: email.value } : {}),
      // Empty goes back to the system resolver.
      resolver: resolver.value.trim(),
      publicIps: publicIps.value.split(/[\s,]+/).filter(Boolean),
      ctMargins: { firstIssuanceSeconds: Number(firstMargin.value), renewalSeconds: Number(renewalMargin.value) },
      ...(canLaunchAtLogin ? { launchAtLogin: val('launch') } : {}),
    };
    try {
      const saved = await ctx.client.updateSettings(patch);
      applyTheme(saved.theme);
      ctx.toast('Settings saved.', 'good');
    } catch (err) {
      showError(status, err, {
        email, cas, httpPort, httpsPort, resolver, publicIps,
        'ctMargins.firstIssuanceSeconds': firstMargin, 'ctMargins.renewalSeconds': renewalMargin,
      });
    }
  };

  return [
    h('header', { class: 'page-head' }, h('h1', {}, 'Settings')),
    h('form', { class: 'stack', onsubmit: save },
      h('section', { class: 'panel' }, h('h2', {}, 'Certificate authority'),
        field('email', 'Contact e-mail', email, 'The CA writes here about problems with your certificates.'),
        field('cas', 'CAs, in order', cas, 'letsencrypt, zerossl, google, buypass or a directory URL. The next one is tried when one is down.'),
      ),
      h('section', { class: 'panel' }, h('h2', {}, 'Network'),
        h('div', { class: 'row' }, field('httpPort', 'HTTP port', httpPort), field('httpsPort', 'HTTPS port', httpsPort)),
        h('p', { class: 'muted small' }, 'New ports take effect when Homeport restarts.'),
        field('resolver', 'DNS resolver', resolver, 'host:port of a DNS server to ask; leave it empty to use the system resolver.'),
        field('publicIps', "This host's public addresses", publicIps, 'Leave empty to have them found automatically; your router shows them too.'),
      ),
      h('section', { class: 'panel' }, h('h2', {}, 'Waiting for every browser'),
        h('p', { class: 'muted small' }, 'After the moment every browser accepts a new certificate, Homeport waits this many seconds more before calling it ready.'),
        h('div', { class: 'row' },
          field('firstMargin', 'First certificate', firstMargin, 'Short: there is nothing else to serve.'),
          field('renewalMargin', 'Renewal', renewalMargin, 'Long: the previous certificate keeps serving.'),
        ),
      ),
      h('section', { class: 'panel' }, h('h2', {}, 'This app'),
        field('theme', 'Appearance', theme),
        notify,
        canLaunchAtLogin ? login : null,
      ),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save')),
      status,
    ),
  ];
}

import type { CertificateDetail, ExportFormat, PolicyVerdict } from '../../main/api/contract';
import { errorBox, liveCountdown, showError, type Ctx } from '../app.js';
import { dateTime, download, h, mount, patch, relative } from '../dom.js';
import { timeline } from '../timeline.js';
import { icon, pendingReadiness, stateBadge } from './common.js';

/** The parts with user input or a running action: built once, then kept in place by every redraw. */
interface Kept {
  exportPanel: HTMLElement;
  renewalPanel: HTMLElement;
  actions: HTMLElement;
}

export function detail(ctx: Ctx, name: string): HTMLElement {
  const page = h('main', { class: 'page', 'data-view': 'detail' }, h('p', { class: 'muted' }, 'Loading…'));
  const kept: Kept = {
    exportPanel: exportSection(ctx, name),
    renewalPanel: h('section', { class: 'panel' }),
    actions: h('div', { class: 'actions start' }, renewButton(ctx, name), removeButton(ctx, name)),
  };
  // Events can come in bursts: only the newest answer is drawn, never an older one after it.
  let loads = 0;
  const load = () => {
    const n = ++loads;
    ctx.client.getCertificate({ name }).then(
      (cert) => {
        if (n === loads) patch(page, ...render(cert, kept));
      },
      (err) => {
        if (n === loads) mount(page, h('a', { href: '#/' }, '← All certificates'), errorBox(err));
      },
    );
  };
  load();
  ctx.onRefresh(load);
  return page;
}

function render(cert: CertificateDetail, kept: Kept): HTMLElement[] {
  const now = Date.now();
  const shown = cert.next ?? cert.current;
  const pending = pendingReadiness(cert, now);
  return [
    h('a', { href: '#/', class: 'back' }, '← All certificates'),
    h('header', { class: 'page-head' },
      h('div', {}, h('h1', {}, cert.name), cert.names.length > 1 ? h('p', { class: 'muted' }, cert.names.join(' · ')) : null),
      stateBadge(cert.state),
    ),
    pending
      ? h('div', { class: 'callout wait big' },
          h('span', {}, 'Every browser accepts this certificate in'),
          liveCountdown(pending, 'now'),
          h('p', { class: 'muted small' }, cert.next ? 'The previous certificate stays in service until then.' : shown?.readyReason ?? ''),
        )
      : shown?.readyAt
        ? h('div', { class: 'callout good' }, h('strong', {}, 'Every browser accepts this certificate.'), shown.readyReason ? h('p', { class: 'muted small' }, shown.readyReason) : null)
        : shown?.readyAt === null
          ? h('div', { class: 'callout bad' }, h('strong', {}, 'Browsers will not accept this certificate.'), h('p', {}, shown.readyReason ?? ''))
          : null,
    cert.clock && (cert.clock.status === 'behind' || cert.clock.status === 'ahead')
      ? h('div', { class: 'callout bad', 'data-clock': cert.clock.status }, h('strong', {}, cert.clock.message), cert.clock.fix ? h('p', {}, cert.clock.fix) : null)
      : null,
    cert.lastError
      ? h('div', { class: 'callout bad' }, h('strong', {}, cert.lastError.message), cert.lastError.fix ? h('p', {}, cert.lastError.fix) : null,
          cert.lastError.retryAt ? h('p', { class: 'muted small' }, `Homeport retries ${relative(cert.lastError.retryAt, now)}.`) : null)
      : null,
    shown
      ? h('section', { class: 'panel' },
          h('h2', {}, 'From issuance to every browser'),
          timeline({
            issuedAt: shown.notBefore,
            scts: cert.ct.scts.map((x) => ({ timestamp: x.timestamp, label: x.log?.name ?? x.logId })),
            readyAt: shown.readyAt,
            now,
          }),
        )
      : null,
    shown ? facts(cert, now) : null,
    ctSection(cert),
    shown ? kept.exportPanel : null,
    renewalPanel(cert, kept, now),
    cert.history.length > 0
      ? h('section', { class: 'panel' }, h('h2', {}, 'Earlier certificates'),
          h('table', { class: 'table' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Serial'), h('th', {}, 'Valid from'), h('th', {}, 'Until'))),
            h('tbody', {}, cert.history.map((x) => h('tr', {}, h('td', { class: 'mono small' }, x.serial), h('td', {}, dateTime(x.notBefore)), h('td', {}, dateTime(x.notAfter)))))))
      : null,
  ].filter((x): x is HTMLElement => x !== null);
}

function facts(cert: CertificateDetail, now: number): HTMLElement {
  const v = (cert.next ?? cert.current)!;
  return h('section', { class: 'panel' },
    h('dl', { class: 'facts wide' },
      h('dt', {}, 'Valid'), h('dd', {}, `${dateTime(v.notBefore)} – ${dateTime(v.notAfter)} (expires ${relative(v.notAfter, now)})`),
      h('dt', {}, 'Issuer'), h('dd', {}, v.issuer),
      h('dt', {}, 'CA'), h('dd', { class: 'mono small' }, v.ca),
      h('dt', {}, 'Serial'), h('dd', { class: 'mono small' }, v.serial),
      cert.fingerprint ? [h('dt', {}, 'SHA-256'), h('dd', { class: 'mono small wrap' }, cert.fingerprint)] : null,
      cert.keyType ? [h('dt', {}, 'Key'), h('dd', {}, cert.keyType)] : null,
    ),
  );
}

function ctSection(cert: CertificateDetail): HTMLElement {
  const { ct } = cert;
  const policy = (browser: string, p: PolicyVerdict) =>
    h('li', { class: `check ${p.compliant ? 'pass' : 'fail'}`, 'data-policy': browser }, icon(p.compliant ? 'check' : 'cross'), h('div', {}, h('p', {}, h('strong', {}, browser), ' ', p.reason)));
  return h('section', { class: 'panel', 'data-section': 'ct' },
    h('h2', {}, 'Certificate Transparency'),
    !ct.applicable ? h('p', { class: 'muted' }, ct.note ?? 'This certificate comes from a private CA: browsers do not require CT for it.') : null,
    ct.applicable && ct.note ? h('p', { class: 'muted' }, ct.note) : null,
    ct.policies
      ? h('ul', { class: 'checks' }, policy('Chrome', ct.policies.chrome), policy('Firefox', ct.policies.firefox), policy('Safari', ct.policies.apple))
      : null,
    ct.scts.length > 0
      ? h('table', { class: 'table' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Log'), h('th', {}, 'Operator'), h('th', {}, 'Timestamp'), h('th', {}, 'Signature'))),
          h('tbody', {}, ct.scts.map((x) => h('tr', {},
            h('td', {}, x.log?.name ?? h('span', { class: 'mono small' }, x.logId)),
            h('td', {}, x.log?.operator ?? 'unknown'),
            h('td', {}, dateTime(x.timestamp)),
            h('td', {}, x.signatureValid ? 'valid' : x.log ? h('span', { class: 'bad-text' }, 'invalid') : h('span', { class: 'muted' }, 'not checked: unknown log')),
          ))))
      : ct.applicable ? h('p', { class: 'muted' }, 'No SCTs embedded.') : null,
  );
}

function renewalPanel(cert: CertificateDetail, kept: Kept, now: number): HTMLElement {
  patch(kept.renewalPanel,
    h('h2', {}, 'Renewal'),
    h('p', {}, cert.renewAt ? `Homeport renews it ${relative(cert.renewAt, now)} (${dateTime(cert.renewAt)}).` : 'No renewal planned yet.'),
    kept.actions,
  );
  return kept.renewalPanel;
}

function exportSection(ctx: Ctx, name: string): HTMLElement {
  const status = h('div', { class: 'form-status' });
  const password = h('input', { type: 'password', name: 'pfx-password', placeholder: 'Password for PFX', autocomplete: 'new-password', 'aria-label': 'Password for PFX and zip' });
  const run = (format: ExportFormat) => async () => {
    status.replaceChildren();
    try {
      const file = await ctx.client.exportCertificate({ name, format, ...(password.value ? { password: password.value } : {}) });
      download(file.filename, file.mime, file.base64);
      ctx.toast(`Saved ${file.filename}.`, 'good');
    } catch (err) {
      showError(status, err, { password });
    }
  };
  const btn = (format: ExportFormat, label: string, hint: string) =>
    h('button', { class: 'export', 'data-format': format, onclick: run(format), title: hint }, label);
  return h('section', { class: 'panel', 'data-section': 'export' },
    h('h2', {}, 'Export'),
    h('div', { class: 'export-row' },
      btn('fullchain', 'Full chain', 'fullchain.pem: the certificate and its intermediates, for most servers'),
      btn('pem', 'Certificate', 'cert.pem: the certificate alone'),
      btn('key', 'Private key', 'key.pem: keep it secret'),
      btn('zip', 'Everything (zip)', 'All PEM files, plus a PFX when you set a password'),
    ),
    h('div', { class: 'export-row' }, password, btn('pfx', 'PFX / PKCS#12', 'For Windows, IIS and Java keystores')),
    status,
  );
}

function renewButton(ctx: Ctx, name: string): HTMLElement {
  const status = h('div', { class: 'form-status' });
  const button = h('button', {
    onclick: async () => {
      button.disabled = true;
      status.replaceChildren(h('p', { class: 'muted' }, 'Renewing…'));
      try {
        await ctx.client.renew({ name, force: true });
        status.replaceChildren();
        await ctx.refresh();
        ctx.toast(`Renewed ${name}.`, 'good');
      } catch (err) {
        status.replaceChildren(errorBox(err));
      } finally {
        button.disabled = false;
      }
    },
  }, 'Renew now');
  return h('div', {}, button, status);
}

function removeButton(ctx: Ctx, name: string): HTMLElement {
  const box = h('div', { class: 'remove' });
  const ask = () =>
    mount(box,
      h('span', {}, `Stop managing ${name}? Its files move to the "removed" folder of the data directory.`),
      h('button', { class: 'danger', onclick: remove }, 'Remove'),
      h('button', { onclick: reset }, 'Cancel'),
    );
  const reset = () => mount(box, h('button', { class: 'link danger-text', onclick: ask }, 'Remove certificate…'));
  const remove = async () => {
    try {
      await ctx.client.removeCertificate({ name });
      await ctx.refresh();
      ctx.toast(`${name} removed.`, 'good');
      ctx.go('#/');
    } catch (err) {
      mount(box, errorBox(err));
    }
  };
  reset();
  return box;
}

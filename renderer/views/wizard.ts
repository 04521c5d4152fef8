import type { ChallengeType, CheckStatus, PreflightCheck, PreflightReport, ServingPolicy } from '../../main/api/contract';
import { showError, type Ctx } from '../app.js';
import { h, mount } from '../dom.js';
import { icon } from './common.js';

const STATUS_ICON: Record<CheckStatus, 'check' | 'warn' | 'cross' | 'dash'> = { pass: 'check', warn: 'warn', fail: 'cross', skip: 'dash' };
const CHALLENGE_TEXT: Record<ChallengeType, string> = {
  'http-01': 'HTTP on port 80',
  'tls-alpn-01': 'TLS on port 443',
  'dns-01': 'a DNS record',
};

/**
 * The guided path to a first certificate: names → pre-flight checks → issue. Nothing goes
 * to the CA until the checks have run and the user presses the button.
 */
export function wizard(ctx: Ctx): HTMLElement {
  const body = h('div', { class: 'wizard-body' });
  const steps = h('ol', { class: 'steps' }, h('li', { 'data-step': 'names' }, 'Names'), h('li', { 'data-step': 'checks' }, 'Checks'), h('li', { 'data-step': 'issue' }, 'Certificate'));
  const at = (step: 'names' | 'checks' | 'issue') => {
    for (const li of steps.querySelectorAll('li')) {
      li.classList.toggle('current', li.dataset.step === step);
    }
  };

  const namesStep = (initial = '') => {
    at('names');
    const input = h('input', { id: 'names', name: 'names', value: initial, placeholder: 'home.example.com, www.home.example.com', autocomplete: 'off', spellcheck: 'false', required: true });
    const status = h('div', { class: 'form-status' });
    const submit = async (e: Event) => {
      e.preventDefault();
      const names = input.value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
      status.replaceChildren(h('p', { class: 'muted' }, 'Checking DNS, ports and CAA records…'));
      try {
        const report = await ctx.client.preflight({ names });
        checksStep(names, report);
      } catch (err) {
        showError(status, err, { names: input });
      }
    };
    mount(body,
      h('form', { class: 'stack', onsubmit: submit },
        h('label', { for: 'names' }, 'Which names should the certificate cover?'),
        input,
        h('p', { class: 'muted small' }, 'Separate several names with commas. A wildcard like *.example.com needs a DNS provider.'),
        h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Run checks')),
        status,
      ),
    );
    input.focus();
  };

  const checkItem = (c: PreflightCheck) =>
    h('li', { class: `check ${c.status}`, 'data-check': c.id },
      icon(STATUS_ICON[c.status]),
      h('div', {},
        h('p', {}, c.summary),
        c.fix && c.status !== 'pass' ? h('p', { class: 'fix' }, c.fix) : null,
        c.evidence.length > 0
          ? h('details', { class: 'evidence' }, h('summary', {}, 'Evidence'), h('pre', {}, c.evidence.join('\n')))
          : null,
      ),
    );

  const checksStep = (names: string[], report: PreflightReport) => {
    at('checks');
    const ready = report.verdict === 'ready';
    mount(body,
      h('div', { class: 'stack' },
        h('div', { class: `callout ${ready ? 'good' : 'bad'}`, 'data-verdict': report.verdict },
          h('strong', {}, ready ? 'Ready to issue.' : 'Not yet: fix what is marked below first.'),
          ready && report.recommendedChallenge ? h('p', {}, `Homeport will prove control with ${CHALLENGE_TEXT[report.recommendedChallenge]}.`) : null,
        ),
        report.names.map((n) => {
          // Problems first; what passed (or was skipped) folds away unless everything did.
          const problems = n.checks.filter((c) => c.status === 'fail' || c.status === 'warn').sort((a, b) => (a.status === b.status ? 0 : a.status === 'fail' ? -1 : 1));
          const rest = n.checks.filter((c) => !problems.includes(c));
          return h('section', { class: 'check-group', 'data-name': n.name },
            h('h3', {}, n.name),
            problems.length > 0 ? h('ul', { class: 'checks' }, problems.map(checkItem)) : null,
            rest.length > 0
              ? h('details', { class: 'passed', open: problems.length === 0 && report.names.length === 1 },
                  h('summary', {}, `${rest.filter((c) => c.status === 'pass').length} checks passed` + (rest.some((c) => c.status === 'skip') ? `, ${rest.filter((c) => c.status === 'skip').length} not run` : '')),
                  h('ul', { class: 'checks' }, rest.map(checkItem)))
              : null,
          );
        }),
        h('div', { class: 'actions' },
          h('button', { onclick: () => namesStep(names.join(', ')) }, 'Back'),
          h('button', { class: 'primary', disabled: !ready, onclick: () => issueStep(names, certId(ctx, report)) }, 'Continue'),
        ),
      ),
    );
  };

  const issueStep = (names: string[], id: string) => {
    at('issue');
    const policy = (value: string, title: string, text: string, checked = false) =>
      h('label', { class: 'choice' },
        h('input', { type: 'radio', name: 'policy', value, checked }),
        h('span', {}, h('strong', {}, title), h('span', { class: 'muted small' }, text)),
      );
    const { account } = ctx.overview;
    const email = h('input', { id: 'email', type: 'email', name: 'email', value: account.email ?? '', placeholder: 'you@example.com', autocomplete: 'email' });
    const tos = h('input', { id: 'tos', type: 'checkbox', name: 'tos' });
    const needsAccount = !account.acceptTos || !account.email;
    const form = h('form', { class: 'stack' },
      needsAccount
        ? h('fieldset', {},
            h('legend', {}, 'Your account at the CA'),
            h('label', { for: 'email' }, 'Contact e-mail'),
            email,
            h('p', { class: 'muted small' }, 'The CA writes here only about problems with your certificates.'),
            account.acceptTos ? null : h('label', { class: 'toggle' }, tos, `I accept the terms of service of ${account.cas.join(', ')}.`),
          )
        : null,
      h('fieldset', {},
        h('legend', {}, 'Until every browser accepts the new certificate'),
        policy('serve-now', 'Serve it right away', 'Visitors with a slow clock may see a warning for a few seconds. Homeport tells you when it is safe for everyone.', true),
        policy('hold-handshake', 'Hold new connections briefly', 'A visitor who arrives in the last seconds waits up to 10 seconds for the certificate every browser accepts.'),
        policy('hold', 'Wait, then serve', 'Nothing is served for these names until every browser accepts the certificate.'),
      ),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Get certificate')),
    );
    const progress = h('ol', { class: 'progress', 'aria-live': 'polite' });
    const status = h('div', { class: 'form-status' });
    ctx.onEvent((e) => {
      // Renewals of other certificates report progress on the same feed.
      if (e.type === 'progress' && e.payload.name === id) progress.append(h('li', {}, e.payload.step));
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const value = (form.querySelector('input[name=policy]:checked') as HTMLInputElement).value;
      const chosen: ServingPolicy = value === 'hold-handshake' ? { holdHandshakeSeconds: 10 } : (value as 'hold' | 'serve-now');
      form.querySelector('button')!.disabled = true;
      status.replaceChildren(h('p', { class: 'muted' }, 'Talking to the CA…'));
      try {
        // The challenge is left to the engine: it knows which listeners it holds right now.
        const cert = await ctx.client.issue({
          names,
          servingPolicy: chosen,
          ...(needsAccount && email.value ? { email: email.value } : {}),
          ...(needsAccount && !account.acceptTos ? { acceptTos: tos.checked } : {}),
        });
        await ctx.refresh();
        ctx.toast(`Certificate for ${cert.name} issued.`, 'good');
        ctx.go(`#/cert/${encodeURIComponent(cert.name)}`);
      } catch (err) {
        form.querySelector('button')!.disabled = false;
        showError(status, err, { email, acceptTos: tos });
      }
    });
    mount(body, h('div', { class: 'stack' }, h('p', {}, `A certificate for ${names.join(', ')}.`), form, progress, status));
  };

  namesStep();
  return h('main', { class: 'page narrow', 'data-view': 'wizard' },
    h('header', { class: 'page-head' }, h('h1', {}, ctx.overview.setUp ? 'Add a certificate' : 'Welcome to Homeport')),
    ctx.overview.setUp ? null : h('p', { class: 'lead' }, 'Homeport gets certificates for your home services, checks first what could go wrong, and tells you the moment every browser accepts them.'),
    steps,
    body,
  );
}

/**
 * The id the engine files these names under, which its progress events carry: that of an entry
 * with exactly these names, else one made from the first name (engine.ts addCertificate and
 * certIdFor). The report spells the names as the engine does (lower case, punycode).
 */
function certId(ctx: Ctx, report: PreflightReport): string {
  const names = [...new Set(report.names.map((n) => n.name))];
  const same = ctx.overview.certificates.find((c) => c.names.length === names.length && c.names.every((n, i) => n === names[i]));
  return same?.name ?? names[0]!.toLowerCase().replace(/^\*\./, 'wildcard_.').replace(/[^a-z0-9._-]/g, '_');
}

import type { ApiEvent, Overview } from '../main/api/contract';
import { errorBox, startCountdownTimer, type Ctx } from './app.js';
import { createClient } from './client.js';
import { h, mount } from './dom.js';
import { applyTheme } from './theme.js';
import { pendingReadiness } from './views/common.js';
import { dashboard } from './views/dashboard.js';
import { detail } from './views/detail.js';
import { settings } from './views/settings.js';
import { wizard } from './views/wizard.js';

const client = createClient();
const root = document.getElementById('app')!;
const nav = document.getElementById('nav')!;
const toasts = document.getElementById('toasts')!;
const pill = document.getElementById('status')!;

let overview: Overview;
let viewListeners: ((e: ApiEvent) => void)[] = [];
let refreshListeners: (() => void)[] = [];

const ctx: Ctx = {
  client,
  get overview() {
    return overview;
  },
  async refresh() {
    overview = await client.overview();
    updatePill();
    for (const l of refreshListeners) l();
  },
  go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
  },
  toast(text, tone = 'info') {
    const t = h('div', { class: `toast ${tone}`, role: 'status', title: text }, text);
    toasts.append(t);
    setTimeout(() => t.remove(), 5000);
  },
  onEvent(listener) {
    viewListeners.push(listener);
  },
  onRefresh(listener) {
    refreshListeners.push(listener);
  },
};

interface Route {
  view: () => HTMLElement;
  nav: string;
}

function currentRoute(): Route {
  const hash = location.hash || (overview.setUp ? '#/' : '#/wizard');
  const cert = /^#\/cert\/(.+)$/.exec(hash);
  if (cert) return { view: () => detail(ctx, decodeURIComponent(cert[1]!)), nav: '#/' };
  if (hash === '#/wizard') return { view: () => wizard(ctx), nav: '#/wizard' };
  if (hash === '#/settings') return { view: () => settings(ctx), nav: '#/settings' };
  return { view: () => dashboard(ctx), nav: '#/' };
}

function render(): void {
  viewListeners = [];
  refreshListeners = [];
  const route = currentRoute();
  for (const a of nav.querySelectorAll('a')) a.classList.toggle('current', a.getAttribute('href') === route.nav);
  mount(root, route.view());
  window.scrollTo(0, 0);
}

function updatePill(): void {
  const certs = overview.certificates;
  const bad = certs.filter((c) => c.state === 'failed' || c.state === 'blocked').length;
  const now = Date.now();
  const waiting = certs.filter((c) => ['resting', 'issuing', 'checking'].includes(c.state) || pendingReadiness(c, now)).length;
  const [tone, text] = bad > 0 ? ['bad', `${bad} need${bad === 1 ? 's' : ''} attention`] : waiting > 0 ? ['wait', `${waiting} in progress`] : certs.length > 0 ? ['good', 'All good'] : ['neutral', 'Not set up'];
  pill.className = `pill ${tone}`;
  pill.textContent = text;
}

/** Events worth a toast, and their words; everything else only refreshes the page. */
function toastFor(e: ApiEvent): [string, 'info' | 'good' | 'bad'] | null {
  switch (e.type) {
    case 'cert:ct-ready':
      return [`${e.payload.name} is now accepted by every browser.`, 'good'];
    case 'cert:failed':
      return [`${e.payload.name}: ${e.payload.message}`, 'bad'];
    case 'dns:drift':
      return [e.payload.summary, 'bad'];
    case 'clock:skew':
      return e.payload.status === 'behind' || e.payload.status === 'ahead' ? [e.payload.message, 'bad'] : null;
    default:
      return null;
  }
}

async function start(): Promise<void> {
  try {
    overview = await client.overview();
    const s = await client.getSettings();
    applyTheme(s.theme);
  } catch (err) {
    mount(root, h('main', { class: 'page narrow' }, errorBox(err)));
    return;
  }
  document.body.dataset.host = overview.host;
  updatePill();
  client.onEvent((e) => {
    for (const l of viewListeners) l(e);
    const toast = toastFor(e);
    if (toast) ctx.toast(...toast);
    if (e.type !== 'progress') void ctx.refresh();
  });
  window.addEventListener('hashchange', render);
  // When a countdown reaches zero the engine's cert:ct-ready follows; refresh to show the new state.
  startCountdownTimer(() => void ctx.refresh());
  render();
}

void start();

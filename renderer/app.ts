import type { ApiEvent, Overview } from '../main/api/contract';
import type { Client } from './client.js';
import { UiError } from './client.js';
import { countdown, h } from './dom.js';

/** What every view gets: the client, the latest overview, and a few app-wide actions. */
export interface Ctx {
  client: Client;
  overview: Overview;
  refresh(): Promise<void>;
  go(hash: string): void;
  toast(text: string, tone?: 'info' | 'good' | 'bad'): void;
  /** Engine events for the view on screen; dropped when the view changes. */
  onEvent(listener: (e: ApiEvent) => void): void;
  /**
   * The overview was read again. Views update what shows it in place rather than being
   * rebuilt, which would drop half-typed input and cut off an action still running.
   * Dropped when the view changes.
   */
  onRefresh(listener: () => void): void;
}

/** Shows an error the way the engine phrased it: what happened, then the fix. */
export function errorBox(e: unknown): HTMLElement {
  const err = e instanceof UiError ? e : new UiError({ code: 'ui.unexpected', message: e instanceof Error ? e.message : String(e) });
  return h('div', { class: 'callout bad', role: 'alert' },
    h('strong', {}, err.message),
    err.fix ? h('p', {}, err.fix) : null,
    h('p', { class: 'muted small' }, `Code: ${err.code}`),
  );
}

/**
 * Shows a failed call in `status`. When the engine names the input at fault (`names.0`,
 * `ctMargins.renewalSeconds`), the field registered under the longest prefix of that path is
 * marked and focused: the fix of an input error tells the user to correct the highlighted field.
 */
export function showError(status: HTMLElement, e: unknown, fields: Record<string, HTMLElement> = {}): void {
  status.replaceChildren(errorBox(e));
  const path = e instanceof UiError && e.field ? e.field.split('.') : [];
  for (let n = path.length; n > 0; n--) {
    const key = path.slice(0, n).join('.');
    const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (!field) continue;
    field.setAttribute('aria-invalid', 'true');
    field.addEventListener('input', () => field.removeAttribute('aria-invalid'), { once: true });
    field.focus();
    return;
  }
}

/**
 * An element whose text counts down to `iso` every second (one shared timer updates all
 * of them), then shows `doneText`.
 */
export function liveCountdown(iso: string, doneText: string): HTMLElement {
  const el = h('span', { class: 'countdown', 'data-until': iso, 'data-done': doneText });
  updateCountdown(el, Date.now());
  return el;
}

export function updateCountdown(el: HTMLElement, now: number): void {
  const left = Date.parse(el.dataset.until ?? '') - now;
  el.textContent = left > 0 ? countdown(left) : (el.dataset.done ?? '');
  el.classList.toggle('done', left <= 0);
}

export function startCountdownTimer(onZero: () => void): void {
  setInterval(() => {
    const now = Date.now();
    let crossed = false;
    for (const el of document.querySelectorAll<HTMLElement>('[data-until]')) {
      const wasDone = el.classList.contains('done');
      updateCountdown(el, now);
      if (!wasDone && el.classList.contains('done')) crossed = true;
    }
    if (crossed) onZero();
  }, 1000);
}

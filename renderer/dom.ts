/**
 * A few DOM helpers instead of a framework. Text always goes in as text nodes (never
 * innerHTML), so nothing the engine or a DNS record says can become markup.
 */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function s(tag: string, attrs: Record<string, string | number> = {}, ...children: (Child | Child[])[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  append(el, children);
  return el;
}

function append(el: Element, children: (Child | Child[])[]): void {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'object' ? c : String(c));
  }
}

export function mount(target: Element, ...children: (Child | Child[])[]): void {
  target.replaceChildren();
  append(target, children);
}

/**
 * Like mount, but a node already in `target` that comes again stays where it is rather than
 * being detached and put back: a focused input keeps its focus and caret, and a pending
 * action still reports into elements on the page.
 */
export function patch(target: Element, ...children: (Child | Child[])[]): void {
  const next = children.flat().flatMap((c) => (c === null || c === undefined || c === false ? [] : [typeof c === 'object' ? c : document.createTextNode(String(c))]));
  for (const old of [...target.childNodes]) if (!next.includes(old)) old.remove();
  let at = target.firstChild;
  for (const node of next) {
    if (node === at) at = node.nextSibling;
    else target.insertBefore(node, at);
  }
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "2 days", "5 hours", "3 minutes", "12 seconds" */
export function span(ms: number): string {
  const a = Math.abs(ms);
  const unit = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (a >= 2 * 365 * DAY) return unit(Math.round(a / (365 * DAY)), 'year');
  if (a >= 120 * DAY) return unit(Math.round(a / (30 * DAY)), 'month');
  if (a >= 2 * DAY) return unit(Math.round(a / DAY), 'day');
  if (a >= 2 * HOUR) return unit(Math.round(a / HOUR), 'hour');
  if (a >= 2 * MINUTE) return unit(Math.round(a / MINUTE), 'minute');
  return unit(Math.max(0, Math.ceil(a / SECOND)), 'second');
}

/** "in 3 days" / "3 days ago" */
export function relative(iso: string, now: number): string {
  const d = Date.parse(iso) - now;
  return d >= 0 ? `in ${span(d)}` : `${span(d)} ago`;
}

/** A ticking countdown: "1:02:05" or "0:42". */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / SECOND));
  const hh = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (total >= DAY / SECOND) return span(ms);
  return hh > 0 ? `${hh}:${pad(mm)}:${pad(ss)}` : `${mm}:${pad(ss)}`;
}

export function dateTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function time(iso: string): string {
  return new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Offers bytes as a download; works the same in Electron and in a browser. */
export function download(filename: string, mime: string, base64: string): void {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

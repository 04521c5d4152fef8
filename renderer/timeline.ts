import { s, span, time } from './dom.js';

export interface TimelineInput {
  issuedAt: string;
  scts: { timestamp: string; label: string }[];
  readyAt?: string | null;
  now: number;
}

const W = 640;
const H = 142;
const X0 = 28;
const X1 = W - 28;
const Y = 66;

/**
 * issued → SCT timestamps → ready for every browser → now, on one line. When "now" is far
 * beyond the interesting part (days after issuance), the line breaks and "now" sits at the
 * end with the gap written on it, so the seconds that matter stay readable.
 */
export function timeline(input: TimelineInput): SVGElement {
  const issued = Date.parse(input.issuedAt);
  const ready = input.readyAt ? Date.parse(input.readyAt) : undefined;
  const sctTimes = input.scts.map((x) => Date.parse(x.timestamp));
  const eventEnd = Math.max(issued, ready ?? issued, ...sctTimes);
  const eventStart = Math.min(issued, ...sctTimes);
  const eventSpan = Math.max(eventEnd - eventStart, 4000);
  const broken = input.now - eventEnd > eventSpan * 3;
  const start = eventStart - eventSpan * 0.12;
  const end = broken ? eventEnd + eventSpan * 0.2 : Math.max(eventEnd, input.now) + eventSpan * 0.12;
  const right = broken ? X1 - 90 : X1;
  const x = (t: number) => X0 + ((t - start) / (end - start)) * (right - X0);

  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'timeline', role: 'img', 'aria-label': describe(input, ready) });
  svg.append(s('line', { x1: X0, y1: Y, x2: right, y2: Y, class: 'axis' }));
  if (ready !== undefined) {
    svg.append(s('rect', { x: x(Math.min(issued, ...sctTimes)), y: Y - 5, width: Math.max(2, x(ready) - x(Math.min(issued, ...sctTimes))), height: 10, rx: 5, class: 'waiting' }));
  }
  if (broken) {
    svg.append(
      s('line', { x1: right, y1: Y, x2: X1, y2: Y, class: 'axis gap' }),
      s('text', { x: (right + X1) / 2, y: Y - 12, class: 'label muted', 'text-anchor': 'middle' }, `${span(input.now - eventEnd)} later`),
    );
  }

  const mark = (t: number, cls: string, label: string, sub: string, above: boolean) => {
    const cx = x(t);
    const g = s('g', { class: `mark ${cls}` });
    g.append(s('circle', { cx, cy: Y, r: cls === 'sct' ? 4.5 : 7 }));
    const ly = above ? Y - 22 : Y + 30;
    g.append(s('text', { x: cx, y: ly, 'text-anchor': 'middle', class: 'label' }, label));
    g.append(s('text', { x: cx, y: ly + 15, 'text-anchor': 'middle', class: 'label sub' }, sub));
    svg.append(g);
  };

  mark(issued, 'issued', 'Issued', time(input.issuedAt), false);
  input.scts.forEach((sct, i) => {
    const g = s('g', { class: 'mark sct' });
    const cx = x(sctTimes[i]!);
    g.append(s('circle', { cx, cy: Y, r: 4.5 }), s('title', {}, `${sct.label} · ${time(sct.timestamp)}`));
    svg.append(g);
  });
  if (input.scts.length > 0) {
    const last = Math.max(...sctTimes);
    svg.append(s('text', { x: x(last), y: Y - 22, 'text-anchor': 'middle', class: 'label' }, `${input.scts.length} SCT${input.scts.length === 1 ? '' : 's'}`));
  }
  if (ready !== undefined) mark(ready, 'ready', 'Every browser', time(new Date(ready).toISOString()), true);
  // "now" sits above the line unless a label is there, else below (under "Issued" if needed).
  // Its dashed line crosses the axis only toward its own label, so it never runs through another.
  const nowCx = broken ? X1 : x(input.now);
  const near = (t: number | undefined) => t !== undefined && Math.abs(nowCx - x(t)) < 90;
  const above = !near(ready) && !(input.scts.length > 0 && near(Math.max(...sctTimes)));
  const nowY = above ? Y - 40 : near(issued) ? Y + 70 : Y + 34;
  svg.append(
    s('line', { x1: nowCx, y1: above ? nowY + 4 : Y - 2, x2: nowCx, y2: above ? Y + 14 : near(issued) ? Y + 16 : nowY - 13, class: 'now-line' }),
    s('text', { x: nowCx, y: nowY, 'text-anchor': broken ? 'end' : 'middle', class: 'label now' }, 'now'),
  );
  return svg;
}

function describe(input: TimelineInput, ready: number | undefined): string {
  const parts = [`Issued ${time(input.issuedAt)}`, `${input.scts.length} SCT timestamps`];
  if (ready !== undefined) parts.push(ready > input.now ? `every browser accepts it in ${span(ready - input.now)}` : 'every browser accepts it');
  return parts.join(', ');
}

import type { CertState, CertificateSummary } from '../../main/api/contract';
import { h } from '../dom.js';

const STATE_TEXT: Record<CertState, string> = {
  planned: 'Planned',
  checking: 'Checking',
  issuing: 'Issuing',
  resting: 'Waiting for browsers',
  active: 'Active',
  blocked: 'Blocked',
  failed: 'Failed',
};

const STATE_TONE: Record<CertState, string> = {
  planned: 'neutral',
  checking: 'busy',
  issuing: 'busy',
  resting: 'wait',
  active: 'good',
  blocked: 'bad',
  failed: 'bad',
};

export function stateBadge(state: CertState): HTMLElement {
  return h('span', { class: `badge ${STATE_TONE[state]}`, 'data-state': state }, STATE_TEXT[state]);
}

/** The version the CT countdown is about: a resting successor, else the current one. */
export function pendingReadiness(cert: CertificateSummary, now: number): string | undefined {
  const v = cert.next ?? cert.current;
  const at = v?.readyAt;
  return at && Date.parse(at) > now ? at : undefined;
}

export function icon(name: 'check' | 'warn' | 'cross' | 'dash'): SVGElement {
  const paths: Record<string, string> = {
    check: 'M4 8.5l2.5 2.5L12 5.5',
    warn: 'M8 4.5v4.5M8 11.5v.01',
    cross: 'M5 5l6 6M11 5l-6 6',
    dash: 'M5 8h6',
  };
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', `icon icon-${name}`);
  svg.setAttribute('aria-hidden', 'true');
  const circle = document.createElementNS(NS, 'circle');
  circle.setAttribute('cx', '8');
  circle.setAttribute('cy', '8');
  circle.setAttribute('r', '7.25');
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', paths[name]!);
  svg.append(circle, path);
  return svg;
}

import * as path from 'node:path';
import type { CertificateView, Engine } from '../engine/engine';
import { printLine } from './output';
import { relative } from './engine-options';

/** Human lines about one certificate, shared by issue, renew and status. */
export function describe(view: CertificateView, dataDir: string, now = Date.now()): string[] {
  const lines = [`${view.id}  ${stateLabel(view, now)}`, `  names    ${view.names.join(', ')}`];
  if (view.active) {
    lines.push(`  active   serial ${view.active.serial}, ${view.active.issuer} (${view.active.ca}), valid until ${view.active.notAfter} (${relative(view.active.notAfter, now)})`);
    lines.push(`  files    ${path.join(dataDir, 'certs', view.id, 'current')}${path.sep}`);
  }
  if (view.resting) {
    lines.push(`  resting  serial ${view.resting.serial}, ${view.resting.issuer} (${view.resting.ca})`);
    const r = view.readiness;
    if (r?.serial === view.resting.serial) {
      lines.push(`  ready    ${r.readyAt === null ? 'never' : `${new Date(r.readyAt).toISOString()} (${relative(r.readyAt, now)})`}: ${r.reason}`);
    }
  }
  const ct = view.ct;
  if (ct && 'error' in ct) lines.push(`  ct       ${ct.error}`);
  else if (ct) {
    lines.push(`  ct       ${ct.applicable ? ct.reason : ct.applicability}`);
    for (const s of ct.scts) {
      lines.push(`           SCT ${s.log ? `${s.log.name} (${s.log.operator}, ${s.log.state ?? 'unknown state'})` : s.logId} at ${s.timestamp}${s.signatureValid ? '' : ', signature NOT valid'}`);
    }
    if (ct.applicable) {
      for (const [browser, p] of Object.entries(ct.policies)) lines.push(`           ${browser.padEnd(8)} ${p.compliant ? 'ok' : 'NOT compliant'}: ${p.reason}`);
    }
    if (ct.inclusion) lines.push(`  logs     ${ct.inclusion.summary}`);
    for (const w of ct.warnings) lines.push(`  warning  ${w}`);
  }
  if (view.clock && (view.clock.status === 'behind' || view.clock.status === 'ahead')) {
    lines.push(`  clock    ${view.clock.message}${view.clock.fix ? ` Fix: ${view.clock.fix}` : ''}`);
  }
  if (view.renewal && !view.resting) lines.push(`  renewal  ${view.renewal.at} (${relative(view.renewal.at, now)}): ${view.renewal.reason}`);
  if (view.failure && (view.state === 'failed' || view.state === 'blocked')) {
    lines.push(`  error    ${view.failure.message}${view.failure.fix ? ` Fix: ${view.failure.fix}` : ''}`);
    if (view.failure.retryAt) lines.push(`  retry    ${view.failure.retryAt} (${relative(view.failure.retryAt, now)})`);
  }
  return lines;
}

function stateLabel(view: CertificateView, now: number): string {
  switch (view.state) {
    case 'resting':
      return view.active
        ? 'renewed; the new certificate rests until it is ready, the current one stays active'
        : view.readiness?.readyAt != null
          ? `issued; resting until it is ready (${relative(view.readiness.readyAt, now)})`
          : 'issued; resting';
    case 'active':
      return 'active';
    case 'failed':
      if (view.active && view.failure?.code === 'ct.never-ready' && view.readiness?.serial === view.active.serial) {
        return 'served as chosen, but browsers will never accept it';
      }
      return view.active ? 'last renewal failed; the current certificate stays active' : 'failed';
    default:
      return view.state;
  }
}

export function printView(view: CertificateView, engine: Engine): void {
  for (const line of describe(view, engine.dataDir)) printLine(line);
}

/** Waits until `id` serves `serial` (the lifecycle's readiness timer promotes it in this process). */
export function waitForActive(engine: Engine, id: string, serial: string): Promise<void> {
  return new Promise((resolve) => {
    // Readiness timers are unref'd so short commands exit; this keeps the process alive meanwhile.
    const keepAlive = setInterval(() => undefined, 60_000);
    const done = () => {
      clearInterval(keepAlive);
      off();
      resolve();
    };
    const off = engine.events.on('cert:activated', (e) => {
      if (e.name === id && e.serial === serial) done();
    });
    void engine.activeCertificate(id).then((a) => {
      if (a?.meta.serial === serial) done();
    });
  });
}

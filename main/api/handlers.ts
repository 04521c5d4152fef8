import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Engine, CertificateView } from '../engine/engine';
import { HomeportError } from '../engine/errors';
import type { StoredMeta } from '../engine/certs/store';
import type { CaEntry } from '../engine/config/schema';
import { LATENCY_BUCKETS_MS, type RouteStats } from '../engine/proxy/stats';
import { version } from '../version';
import type {
  CertificateDetail, CertificateSummary, CertVersion, ExportFile, ExportInput, HomeportApi, IssueInput,
  Overview, PreflightReport, ProxyStatus, RouteInput, RouteView, Settings,
} from './contract';
import type { PrefsStore } from './prefs';

/**
 * The contract implemented over the engine. Inputs arrive already validated (dispatch.ts);
 * this file only translates between the engine's shapes and the UI's, and stays thin: the
 * work happens in the engine.
 */
export interface HandlerDeps {
  engine: Engine;
  host: Overview['host'];
  prefs: PrefsStore;
  /** Whether the reverse proxy runs in this process, on which ports, or why not. */
  proxy: () => ProxyStatus;
  /** Per-route counters of the running proxy. */
  routeStats?: () => Promise<RouteStats[]>;
  /** Tells the running proxy that config.json's routes changed. */
  routesChanged?: () => Promise<void>;
  /** Turns start-at-login on or off; absent where the system offers no way to (headless, Linux). */
  setLaunchAtLogin?: (on: boolean) => boolean;
}

const MIME: Record<ExportInput['format'], string> = {
  pem: 'application/x-pem-file',
  fullchain: 'application/x-pem-file',
  key: 'application/x-pem-file',
  pfx: 'application/x-pkcs12',
  zip: 'application/zip',
};

export function createHandlers(deps: HandlerDeps): HomeportApi {
  const { engine } = deps;

  const summary = (v: CertificateView): CertificateSummary => ({
    name: v.id,
    names: v.names,
    state: v.state,
    ...(v.active ? { current: certVersion(v.active, v) } : {}),
    ...(v.resting ? { next: certVersion(v.resting, v) } : {}),
    ...(v.renewal ? { renewAt: v.renewal.at } : {}),
    ...(v.failure && (v.state === 'failed' || v.state === 'blocked')
      ? { lastError: { code: v.failure.code, message: v.failure.message, at: v.failure.at, ...(v.failure.fix ? { fix: v.failure.fix } : {}), ...(v.failure.retryAt ? { retryAt: v.failure.retryAt } : {}) } }
      : {}),
    servingPolicy: v.serving,
  });

  const routes = async (): Promise<RouteView[]> => {
    const { listRoutes } = await import('../engine/proxy/route-config.js');
    const stats = new Map(((await deps.routeStats?.()) ?? []).map((s) => [s.route, s]));
    return (await listRoutes(engine.dataDir)).map((r) => {
      const key = r.pathPrefix ? `${r.host}${r.pathPrefix}` : r.host;
      const s = stats.get(key);
      return {
        host: r.host,
        ...(r.pathPrefix ? { pathPrefix: r.pathPrefix } : {}),
        upstreams: r.upstreams.map(String),
        signIn: r.basicAuth !== undefined,
        ...(r.allow?.length ? { allow: r.allow } : {}),
        counters: s ? { requests: s.requests, errors: s.errors, bytesIn: s.bytesIn, bytesOut: s.bytesOut, ...percentiles(s.latency) } : null,
      };
    });
  };

  const settings = async (): Promise<Settings> => {
    const c = engine.config;
    const p = await deps.prefs.get();
    return {
      ...(c.email ? { email: c.email } : {}),
      cas: c.cas.map((x) => x.ca),
      acceptTos: c.acceptTos,
      httpPort: c.listeners.httpPort,
      httpsPort: c.listeners.httpsPort,
      ...(c.resolver ? { resolver: c.resolver } : {}),
      publicIps: c.publicIps ?? [],
      ctMargins: { firstIssuanceSeconds: c.ct.firstIssuanceMarginSeconds, renewalSeconds: c.ct.renewalMarginSeconds },
      theme: p.theme,
      notify: p.notify,
      launchAtLogin: p.launchAtLogin,
    };
  };

  const updateSettings = async (req: Partial<Settings>): Promise<Settings> => {
    // The login item is the one part the system may refuse: settle it before writing anything,
    // so a refused save leaves every other setting as it was instead of saving half the form.
    if (req.launchAtLogin !== undefined) {
      if (!deps.setLaunchAtLogin) {
        throw new HomeportError('settings.not-here', 'Starting at login is only available in the desktop app on macOS and Windows.', {
          fix: 'Start Homeport from your system’s own startup mechanism (a systemd user unit or your desktop’s startup applications, for example).',
        });
      }
      if (!deps.setLaunchAtLogin(req.launchAtLogin) && req.launchAtLogin) {
        throw new HomeportError('settings.login-item', 'This system did not accept Homeport as a login item.', {
          fix: 'Add Homeport to your desktop’s startup applications by hand.',
        });
      }
    }
    const engineKeys = ['email', 'cas', 'acceptTos', 'httpPort', 'httpsPort', 'resolver', 'publicIps', 'ctMargins'] as const;
    if (engineKeys.some((k) => req[k] !== undefined)) {
      await engine.updateConfig((c) => ({
        ...c,
        ...(req.email !== undefined ? { email: req.email } : {}),
        ...(req.acceptTos !== undefined ? { acceptTos: req.acceptTos } : {}),
        // Keep a CA's root bundle and EAB credentials when it stays in the list.
        ...(req.cas ? { cas: req.cas.map((ca): CaEntry => c.cas.find((x) => x.ca === ca) ?? { ca }) } : {}),
        listeners: { ...c.listeners, ...(req.httpPort ? { httpPort: req.httpPort } : {}), ...(req.httpsPort ? { httpsPort: req.httpsPort } : {}) },
        ...(req.resolver !== undefined ? { resolver: req.resolver || undefined } : {}),
        ...(req.publicIps !== undefined ? { publicIps: req.publicIps.length ? req.publicIps : undefined } : {}),
        ...(req.ctMargins
          ? {
              ct: {
                ...c.ct,
                ...(req.ctMargins.firstIssuanceSeconds !== undefined ? { firstIssuanceMarginSeconds: req.ctMargins.firstIssuanceSeconds } : {}),
                ...(req.ctMargins.renewalSeconds !== undefined ? { renewalMarginSeconds: req.ctMargins.renewalSeconds } : {}),
              },
            }
          : {}),
      }));
    }
    if (req.theme || req.notify || req.launchAtLogin !== undefined) {
      const p = await deps.prefs.get();
      await deps.prefs.set({ theme: req.theme ?? p.theme, notify: { ...p.notify, ...req.notify }, launchAtLogin: req.launchAtLogin ?? p.launchAtLogin });
    }
    return settings();
  };

  return {
    async overview() {
      const certificates = (await engine.list()).map(summary);
      return {
        version,
        host: deps.host,
        canLaunchAtLogin: deps.setLaunchAtLogin !== undefined,
        certificates,
        routes: await routes(),
        proxy: deps.proxy(),
        setUp: certificates.length > 0,
        account: { ...(engine.config.email ? { email: engine.config.email } : {}), acceptTos: engine.config.acceptTos, cas: engine.config.cas.map((c) => c.ca) },
        now: new Date().toISOString(),
      };
    },

    async getCertificate({ name }) {
      const view = await engine.status(name);
      const [current, next, history] = await Promise.all([
        engine.store.read(name, 'current'),
        engine.store.read(name, 'next'),
        engine.store.history(name),
      ]);
      const shown = next ?? current;
      const detail: CertificateDetail = {
        ...summary(view),
        keyType: view.keyType,
        ...(view.challenge ? { challenge: view.challenge } : {}),
        ...(shown ? { fingerprint: colonHex(shown.meta.sha256) } : {}),
        ct: ctView(view.ct),
        history: history.map((h) => ({ serial: h.serial, notBefore: h.notBefore, notAfter: h.notAfter })),
        ...(view.clock ? { clock: { status: view.clock.status, message: view.clock.message, ...(view.clock.fix ? { fix: view.clock.fix } : {}) } } : {}),
      };
      return detail;
    },

    preflight({ names }): Promise<PreflightReport> {
      return engine.preflightReport(names);
    },

    async issue(req: IssueInput) {
      if (req.email !== undefined || req.acceptTos !== undefined) {
        await engine.updateConfig((c) => ({
          ...c,
          ...(req.email !== undefined ? { email: req.email } : {}),
          ...(req.acceptTos !== undefined ? { acceptTos: req.acceptTos } : {}),
        }));
      }
      const cert = await engine.addCertificate({
        names: req.names,
        ...(req.keyType ? { keyType: req.keyType } : {}),
        ...(req.challenge ? { challenge: req.challenge } : {}),
        ...(req.servingPolicy ? { serving: req.servingPolicy } : {}),
      });
      return summary(await engine.issue(cert.name));
    },

    async renew({ name, force }) {
      const [outcome] = await engine.renew({ id: name, force: force ?? false });
      if (outcome?.action === 'failed') throw outcome.error;
      return summary(outcome ? outcome.status : await engine.status(name));
    },

    async removeCertificate({ name }) {
      await engine.removeCertificate(name);
      return (await engine.list()).map(summary);
    },

    async exportCertificate(req: ExportInput): Promise<ExportFile> {
      const base = req.name.replace(/^wildcard_\./, 'wildcard.');
      if (req.format === 'pem' || req.format === 'fullchain' || req.format === 'key') {
        engine.certificate(req.name);
        const src = (await engine.store.read(req.name, 'current')) ?? (await engine.store.read(req.name, 'next'));
        if (!src) throw new HomeportError('export.nothing', `Certificate "${req.name}" has not been issued yet.`, { fix: 'Get it first with the wizard.' });
        const text = req.format === 'pem' ? src.certPem : req.format === 'fullchain' ? src.fullchainPem : src.keyPem;
        const suffix = req.format === 'pem' ? 'cert' : req.format;
        return { filename: `${base}.${suffix}.pem`, mime: MIME[req.format], base64: Buffer.from(text).toString('base64') };
      }
      // PFX and zip are built by the engine's exporter into a private temporary file.
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'homeport-export-'));
      try {
        const out = path.join(dir, `${base}.${req.format}`);
        await engine.export(req.name, { format: req.format, out, ...(req.password ? { password: req.password } : {}) });
        const bytes = await fs.readFile(out);
        return { filename: path.basename(out), mime: MIME[req.format], base64: bytes.toString('base64') };
      } finally {
        await fs.rm(dir, { recursive: true, force: true });
      }
    },

    async addRoute(req: RouteInput) {
      const { addRoute } = await import('../engine/proxy/route-config.js');
      await addRoute(engine.dataDir, { host: req.host, upstreams: req.upstreams, ...(req.pathPrefix ? { pathPrefix: req.pathPrefix } : {}) }, { keepOptions: true });
      await deps.routesChanged?.();
      return routes();
    },

    async removeRoute({ host, pathPrefix }) {
      const { removeRoute } = await import('../engine/proxy/route-config.js');
      // Only the route named: the one without a path when none is given, not every route of the host.
      await removeRoute(engine.dataDir, host, pathPrefix ?? '');
      await deps.routesChanged?.();
      return routes();
    },

    getSettings: settings,
    updateSettings,
  };
}

function certVersion(meta: StoredMeta, view: CertificateView): CertVersion {
  const r = view.readiness?.serial === meta.serial ? view.readiness : undefined;
  return {
    serial: meta.serial,
    issuer: meta.issuer,
    ca: meta.ca,
    notBefore: meta.notBefore,
    notAfter: meta.notAfter,
    ...(r ? { readyAt: r.readyAt === null ? null : new Date(r.readyAt).toISOString(), readyReason: r.reason } : {}),
  };
}

/** The engine's CT verdict (of the resting successor, else the active certificate) in the UI's shape. */
function ctView(ct: CertificateView['ct']): CertificateDetail['ct'] {
  if (!ct) return { applicable: false, scts: [], policies: null, note: 'Not issued yet.' };
  if ('error' in ct) return { applicable: false, scts: [], policies: null, note: ct.error };
  const warnings = ct.warnings.join(' ');
  return {
    applicable: ct.applicable,
    scts: ct.scts.map((s) => ({ ...s, log: s.log ? { ...s.log, state: s.log.state ?? 'unknown' } : null })),
    policies: ct.applicable ? ct.policies : null,
    ...(ct.applicable ? (warnings ? { note: warnings } : {}) : { note: ct.applicability }),
  };
}

function colonHex(hex: string): string {
  return (hex.replace(/[^0-9a-f]/gi, '').toUpperCase().match(/../g) ?? []).join(':');
}

/** p50/p99 from the proxy's latency histogram: the upper bound of the bucket they fall in. */
function percentiles(latency: number[]): { p50Ms?: number; p99Ms?: number } {
  const total = latency.reduce((a, b) => a + b, 0);
  if (total === 0) return {};
  const at = (q: number) => {
    let seen = 0;
    for (const [i, n] of latency.entries()) {
      seen += n;
      if (seen >= q * total) return LATENCY_BUCKETS_MS[i] ?? LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]! * 2;
    }
    return undefined;
  };
  const p50 = at(0.5);
  const p99 = at(0.99);
  return { ...(p50 !== undefined ? { p50Ms: p50 } : {}), ...(p99 !== undefined ? { p99Ms: p99 } : {}) };
}

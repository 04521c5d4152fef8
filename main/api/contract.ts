/**
 * THE contract between the UI and the engine. The renderer and the preload import this file
 * as types only (`import type`), so nothing here may exist at run time except types.
 *
 * Both transports carry the same shapes: Electron IPC (preload → ipcMain.handle) and the
 * headless host (POST /api/<method> with a JSON body). Every reply is a `Result` envelope,
 * because thrown errors lose their code and fix on the way through Electron's IPC.
 */
import type { EngineEvents, EngineEventName } from '../engine/events';

export type CertState = 'planned' | 'checking' | 'issuing' | 'resting' | 'active' | 'blocked' | 'failed';
export type KeyType = 'ec256' | 'ec384' | 'rsa2048' | 'rsa3072' | 'rsa4096';
export type ChallengeType = 'http-01' | 'tls-alpn-01' | 'dns-01';
/** What to serve while a first certificate is not yet accepted by every browser. */
export type ServingPolicy = 'hold' | 'serve-now' | { holdHandshakeSeconds: number };
export type ExportFormat = 'pem' | 'fullchain' | 'key' | 'pfx' | 'zip';

/** A user-facing failure: a stable code, a plain sentence, and what to do about it. */
export interface ApiError {
  code: string;
  message: string;
  fix?: string;
  /** For input errors: which field, e.g. `names.0`. */
  field?: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** One certificate as stored (current/ or next/), times as ISO-8601. */
export interface CertVersion {
  serial: string;
  issuer: string;
  ca: string;
  notBefore: string;
  notAfter: string;
  /** When every browser accepts it; null = never (see readyReason); undefined = not judged yet. */
  readyAt?: string | null;
  readyReason?: string;
}

export interface CertificateSummary {
  /** The certificate's id: its first name. */
  name: string;
  names: string[];
  state: CertState;
  /** The certificate the proxy serves (absent before the first issuance). */
  current?: CertVersion;
  /** A resting successor waiting to become CT-ready. */
  next?: CertVersion;
  /** When the next renewal is planned. */
  renewAt?: string;
  lastError?: ApiError & { at: string; retryAt?: string };
  servingPolicy: ServingPolicy;
}

export interface SctView {
  logId: string;
  timestamp: string;
  signatureValid: boolean;
  log: { name: string; operator: string; state: string } | null;
}

export interface PolicyVerdict {
  compliant: boolean;
  reason: string;
}

export interface CertificateDetail extends CertificateSummary {
  keyType?: KeyType;
  challenge?: ChallengeType;
  /** SHA-256 fingerprint of the current (or resting) leaf, colon-separated hex. */
  fingerprint?: string;
  ct: {
    /** false: a private CA, CT does not apply. */
    applicable: boolean;
    scts: SctView[];
    policies: { chrome: PolicyVerdict; firefox: PolicyVerdict; apple: PolicyVerdict } | null;
    /** Why CT could not be judged (e.g. no certificate yet). */
    note?: string;
  };
  history: { serial: string; notBefore: string; notAfter: string }[];
  /** This machine's clock against the CA's and the logs' clocks: the countdown is only as good as it. */
  clock?: { status: 'ok' | 'behind' | 'ahead' | 'unknown'; message: string; fix?: string };
}

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface PreflightCheck {
  id: string;
  status: CheckStatus;
  summary: string;
  /** The facts behind the summary, one per line. */
  evidence: string[];
  fix: string | null;
}

export interface PreflightReport {
  verdict: 'ready' | 'blocked';
  recommendedChallenge: ChallengeType | null;
  names: { name: string; checks: PreflightCheck[] }[];
}

export interface RouteInput {
  host: string;
  pathPrefix?: string;
  upstreams: string[];
}

export interface RouteView extends RouteInput {
  /** Visitors must sign in (set with `homeport route add --auth`). */
  signIn: boolean;
  /** Only these networks may visit (`--allow`). */
  allow?: string[];
  counters: { requests: number; errors: number; bytesIn: number; bytesOut: number; p50Ms?: number; p99Ms?: number } | null;
}

export interface Settings {
  /** ACME account contact. */
  email?: string;
  /** Ordered CA list: preset names or directory URLs. */
  cas: string[];
  /** The user accepted the CAs' terms of service. */
  acceptTos: boolean;
  httpPort: number;
  httpsPort: number;
  /** DNS server to ask instead of the system resolver, `host:port`; updateSettings takes '' to go back to the system resolver. */
  resolver?: string;
  /** This host's public addresses; when empty the pre-flight asks probe services. */
  publicIps: string[];
  /** Seconds added after the moment every browser accepts a new certificate. */
  ctMargins: { firstIssuanceSeconds: number; renewalSeconds: number };
  theme: 'system' | 'light' | 'dark';
  notify: { ctReady: boolean; failed: boolean; drift: boolean };
  /** Start Homeport when the user logs in; only where `Overview.canLaunchAtLogin`. */
  launchAtLogin: boolean;
}

export interface ProxyStatus {
  running: boolean;
  httpPort?: number;
  httpsPort?: number;
  /** Why it is not running (e.g. a port in use), with the fix. */
  problem?: ApiError;
}

export interface Overview {
  version: string;
  /** Which host the UI runs in (the page carries it as `data-host` on its body). */
  host: 'electron' | 'headless';
  /** The system lets Homeport start at login (the desktop app on macOS and Windows); Settings offers it only then. */
  canLaunchAtLogin: boolean;
  certificates: CertificateSummary[];
  routes: RouteView[];
  proxy: ProxyStatus;
  /** False until the first certificate has been issued: the UI opens the wizard. */
  setUp: boolean;
  /** What the wizard must still ask before the first order (e-mail, terms of service). */
  account: { email?: string; acceptTos: boolean; cas: string[] };
  now: string;
}

export interface IssueInput {
  names: string[];
  keyType?: KeyType;
  challenge?: ChallengeType;
  servingPolicy?: ServingPolicy;
  /** Saved with the account settings before the order, when the wizard asked for them. */
  email?: string;
  acceptTos?: boolean;
}

export interface ExportInput {
  name: string;
  format: ExportFormat;
  /** Required for pfx (and used for the pfx inside a zip). */
  password?: string;
}

export interface ExportFile {
  filename: string;
  mime: string;
  /** The file's bytes, base64 (IPC and JSON both carry strings well). */
  base64: string;
}

/** Every request the UI can make. One argument (or none) per method, always a plain object. */
export interface HomeportApi {
  overview(): Promise<Overview>;
  getCertificate(req: { name: string }): Promise<CertificateDetail>;
  preflight(req: { names: string[] }): Promise<PreflightReport>;
  issue(req: IssueInput): Promise<CertificateSummary>;
  renew(req: { name: string; force?: boolean }): Promise<CertificateSummary>;
  /** Stops managing a certificate; its files move to <data>/removed/. */
  removeCertificate(req: { name: string }): Promise<CertificateSummary[]>;
  exportCertificate(req: ExportInput): Promise<ExportFile>;
  addRoute(req: RouteInput): Promise<RouteView[]>;
  /** Removes the route of `host` under `pathPrefix` (none: the route without a path). */
  removeRoute(req: { host: string; pathPrefix?: string }): Promise<RouteView[]>;
  getSettings(): Promise<Settings>;
  updateSettings(req: Partial<Settings>): Promise<Settings>;
}

export type ApiMethod = keyof HomeportApi;
export type ApiResponse<M extends ApiMethod> = Awaited<ReturnType<HomeportApi[M]>>;

/** An engine event as the UI receives it. */
export type ApiEvent = { [K in EngineEventName]: { type: K; payload: EngineEvents[K] } }[EngineEventName];

/**
 * What a transport gives the renderer: each contract method answering with a Result, plus
 * an event subscription. `window.homeport` (preload) and the HTTP client both have this shape.
 */
export type HomeportTransport = {
  [M in ApiMethod]: (...args: Parameters<HomeportApi[M]>) => Promise<Result<ApiResponse<M>>>;
} & {
  onEvent(listener: (event: ApiEvent) => void): () => void;
};

/**
 * Per-route counters for the dashboard: cheap to update on every request (a few integer
 * additions), read by snapshot.
 */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

export interface RouteStats {
  /** `host` or `host/prefix`. */
  route: string;
  requests: number;
  /** Responses with status ≥ 500 plus requests that got no response (upstream down, reset). */
  errors: number;
  /** Request body bytes read from clients. */
  bytesIn: number;
  /** Response body bytes sent to clients. */
  bytesOut: number;
  /** Counts per bucket: `latency[i]` = requests that took ≤ LATENCY_BUCKETS_MS[i] ms; the last entry is the rest. */
  latency: number[];
  /** Open WebSocket (and other upgraded) connections. */
  openUpgrades: number;
}

export class RouteCounters {
  requests = 0;
  errors = 0;
  bytesIn = 0;
  bytesOut = 0;
  openUpgrades = 0;
  readonly latency = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);

  constructor(readonly route: string) {}

  record(ms: number, status: number, bytesIn: number, bytesOut: number): void {
    this.requests++;
    if (status >= 500 || status === 0) this.errors++;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[i]!) i++;
    this.latency[i]!++;
  }

  snapshot(): RouteStats {
    return {
      route: this.route,
      requests: this.requests,
      errors: this.errors,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      latency: [...this.latency],
      openUpgrades: this.openUpgrades,
    };
  }
}

/** Sums snapshots of the same routes (from the serving processes of a ProxyCluster). */
export function mergeStats(lists: RouteStats[][]): RouteStats[] {
  const byRoute = new Map<string, RouteStats>();
  for (const list of lists) {
    for (const s of list) {
      const acc = byRoute.get(s.route);
      if (!acc) {
        byRoute.set(s.route, { ...s, latency: [...s.latency] });
        continue;
      }
      acc.requests += s.requests;
      acc.errors += s.errors;
      acc.bytesIn += s.bytesIn;
      acc.bytesOut += s.bytesOut;
      acc.openUpgrades += s.openUpgrades;
      s.latency.forEach((v, i) => (acc.latency[i] = (acc.latency[i] ?? 0) + v));
    }
  }
  return [...byRoute.values()];
}

import { promises as fs } from 'node:fs';
import type { Clock, Timer } from '../clock';
import { writeFileAtomic } from '../atomic-file';
import type { EngineEmitter, EngineEvents } from '../events';
import type { CheckId, CheckResult, CheckStatus, PreflightReport } from './types';

/**
 * Drift watch: the pre-flight checks again, on a schedule and right before each renewal,
 * compared with the last run. A check that got worse (a new AAAA elsewhere, a CAA record
 * that now forbids the CA, Cloudflare switched on, a port taken) or a changed public
 * address raises `dns:drift`, so the user hears of it before the renewal fails.
 * A finding is reported once, when it appears, not at every run while it lasts.
 */
export interface DriftWatchOptions {
  clock: Clock;
  events: EngineEmitter;
  /** Runs the checks (no dry run: the watch never sends anything to a CA). */
  check: (names: string[]) => Promise<PreflightReport>;
  /** The names to watch now (every managed certificate's names). */
  names: () => string[];
  intervalMs: number;
  /** Where the last results are kept across restarts (<data>/preflight-baseline.json). */
  file?: string;
}

type Baseline = Record<string, Partial<Record<CheckId, { status: CheckStatus; summary: string }>>>;

/** Not drift: the ledger changes because of Homeport's own orders; the dry run is never run here. */
const IGNORED: ReadonlySet<CheckId> = new Set(['rate-limits', 'dry-run']);
const RANK: Record<CheckStatus, number> = { skip: 0, pass: 0, warn: 1, fail: 2 };

export class DriftWatch {
  private timer?: Timer;
  private baseline?: Baseline;
  private running?: Promise<EngineEvents['dns:drift'][]>;

  constructor(private readonly opts: DriftWatchOptions) {}

  /** Checks every `intervalMs` from now on. */
  start(): void {
    this.stop();
    const arm = () => {
      this.timer = this.opts.clock.at(this.opts.clock.now() + this.opts.intervalMs, () => {
        void this.checkNow().catch(() => undefined).finally(arm);
      });
    };
    arm();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Runs the checks for the watched names; emits and returns the drift found. */
  checkNow(): Promise<EngineEvents['dns:drift'][]> {
    // One run at a time: a renewal's check and a scheduled one must not race on the baseline.
    this.running ??= this.compare(this.opts.names()).finally(() => (this.running = undefined));
    return this.running;
  }

  /** Before a renewal: the report for these names, drift emitted like a scheduled run. */
  async beforeRenewal(names: string[]): Promise<PreflightReport> {
    await this.running;
    let report!: PreflightReport;
    await this.compare(names, (r) => (report = r));
    return report;
  }

  private async compare(names: string[], keep?: (r: PreflightReport) => void): Promise<EngineEvents['dns:drift'][]> {
    const before = await this.load();
    const report = await this.opts.check(names);
    keep?.(report);
    const drift: EngineEvents['dns:drift'][] = [];
    for (const n of report.names) {
      const prev = before[n.name];
      const next: Baseline[string] = {};
      for (const c of n.checks) {
        if (IGNORED.has(c.id)) continue;
        next[c.id] = { status: c.status, summary: c.summary };
        const old = prev?.[c.id];
        if (old && isDrift(c.id, old, c)) {
          drift.push({
            name: n.name,
            checkId: c.id,
            before: `${old.status}: ${old.summary}`,
            after: `${c.status}: ${c.summary}`,
            summary: c.summary,
            fix: c.fix ?? undefined,
          });
        }
      }
      before[n.name] = next;
    }
    this.baseline = before;
    if (this.opts.file) await writeFileAtomic(this.opts.file, JSON.stringify(before, null, 1) + '\n', { mode: 0o600 });
    for (const d of drift) this.opts.events.emit('dns:drift', d);
    return drift;
  }

  private async load(): Promise<Baseline> {
    if (this.baseline) return this.baseline;
    if (!this.opts.file) return (this.baseline = {});
    try {
      return (this.baseline = JSON.parse(await fs.readFile(this.opts.file, 'utf8')) as Baseline);
    } catch {
      return (this.baseline = {});
    }
  }
}

function isDrift(id: CheckId, old: { status: CheckStatus; summary: string }, now: CheckResult): boolean {
  if (RANK[now.status] > RANK[old.status]) return true;
  // A new public address breaks every A/AAAA record that pointed at the old one.
  return id === 'public-address' && now.status !== 'skip' && old.summary !== now.summary;
}

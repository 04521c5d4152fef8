import type { EngineEmitter } from '../events';

/**
 * The readiness gate is only as good as this machine's clock. Two outside references:
 * the CA's HTTP Date header (one-second resolution, plus the round trip) and SCT timestamps
 * (a log stamped them before we received the certificate, so one later than our receive
 * time proves our clock is behind).
 */
export const CLOCK_SKEW_WARN_MS = 3_000;

export interface ClockSample {
  /** Estimated (reference − local) in ms; positive = this machine is behind. */
  offsetMs: number;
  /** How far off the estimate can be either way. */
  uncertaintyMs: number;
  source: string;
}

/** A sample from a response's Date header; `sentAt`/`receivedAt` are local times around the request. */
export function sampleFromDateHeader(date: string, sentAt: number, receivedAt: number, source = 'the CA'): ClockSample | undefined {
  const server = Date.parse(date);
  if (Number.isNaN(server)) return undefined;
  // The server's clock read somewhere in [server, server + 1 s) while we waited between sentAt and receivedAt.
  const mid = (sentAt + receivedAt) / 2;
  return {
    offsetMs: server + 500 - mid,
    uncertaintyMs: 500 + (receivedAt - sentAt) / 2,
    source: `${source}'s Date header`,
  };
}

/**
 * A lower bound from SCT timestamps: each was stamped before `receivedAt` in true time. Only
 * an SCT later than our clock tells us something (we are behind by at least the difference).
 */
export function sampleFromScts(timestamps: number[], receivedAt: number, source = 'the SCT timestamps'): ClockSample | undefined {
  const latest = Math.max(...timestamps);
  if (!(latest > receivedAt)) return undefined;
  const behind = latest - receivedAt;
  // Offset is at least `behind`; present it as that bound with no slack in the other direction.
  return { offsetMs: behind, uncertaintyMs: 0, source };
}

export interface ClockVerdict {
  status: 'ok' | 'behind' | 'ahead' | 'unknown';
  /** Best estimate of (true − local) in ms, when known. */
  offsetMs?: number;
  message: string;
  fix?: string;
}

/** Warns when any sample proves the clock off by more than `thresholdMs` either way. */
export function assessClock(samples: (ClockSample | undefined)[], thresholdMs = CLOCK_SKEW_WARN_MS): ClockVerdict {
  const real = samples.filter((s): s is ClockSample => s !== undefined);
  if (real.length === 0) return { status: 'unknown', message: 'No outside time reference yet to compare this clock with.' };
  // The sample that proves the largest error once its uncertainty is taken off.
  let worst = real[0];
  let worstProven = -1;
  for (const s of real) {
    const proven = Math.abs(s.offsetMs) - s.uncertaintyMs;
    if (proven > worstProven) {
      worst = s;
      worstProven = proven;
    }
  }
  if (worstProven <= thresholdMs) {
    return { status: 'ok', offsetMs: Math.round(worst.offsetMs), message: `This clock agrees with ${worst.source} within ${Math.max(1, Math.ceil((Math.abs(worst.offsetMs) + worst.uncertaintyMs) / 1000))} s.` };
  }
  const secs = Math.round(Math.abs(worst.offsetMs) / 1000);
  const behind = worst.offsetMs > 0;
  return {
    status: behind ? 'behind' : 'ahead',
    offsetMs: Math.round(worst.offsetMs),
    message: `This machine's clock is about ${secs} s ${behind ? 'behind' : 'ahead of'} ${worst.source}, so ${behind ? 'new certificates are switched on later than needed' : 'new certificates may be switched on before browsers accept them'}.`,
    fix: 'Turn on automatic time synchronisation (NTP), e.g. `timedatectl set-ntp true` on Linux or Date & Time settings on Windows/macOS.',
  };
}

/**
 * The engine's running clock check: the ACME client adds a sample per CA response (Date
 * header), the lifecycle one per issued certificate (SCT timestamps). Only recent samples
 * count, so fixing the clock clears the warning; `clock:skew` fires when the verdict changes.
 */
export class ClockCheck {
  private samples: ClockSample[] = [];
  private status: ClockVerdict['status'] = 'unknown';

  constructor(
    private readonly events?: EngineEmitter,
    private readonly keep = 5,
    private readonly thresholdMs = CLOCK_SKEW_WARN_MS,
  ) {}

  add(sample: ClockSample | undefined): ClockVerdict {
    if (sample) this.samples = [...this.samples, sample].slice(-this.keep);
    const v = this.verdict();
    if (v.status !== this.status) {
      this.status = v.status;
      this.events?.emit('clock:skew', v);
    }
    return v;
  }

  verdict(): ClockVerdict {
    return assessClock(this.samples, this.thresholdMs);
  }
}

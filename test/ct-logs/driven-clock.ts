import { Clock, ManualClock, Timer } from '../../main/engine/clock';

/**
 * A ManualClock the test moves only when the code under test is waiting on it: `drive`
 * jumps to each timer's due time as soon as one is armed, so retry schedules measured in
 * minutes run instantly and in order, with no sleeping and no timing assumptions.
 */
export class DrivenClock implements Clock {
  readonly manual: ManualClock;
  private due: { at: number }[] = [];
  private wake?: () => void;

  constructor(start: number) {
    this.manual = new ManualClock(start);
  }

  now(): number {
    return this.manual.now();
  }

  at(at: number, fn: () => void): Timer {
    const entry = { at };
    const timer = this.manual.at(at, fn);
    this.due.push(entry);
    this.wake?.();
    return {
      cancel: () => {
        timer.cancel();
        this.due = this.due.filter((d) => d !== entry);
      },
    };
  }

  private async nextDue(): Promise<number> {
    while (this.due.length === 0) await new Promise<void>((r) => (this.wake = r));
    return Math.min(...this.due.map((d) => d.at));
  }

  /** Runs `work` to completion, advancing time to each armed timer; `beforeAdvance` sees each jump first. */
  async drive<T>(work: Promise<T>, beforeAdvance?: (to: number) => void | Promise<void>): Promise<T> {
    const end = work.then(
      () => null,
      () => null,
    );
    for (;;) {
      const next = await Promise.race([this.nextDue(), end]);
      if (next === null) return work;
      await beforeAdvance?.(next);
      this.due = this.due.filter((d) => d.at > next);
      this.manual.set(Math.max(next, this.manual.now()));
    }
  }
}

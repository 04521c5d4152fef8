import { EventEmitter } from 'node:events';

/**
 * The engine's events: names and payloads in one place, so the shell's tray and
 * notifications, the headless host's event stream and the CLI's progress output all
 * agree. Each subsystem adds its events here rather than inventing its own emitter.
 */
export interface EngineEvents {
  /** A long operation moved on; `step` is a short human sentence ("Asking the CA for an order"). */
  progress: { name: string; step: string; done?: number; total?: number };
  /** A new certificate was issued and stored (it may still be resting until CT-ready). */
  'cert:issued': { name: string; serial: string; issuer: string; ca: string; notBefore: string; notAfter: string };
  /** The certificate became safe to serve to every browser. */
  'cert:ct-ready': { name: string; serial: string; readyAt: string };
  /** The log inclusion monitor finished: every SCT's log proved it holds the entry, or which did not and why. */
  'cert:ct-logged': {
    name: string;
    serial: string;
    allLogged: boolean;
    summary: string;
    scts: { logId: string; logName: string | null; status: string; treeSize?: number; leafIndex?: number; message: string }[];
  };
  /** The proxy now serves this certificate for new handshakes. */
  'cert:activated': { name: string; serial: string; previousSerial?: string };
  /** Issuance or renewal failed; the active certificate, if any, is untouched. */
  'cert:failed': { name: string; code: string; message: string; fix?: string; retryAt?: string };
  /** A certificate's lifecycle moved (planned, checking, issuing, resting, active, blocked, failed). */
  'cert:state': { name: string; state: string; previous?: string };
  /** A CT log list refresh ended (updated, not modified, rejected for a bad signature or age, or failed). */
  'ct:log-list': { list: 'chrome' | 'apple'; status: 'updated' | 'not-modified' | 'rejected' | 'failed'; message: string };
  /** This machine's clock compared with the CA's Date header and SCT timestamps; warns when off by more than 3 s. */
  'clock:skew': { status: 'ok' | 'behind' | 'ahead' | 'unknown'; offsetMs?: number; message: string; fix?: string };
  /** A pre-flight check that passed before now fails or warns (the next renewal is at risk). */
  'dns:drift': { name: string; checkId: string; before: string; after: string; summary: string; fix?: string };
}

export type EngineEventName = keyof EngineEvents;

/** A thin typed façade over EventEmitter. */
export class EngineEmitter {
  private readonly ee = new EventEmitter();

  on<K extends EngineEventName>(event: K, fn: (payload: EngineEvents[K]) => void): () => void {
    this.ee.on(event, fn);
    return () => this.ee.off(event, fn);
  }

  once<K extends EngineEventName>(event: K, fn: (payload: EngineEvents[K]) => void): void {
    this.ee.once(event, fn);
  }

  emit<K extends EngineEventName>(event: K, payload: EngineEvents[K]): void {
    this.ee.emit(event, payload);
  }
}

import { createSecureContext } from 'node:tls';
import { ChallengeStore } from '../acme/challenges';
import { isHomeportError } from '../errors';
import { CertificateTable } from './cert-source';
import type { ChallengeChange, FromWorker, ToWorker } from './cluster';
import { fileAccessLog } from './access-log';
import { ProxyServer, type ListeningSockets } from './server';
import type * as net from 'node:net';

/**
 * A helper process of ProxyCluster: a ProxyServer accepting on its primary's listening
 * sockets, fed over IPC. The ticket keys come from the primary so a TLS session resumes
 * whichever process the next connection lands on. Routes and settings arrive checked, so a
 * helper loads only the request path (no config schema, no engine): about 10 MB less each.
 */
/** As long as `homeport serve` gives its own requests on SIGTERM. */
const DEFAULT_DRAIN_MS = 10_000;
let proxy: ProxyServer | undefined;
const inherited: ListeningSockets = { http: [], https: [] };
let table: CertificateTable | undefined;
const challenges = new ChallengeStore();
let closeLog: (() => Promise<void>) | undefined;
/** Certificates whose handshakes the primary holds, and the handshakes waiting on it. */
let held = new Set<string>();
const waiting = new Map<number, () => void>();
let nextSeq = 1;

function handshakeHold(id: string): Promise<void> | undefined {
  if (!held.has(id)) return undefined;
  const seq = nextSeq++;
  return new Promise<void>((resolve) => {
    waiting.set(seq, resolve);
    send({ type: 'hold', id, seq });
  });
}

function send(m: FromWorker): void {
  process.send?.(m);
}

process.on('message', (m: ToWorker, socket?: net.Server) => {
  switch (m.type) {
    case 'listener':
      if (socket) inherited[m.kind].push(socket);
      break;
    case 'init': {
      table = new CertificateTable(Buffer.from(m.ticketKeys, 'base64'));
      for (const c of m.certificates) table.activate(c);
      table.setDefault(m.defaultCertificate);
      for (const c of m.challenges) applyChallenge(c);
      held = new Set(m.holds);
      const log = m.settings.accessLog ? fileAccessLog(m.settings.accessLog, { notice: (line) => send({ type: 'notice', line }) }) : undefined;
      closeLog = log?.close;
      try {
        proxy = new ProxyServer({
          routes: m.routes,
          settings: m.settings,
          httpPort: m.httpPort,
          httpsPort: m.httpsPort,
          publicHttpsPort: m.publicHttpsPort,
          certificates: table,
          challenges,
          log: log?.log,
          handshakeHold,
          inherit: inherited,
        });
      } catch (e) {
        return fail(e);
      }
      proxy.start().then(() => send({ type: 'ready' }), fail);
      break;
    }
    case 'routes':
      proxy?.setRoutes(m.routes);
      break;
    case 'cert':
      table?.activate(m.cert);
      break;
    case 'cert-remove':
      table?.remove(m.id);
      break;
    case 'ticket-keys':
      table?.rotateTicketKeys(Buffer.from(m.ticketKeys, 'base64'));
      break;
    case 'ping':
      send({ type: 'ack', seq: m.seq });
      break;
    case 'challenge':
      applyChallenge(m.change);
      send({ type: 'ack', seq: m.seq });
      break;
    case 'holds':
      held = new Set(m.ids);
      break;
    case 'hold-done':
      waiting.get(m.seq)?.();
      waiting.delete(m.seq);
      break;
    case 'stats':
      send({ type: 'stats', id: m.id, stats: proxy?.stats() ?? [] });
      break;
    case 'stop':
      stop(m.drainMs);
      break;
  }
});

function applyChallenge(c: ChallengeChange): void {
  if (c.kind === 'http-01') {
    if (c.keyAuthorization === undefined) challenges.deleteHttp01(c.token);
    else challenges.setHttp01(c.token, c.keyAuthorization);
  } else if (c.pem) {
    challenges.setTlsAlpn01(c.name, createSecureContext({ cert: c.pem.certPem, key: c.pem.keyPem }), c.pem);
  } else {
    challenges.deleteTlsAlpn01(c.name);
  }
}

function fail(e: unknown): void {
  send(
    isHomeportError(e)
      ? { type: 'failed', code: e.code, message: e.message, fix: e.fix }
      : { type: 'failed', code: 'proxy.worker-failed', message: (e as Error).message },
  );
  process.exit(1);
}

let stopping = false;
/** Stops accepting, lets requests in flight finish (up to `drainMs`), then exits. */
function stop(drainMs: number): void {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await proxy?.stop(drainMs);
    await closeLog?.();
    process.exit(0);
  })();
}

// A worker whose primary is gone has nobody to take orders from.
process.on('disconnect', () => process.exit(0));
// Ctrl-C reaches every process of the terminal's group at once: the main process decides
// and tells this one to drain. A SIGTERM (a service manager stops the whole group so) drains
// it the same way instead of dropping its requests in flight.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => stop(DEFAULT_DRAIN_MS));

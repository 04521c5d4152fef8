import * as net from 'node:net';
import { randomInt } from 'node:crypto';

/**
 * A port that was free a moment ago. Picked below the kernel's ephemeral range (32768+), which
 * outgoing connections draw from, so a port handed to a server later is not taken meanwhile by
 * some client socket; checked on both 127.0.0.1 and ::1 where IPv6 exists.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = 20000 + randomInt(12000);
    if ((await bindable(port, host)) && (host !== '127.0.0.1' || (await bindable(port, '::1', true)))) return port;
  }
}

function bindable(port: number, host: string, absentOk = false): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(absentOk && e.code === 'EADDRNOTAVAIL'));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

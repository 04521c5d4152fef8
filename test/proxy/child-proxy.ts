/**
 * A proxy in its own process, so a test can measure its memory alone. Started with a JSON
 * argument {routes, cert}; reports its ports over IPC and answers 'rss' requests.
 */
import { CertificateTable, type ServedCertificate } from '../../main/engine/proxy/cert-source';
import { Proxy } from '../../main/engine/proxy/proxy';
import type { RouteInput } from '../../main/engine/config/routes';

const { routes, cert } = JSON.parse(process.argv[2]!) as { routes: RouteInput[]; cert: ServedCertificate };
const table = new CertificateTable();
table.activate(cert);
const proxy = new Proxy({ routes, settings: { listen: ['127.0.0.1'] }, httpPort: 0, httpsPort: 0, certificates: table });
void proxy.start().then((ports) => process.send!({ type: 'ports', ...ports }));
process.on('message', (m: string) => {
  if (m === 'rss') process.send!({ type: 'rss', rss: process.memoryUsage().rss });
  if (m === 'stop') void proxy.stop(1000).then(() => process.exit(0));
});

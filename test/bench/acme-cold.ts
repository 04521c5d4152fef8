/**
 * One certificate from a cold process, the way `homeport issue` does it, with the time of
 * each phase since process start printed as JSON on stderr (for test/bench/acme.ts).
 * Usage: node dist/test/bench/acme-cold.js <directoryUrl> <caRoot> <httpPort> <dataDir> <name>
 */
const scriptStart = Math.round(performance.now());
import { AcmeIssuer } from '../../main/engine/acme/issuer';
import { startChallengeListeners } from '../../main/engine/acme/challenge-listeners';
import { writeFileAtomic } from '../../main/engine/atomic-file';

const phases: Record<string, number> = { scriptStart, modulesLoaded: Math.round(performance.now()) };
const [directoryUrl, caRoot, httpPort, dataDir, name] = process.argv.slice(2);

async function main(): Promise<void> {
  const issuer = new AcmeIssuer({ dataDir, cas: [{ ca: directoryUrl, caRoot }], acceptTos: true });
  const listeners = await startChallengeListeners({ store: issuer.challenges, httpPort: Number(httpPort), host: '127.0.0.1' });
  phases.listening = Math.round(performance.now());
  const steps: [string, number][] = [];
  const cert = await issuer.issue({ names: [name], keyType: 'ec256', challenge: 'http-01', onProgress: (s) => steps.push([s, Math.round(performance.now())]) });
  phases.issued = Math.round(performance.now());
  await writeFileAtomic(`${dataDir}/${name}.pem`, cert.certPem + cert.chainPem);
  await writeFileAtomic(`${dataDir}/${name}.key`, cert.keyPem, { mode: 0o600 });
  phases.written = Math.round(performance.now());
  issuer.close();
  await listeners.close();
  process.stderr.write(JSON.stringify({ phases, steps }) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});

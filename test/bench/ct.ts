/**
 * CT benchmark: the full offline verdict for one certificate with 3 embedded SCTs (parse,
 * precert surgery, 3 signature checks, public/private decision, Chrome/Firefox/Apple
 * policies, readiness search), as the gate and the dashboard run it. Prints the median in
 * microseconds, certificates per second and the ratio to the goal (5,000/s). Not a test:
 * nothing here asserts a time. Usage: node dist/test/bench/ct.js   (BENCH_MS, default 2000)
 */
import { checkCertificate } from '../../main/engine/ct/check';
import { parseLogList } from '../../main/engine/ct/log-list';
import { extractEmbeddedScts } from '../../main/engine/ct/sct';
import { precertSignedEntry } from '../../main/engine/ct/precert';
import { logKeyFromSpki, verifySctSignature } from '../../main/engine/ct/verify';
import { createCa, createLog, issueLeaf, logListJson } from '../ct/helpers/test-pki';

const GOAL_PER_SECOND = 5_000;
const BUDGET_MS = Number(process.env.BENCH_MS ?? 2000);

const ca = createCa();
const logs = [createLog('g', 'Google'), createLog('c', 'Cloudflare'), createLog('l', "Let's Encrypt")];
const T = Date.UTC(2026, 2, 1);
const leaf = issueLeaf({ ca, notBefore: T, notAfter: T + 90 * 86_400_000 - 1000, scts: logs.map((log, i) => ({ log, timestamp: T + 1000 * (i + 1) })) });
const list = parseLogList(logListJson(logs.map((log) => ({ log, state: 'usable' as const, since: 0 }))), 'chrome');
const opts = { logLists: { chrome: list }, at: T + 86_400_000, marginMs: 5_000 };

function measure(label: string, fn: () => void): number {
  for (let i = 0; i < 200; i++) fn(); // warm-up: JIT, key caches
  const samples: number[] = [];
  const end = performance.now() + BUDGET_MS;
  while (performance.now() < end) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) * 1000);
  }
  samples.sort((a, b) => a - b);
  const median = samples[samples.length >> 1];
  const p99 = samples[Math.floor(samples.length * 0.99)];
  process.stdout.write(
    `${label.padEnd(44)} median ${median.toFixed(1).padStart(7)} µs  p99 ${p99.toFixed(1).padStart(7)} µs  ${Math.round(1e6 / median).toLocaleString('en').padStart(8)}/s\n`,
  );
  return median;
}

const v = checkCertificate(leaf.der, [ca.der], opts);
if (v.scts.length !== 3 || !v.scts.every((s) => s.signatureValid) || !v.policies.chrome.compliant) {
  throw new Error(`benchmark certificate is not what it should be: ${v.reason}`);
}

const full = measure('full verdict (3 SCTs, applicability from roots)', () => checkCertificate(leaf.der, [ca.der], opts));
measure('full verdict, applicability given (--public)', () => checkCertificate(leaf.der, [ca.der], { ...opts, applicability: 'public' }));
const keys = logs.map((l) => logKeyFromSpki(l.spki));
measure('parse + precert entry only', () => precertSignedEntry(leaf.der, ca.der) && extractEmbeddedScts(leaf.der));
const scts = extractEmbeddedScts(leaf.der);
const entry = precertSignedEntry(leaf.der, ca.der);
measure('3 ECDSA P-256 SCT signature checks only', () => scts.forEach((s, i) => verifySctSignature(s, entry, keys[i])));

const perSecond = 1e6 / full;
process.stdout.write(
  `\nCT verdict: ${Math.round(perSecond).toLocaleString('en')} certificates/s = ${(perSecond / GOAL_PER_SECOND).toFixed(2)}× the goal of ${GOAL_PER_SECOND.toLocaleString('en')}/s\n`,
);

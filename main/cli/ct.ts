import { Command } from 'commander';
import { addJsonOption } from './options';

/**
 * `homeport ct <cert.pem>`: the CT verdict for one certificate, offline. Exit 0 when every
 * browser accepts it at --at (default now), 1 when not (yet), 2 on error.
 */
interface CtOptions {
  issuer?: string;
  logList?: string;
  appleLogList?: string;
  at?: string;
  public?: boolean;
  private?: boolean;
  margin?: string;
  json?: boolean;
}

export function register(program: Command): void {
  addJsonOption(
    program
      .command('ct')
      .description('check a certificate\'s SCTs, each browser\'s CT policy, and from when every browser accepts it')
      .argument('<cert>', 'certificate, PEM or DER (its issuer may follow it in the same PEM file)')
      .option('--issuer <pem>', "issuer's certificate (needed to verify the SCTs when <cert> holds only the leaf)")
      .option('--log-list <json>', 'Chrome-format CT log list to judge with (default: the newest verified list Homeport has)')
      .option('--apple-log-list <json>', "Apple's CT log list, for the Apple verdict (default: judged with Chrome's list)")
      .option('--at <time>', 'judge as of this ISO 8601 time, log states included (default: now)')
      .option('--public', 'treat it as publicly trusted (CT required)')
      .option('--private', 'treat it as from a private CA (CT not required)')
      .option('--margin <seconds>', 'safety margin after the last needed SCT (at least 2)', '5'),
  ).action(async (file: string, opts: CtOptions) => {
    const { fail } = await import('./output.js');
    try {
      process.exitCode = await run(file, opts);
    } catch (e) {
      fail(e, { json: opts.json, exitCode: 2 });
    }
  });
}

async function run(file: string, opts: CtOptions): Promise<number> {
  const { readFileSync } = await import('node:fs');
  const path = await import('node:path');
  const { HomeportError } = await import('../engine/errors.js');
  const { certificatesFromFile } = await import('../engine/ct/x509.js');
  const { checkCertificate } = await import('../engine/ct/check.js');
  const { parseLogList, parseSignedLogList } = await import('../engine/ct/log-list.js');
  const { readinessMargins } = await import('../engine/ct/readiness.js');
  const { LogListSource } = await import('../engine/ct/log-list-refresh.js');
  const { defaultDataDir } = await import('./options.js');
  const { printJson, printLine } = await import('./output.js');

  const read = (f: string, what: string): Buffer => {
    try {
      return readFileSync(f);
    } catch (e) {
      throw new HomeportError('ct.cannot-read', `Cannot read the ${what} "${f}" (${(e as NodeJS.ErrnoException).code ?? e}).`, {
        fix: 'Check the path and that you may read the file.',
      });
    }
  };
  if (opts.public && opts.private) {
    throw new HomeportError('ct.conflicting-options', '--public and --private contradict each other.', { fix: 'Give at most one of them.' });
  }
  let at = Date.now();
  if (opts.at !== undefined) {
    at = Date.parse(opts.at);
    if (Number.isNaN(at)) {
      throw new HomeportError('ct.bad-time', `--at "${opts.at}" is not a date and time.`, { fix: 'Use ISO 8601, e.g. 2026-03-01T12:00:00Z.' });
    }
  }
  const marginSeconds = Number(opts.margin);
  const marginMs = readinessMargins({ firstIssuanceMs: marginSeconds * 1000 }).firstIssuanceMs;

  const certs = certificatesFromFile(read(file, 'certificate'));
  const chain = opts.issuer ? [...certificatesFromFile(read(opts.issuer, 'issuer certificate')), ...certs.slice(1)] : certs.slice(1);

  let lists;
  if (opts.logList) {
    const json = read(opts.logList, 'log list');
    const sigFile = opts.logList.replace(/\.json$/, '') + '.sig';
    let sig: Buffer | undefined;
    try {
      sig = readFileSync(sigFile);
    } catch {
      sig = undefined; // an unsigned list the user chose on purpose
    }
    const { googleLogListKey } = await import('../engine/ct/snapshot.js');
    lists = { chrome: sig ? parseSignedLogList(json, sig, googleLogListKey()) : parseLogList(json, 'chrome') };
  } else {
    const source = new LogListSource({ dir: path.join(defaultDataDir(), 'ct') });
    await source.load();
    lists = source.lists();
  }
  if (opts.appleLogList) lists = { ...lists, apple: parseLogList(read(opts.appleLogList, 'Apple log list'), 'apple') };

  const v = checkCertificate(certs[0], chain, {
    logLists: lists,
    at,
    marginMs,
    applicability: opts.public ? 'public' : opts.private ? 'private' : undefined,
  });
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  if (opts.at === undefined && v.scts.length > 0) {
    // An SCT stamped after "now" proves this clock is behind: readyAt would come late.
    const { assessClock, sampleFromScts } = await import('../engine/ct/clock-skew.js');
    const clock = assessClock([sampleFromScts(v.scts.map((s) => s.timestamp), at)]);
    if (clock.status === 'behind') v.warnings.push(`${clock.message} ${clock.fix}`);
  }

  if (opts.json) {
    printJson({
      applicable: v.applicable,
      applicability: v.applicability,
      ready: v.ready,
      readyAt: iso(v.readyAt),
      at: iso(at),
      reason: v.reason,
      serial: v.serial,
      notBefore: iso(v.notBefore),
      notAfter: iso(v.notAfter),
      compliantFrom: iso(v.compliantFrom),
      scts: v.scts.map((s) => ({
        logId: s.logId,
        timestamp: iso(s.timestamp),
        signatureValid: s.signatureValid,
        ...(s.signatureProblem && { signatureProblem: s.signatureProblem }),
        ...(s.leafIndex !== undefined && { leafIndex: s.leafIndex }),
        log: s.log,
      })),
      policies: Object.fromEntries(Object.entries(v.policies).map(([k, p]) => [k, { compliant: p.compliant, reason: p.reason }])),
      logList: { source: lists.chrome.source, version: lists.chrome.version, timestamp: iso(lists.chrome.timestamp) },
      warnings: v.warnings,
    });
  } else {
    const days = ((v.notAfter - v.notBefore) / 86_400_000).toFixed(1).replace(/\.0$/, '');
    printLine(`Certificate ${v.serial}: valid ${iso(v.notBefore)} to ${iso(v.notAfter)} (${days} days)`);
    printLine(v.applicability);
    printLine(`SCTs (${v.scts.length}):`);
    for (const s of v.scts) {
      const who = s.log ? `${s.log.name} (${s.log.operator}, ${s.log.state ?? 'no state'})` : 'unknown log';
      const sig = s.signatureValid ? 'signature valid' : `signature NOT valid: ${s.signatureProblem}`;
      printLine(`  ${s.signatureValid ? '✔' : '✘'} ${iso(s.timestamp)}  ${who}  ${sig}  [log id ${s.logId}]`);
    }
    printLine('Policies:');
    for (const [name, label] of [['chrome', 'Chrome '], ['firefox', 'Firefox'], ['apple', 'Apple  ']] as const) {
      const p = v.policies[name];
      printLine(`  ${label} ${p.compliant ? 'compliant    ' : 'NOT compliant'}  ${p.reason}`);
    }
    printLine(`Ready at: ${iso(v.readyAt) ?? 'never'}`);
    printLine(`${v.ready ? 'READY' : 'NOT READY'} as of ${iso(at)}: ${v.reason}`);
    for (const w of v.warnings) printLine(`Warning: ${w}`);
  }
  return v.ready ? 0 : 1;
}

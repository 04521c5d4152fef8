import { KeyObject, createHash, generateKeyPairSync, sign } from 'node:crypto';
import { precertSignedEntry, sctSignedData } from '../../../main/engine/ct/precert';
import { PRECERT_POISON_OID, SCT_LIST_OID } from '../../../main/engine/ct/x509';

/**
 * A small real PKI for CT tests: a CA that issues a precertificate (with the poison), test
 * logs that sign SCTs over its precert entry, and the final certificate with the SCT list
 * where the poison was. Every signature is a real ECDSA/RSA signature by node:crypto.
 */

// --- minimal DER encoding ---
function len(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const b: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) b.unshift(x & 0xff);
  return Buffer.of(0x80 | b.length, ...b);
}
export const tlv = (tag: number, ...content: Uint8Array[]): Buffer => {
  const c = Buffer.concat(content);
  return Buffer.concat([Buffer.of(tag), len(c.length), c]);
};
export const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const set = (...c: Uint8Array[]) => tlv(0x31, ...c);
const octet = (c: Uint8Array) => tlv(0x04, c);
function int(n: bigint | number): Buffer {
  let hex = BigInt(n).toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let b = Buffer.from(hex, 'hex');
  if (b[0] & 0x80) b = Buffer.concat([Buffer.of(0), b]);
  return tlv(0x02, b);
}
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [40 * a + b];
  for (const v of rest) {
    const bytes = [v & 0x7f];
    for (let x = v >>> 7; x > 0; x >>>= 7) bytes.unshift(0x80 | (x & 0x7f));
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
}
function time(t: number): Buffer {
  const d = new Date(t);
  const s = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(s.slice(2), 'latin1')) : tlv(0x18, Buffer.from(s, 'latin1'));
}
const name = (cn: string) => seq(set(seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const ext = (id: string, critical: boolean, value: Uint8Array) =>
  critical ? seq(oid(id), tlv(0x01, Buffer.of(0xff)), octet(value)) : seq(oid(id), octet(value));

export interface TestCa {
  name: string;
  key: KeyObject;
  der: Buffer;
  pem: string;
}

export const toPem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;

function signCert(tbs: Buffer, key: KeyObject): Buffer {
  return seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.of(0), sign('sha256', tbs, key)));
}

let serialCounter = 1000n;

export function createCa(cn = 'Homeport CT Test CA'): TestCa {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const now = Date.UTC(2026, 0, 1);
  const tbs = seq(
    tlv(0xa0, int(2)),
    int(serialCounter++),
    ECDSA_SHA256,
    name(cn),
    seq(time(now - 86_400_000), time(now + 3650 * 86_400_000)),
    name(cn),
    spki,
    tlv(0xa3, seq(ext('2.5.29.19', true, seq(tlv(0x01, Buffer.of(0xff)))))),
  );
  const der = signCert(tbs, privateKey);
  return { name: cn, key: privateKey, der, pem: toPem(der) };
}

export interface TestLog {
  name: string;
  operator: string;
  logId: Buffer;
  key: KeyObject;
  /** base64 DER SPKI, as a log list has it. */
  spki: string;
  alg: 'ec' | 'rsa';
}

export function createLog(name: string, operator: string, alg: 'ec' | 'rsa' = 'ec'): TestLog {
  const { privateKey, publicKey } =
    alg === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return { name, operator, logId: createHash('sha256').update(spki).digest(), key: privateKey, spki: spki.toString('base64'), alg };
}

export interface SctSpec {
  log: TestLog;
  timestamp: number;
  /** Raw CtExtensions bytes (e.g. a static-ct leaf_index). */
  extensions?: Buffer;
  /** Flip a bit in the signature after signing. */
  corrupt?: boolean;
}

/** A serialized SCT signed by `log` over `entry`. */
export function makeSct(spec: SctSpec, entry: ReturnType<typeof precertSignedEntry>): Buffer {
  const extensions = spec.extensions ?? Buffer.alloc(0);
  const sig = sign('sha256', sctSignedData({ timestamp: spec.timestamp, extensions }, entry), spec.log.key);
  if (spec.corrupt) sig[sig.length - 5] ^= 0x01;
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(spec.timestamp));
  const u16 = (n: number) => Buffer.of(n >> 8, n & 0xff);
  return Buffer.concat([
    Buffer.of(0),
    spec.log.logId,
    ts,
    u16(extensions.length),
    extensions,
    Buffer.of(4, spec.log.alg === 'ec' ? 3 : 1),
    u16(sig.length),
    sig,
  ]);
}

export function sctList(scts: Buffer[]): Buffer {
  const items = scts.map((s) => Buffer.concat([Buffer.of(s.length >> 8, s.length & 0xff), s]));
  const body = Buffer.concat(items);
  return Buffer.concat([Buffer.of(body.length >> 8, body.length & 0xff), body]);
}

export interface LeafSpec {
  ca: TestCa;
  dnsName?: string;
  notBefore: number;
  notAfter: number;
  scts: SctSpec[];
  /** Replace the SCT list extension's content with these bytes (malformed-list tests). */
  rawSctList?: Buffer;
  /** No extension besides the poison / SCT list. */
  onlyCtExtension?: boolean;
}

export interface IssuedLeaf {
  der: Buffer;
  pem: string;
  precertDer: Buffer;
  /** The leaf's private key, PKCS#8 PEM (for stores that check the pair). */
  keyPem: string;
}

/**
 * Issues like a CT-logging CA: precertificate with the poison in the middle of the
 * extensions, SCTs over its precert entry, final certificate with the SCT list in its place.
 */
export function issueLeaf(spec: LeafSpec): IssuedLeaf {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const serial = serialCounter++;
  const dns = spec.dnsName ?? 'home.example.test';
  const before = spec.onlyCtExtension
    ? []
    : [
        ext('2.5.29.15', true, tlv(0x03, Buffer.of(7, 0x80))),
        ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))),
        ext('2.5.29.19', true, seq()),
      ];
  const after = spec.onlyCtExtension ? [] : [ext('2.5.29.17', false, seq(tlv(0x82, Buffer.from(dns, 'latin1'))))];
  const tbsWith = (middle: Buffer[]) =>
    seq(
      tlv(0xa0, int(2)),
      int(serial),
      ECDSA_SHA256,
      name(spec.ca.name),
      seq(time(spec.notBefore), time(spec.notAfter)),
      name(dns),
      spki,
      tlv(0xa3, seq(...before, ...middle, ...after)),
    );
  const precertDer = signCert(tbsWith([ext(PRECERT_POISON_OID, true, Buffer.of(0x05, 0x00))]), spec.ca.key);
  const entry = precertSignedEntry(precertDer, spec.ca.der);
  // No SCTs at all: a certificate the CA never logged, without the extension.
  const list = spec.rawSctList ?? (spec.scts.length ? sctList(spec.scts.map((s) => makeSct(s, entry))) : undefined);
  const der = signCert(tbsWith(list ? [ext(SCT_LIST_OID, false, octet(list))] : []), spec.ca.key);
  return { der, pem: toPem(der), precertDer, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** A Chrome-v3-shaped log list for test logs. */
export interface ListLog {
  log: TestLog;
  state: 'pending' | 'qualified' | 'usable' | 'readonly' | 'retired' | 'rejected';
  since: number;
  tiled?: boolean;
  previousOperators?: { name: string; endTime: number }[];
}

export function logListJson(logs: ListLog[], timestamp = Date.UTC(2026, 0, 1)): string {
  const operators = [...new Set(logs.map((l) => l.log.operator))].map((op) => {
    const mine = logs.filter((l) => l.log.operator === op);
    const entry = (l: ListLog) => ({
      description: l.log.name,
      log_id: l.log.logId.toString('base64'),
      key: l.log.spki,
      ...(l.tiled
        ? { submission_url: `https://${l.log.name}.example/`, monitoring_url: `https://${l.log.name}.mon.example/` }
        : { url: `https://${l.log.name}.example/` }),
      mmd: 86400,
      state: { [l.state]: { timestamp: new Date(l.since).toISOString().replace('.000', '') } },
      ...(l.previousOperators && {
        previous_operators: l.previousOperators.map((p) => ({ name: p.name, end_time: new Date(p.endTime).toISOString() })),
      }),
    });
    return {
      name: op,
      email: [`ct@${op.toLowerCase().replace(/\W/g, '')}.example`],
      logs: mine.filter((l) => !l.tiled).map(entry),
      tiled_logs: mine.filter((l) => l.tiled).map(entry),
    };
  });
  return JSON.stringify({ version: '1.0', log_list_timestamp: new Date(timestamp).toISOString(), operators }, null, 2);
}

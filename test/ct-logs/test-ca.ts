import { KeyObject, X509Certificate, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { Clock } from '../../main/engine/clock';
import { systemClock } from '../../main/engine/clock';
import { Der, bits, bool, explicit, extension, name, nullValue, octets, oid, seq, time, tlv, uint } from './der';

/**
 * A test CA that does what a publicly trusted CA does for CT (RFC 6962 §3.1): it signs a
 * precertificate carrying the critical poison extension, submits it with its chain to CT
 * logs (add-pre-chain over HTTP), embeds the SCTs they return, and signs the final
 * certificate: the same TBSCertificate with the poison replaced by the SCT list. Root and
 * intermediate are ECDSA P-256, as Let's Encrypt's E-series are.
 */

export const POISON_OID = '1.3.6.1.4.1.11129.2.4.3';
export const SCT_LIST_OID = '1.3.6.1.4.1.11129.2.4.2';
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const DAY = 86_400_000;

export const toPem = (der: Buffer, label = 'CERTIFICATE') =>
  `-----BEGIN ${label}-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

function keyId(key: KeyObject): Buffer {
  return createHash('sha1').update(spki(key)).digest();
}

function newKey() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

interface TbsFields {
  serial: Buffer;
  issuer: Der;
  subject: Der;
  notBefore: number;
  notAfter: number;
  publicKey: KeyObject;
  extensions: Der[];
}

function tbsCertificate(f: TbsFields): Der {
  return seq(
    explicit(0, uint(2)),
    uint(f.serial),
    ECDSA_SHA256,
    f.issuer,
    seq(time(f.notBefore), time(f.notAfter)),
    f.subject,
    spki(f.publicKey),
    explicit(3, seq(...f.extensions)),
  );
}

function signCert(tbs: Der, key: KeyObject): Der {
  return seq(tbs, ECDSA_SHA256, bits(sign('sha256', tbs, key)));
}

/** TLS SignedCertificateTimestampList (RFC 6962 §3.3) from serialized SCTs. */
export function encodeSctList(scts: Buffer[]): Buffer {
  const body = Buffer.concat(
    scts.map((s) => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(s.length);
      return Buffer.concat([len, s]);
    }),
  );
  const total = Buffer.alloc(2);
  total.writeUInt16BE(body.length);
  return Buffer.concat([total, body]);
}

/** The add-(pre-)chain answer of RFC 6962 §4.1. */
export interface AddChainResponse {
  sct_version: number;
  id: string;
  timestamp: number;
  extensions: string;
  signature: string;
}

/** A serialized SCT (RFC 6962 §3.2) from an add-chain answer. */
export function sctFromResponse(r: AddChainResponse): Buffer {
  const ts = Buffer.alloc(8);
  ts.writeBigUInt64BE(BigInt(r.timestamp));
  const ext = Buffer.from(r.extensions, 'base64');
  const extLen = Buffer.alloc(2);
  extLen.writeUInt16BE(ext.length);
  return Buffer.concat([Buffer.of(r.sct_version), Buffer.from(r.id, 'base64'), ts, extLen, ext, Buffer.from(r.signature, 'base64')]);
}

/** POSTs a chain to a log's add-pre-chain (or add-chain) and returns its answer. */
export async function submitChain(logUrl: string, chain: Buffer[], precert = true): Promise<AddChainResponse> {
  const base = logUrl.endsWith('/') ? logUrl : `${logUrl}/`;
  const res = await fetch(`${base}ct/v1/${precert ? 'add-pre-chain' : 'add-chain'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ chain: chain.map((c) => c.toString('base64')) }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${base} refused the chain: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as AddChainResponse;
}

export interface IssueOptions {
  names: string[];
  /** Default: the CA clock, whole seconds. */
  notBefore?: number;
  /** Default 90 days. */
  lifetimeMs?: number;
  /** Submission URLs of the logs to get SCTs from (each answers add-pre-chain). */
  logs?: string[];
  /** Serialized SCTs to embed as well (from offline signers, for crafted cases). */
  extraScts?: Buffer[];
}

export interface TestCertificate {
  certDer: Buffer;
  certPem: string;
  /** The intermediate, PEM (the chain without the leaf). */
  chainPem: string;
  keyPem: string;
  precertDer: Buffer;
  /** Serialized SCTs in the order they are embedded. */
  scts: Buffer[];
  responses: AddChainResponse[];
}

interface Precert {
  fields: TbsFields;
  /** Extensions before the poison / SCT list (shared by precert and final certificate). */
  der: Buffer;
  key: KeyObject;
}

export class TestCa {
  readonly rootDer: Buffer;
  readonly intermediateDer: Buffer;
  private readonly intermediateKey: KeyObject;
  private readonly intermediatePublic: KeyObject;
  private readonly intermediateName: Der;

  constructor(
    private readonly clock: Clock = systemClock,
    label = 'Homeport Test CA',
  ) {
    const root = newKey();
    const inter = newKey();
    const now = clock.now();
    const rootName = name(`${label} Root`, label);
    this.intermediateName = name(`${label} Intermediate E1`, label);
    const caExtensions = (pathLen: number | null, subject: KeyObject, issuer: KeyObject) => [
      extension('2.5.29.19', true, pathLen === null ? seq(bool(true)) : seq(bool(true), uint(pathLen))),
      extension('2.5.29.15', true, bits(Buffer.of(0x06))), // keyCertSign, cRLSign
      extension('2.5.29.14', false, octets(keyId(subject))),
      extension('2.5.29.35', false, seq(Buffer.concat([Buffer.of(0x80, 20), keyId(issuer)]))),
    ];
    this.rootDer = signCert(
      tbsCertificate({
        serial: randomBytes(16),
        issuer: rootName,
        subject: rootName,
        notBefore: now - 365 * DAY,
        notAfter: now + 20 * 365 * DAY,
        publicKey: root.publicKey,
        extensions: caExtensions(null, root.publicKey, root.publicKey),
      }),
      root.privateKey,
    );
    this.intermediateDer = signCert(
      tbsCertificate({
        serial: randomBytes(16),
        issuer: rootName,
        subject: this.intermediateName,
        notBefore: now - 30 * DAY,
        notAfter: now + 3 * 365 * DAY,
        publicKey: inter.publicKey,
        extensions: caExtensions(0, inter.publicKey, root.publicKey),
      }),
      root.privateKey,
    );
    this.intermediateKey = inter.privateKey;
    this.intermediatePublic = inter.publicKey;
  }

  get rootPem(): string {
    return toPem(this.rootDer);
  }

  get intermediatePem(): string {
    return toPem(this.intermediateDer);
  }

  /** Step 1: the precertificate (poison extension last, critical). */
  precertificate(opts: Pick<IssueOptions, 'names' | 'notBefore' | 'lifetimeMs'>): Precert {
    const key = newKey();
    const notBefore = opts.notBefore ?? Math.floor(this.clock.now() / 1000) * 1000;
    const san = seq(...opts.names.map((n) => tlv(0x82, Buffer.from(n, 'ascii'))));
    const fields: TbsFields = {
      serial: randomBytes(16),
      issuer: this.intermediateName,
      subject: name(opts.names[0]),
      notBefore,
      notAfter: notBefore + (opts.lifetimeMs ?? 90 * DAY) - 1000,
      publicKey: key.publicKey,
      extensions: [
        extension('2.5.29.15', true, bits(Buffer.of(0x80))), // digitalSignature
        extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))),
        extension('2.5.29.19', true, seq()),
        extension('2.5.29.35', false, seq(Buffer.concat([Buffer.of(0x80, 20), keyId(this.intermediatePublic)]))),
        extension('2.5.29.17', false, san),
      ],
    };
    const der = signCert(
      tbsCertificate({ ...fields, extensions: [...fields.extensions, extension(POISON_OID, true, nullValue())] }),
      this.intermediateKey,
    );
    return { fields, der, key: key.privateKey };
  }

  /** Step 3: the final certificate, the SCT list where the poison was (no SCTs: no list, as a private CA issues). */
  finalCertificate(pre: Precert, scts: Buffer[]): Buffer {
    const sctExt = scts.length ? [extension(SCT_LIST_OID, false, octets(encodeSctList(scts)))] : [];
    return signCert(tbsCertificate({ ...pre.fields, extensions: [...pre.fields.extensions, ...sctExt] }), this.intermediateKey);
  }

  /** The whole flow: precertificate, SCTs from each log (step 2, in parallel), final certificate. */
  async issue(opts: IssueOptions): Promise<TestCertificate> {
    const pre = this.precertificate(opts);
    const chain = [pre.der, this.intermediateDer, this.rootDer];
    const responses = await Promise.all((opts.logs ?? []).map((url) => submitChain(url, chain)));
    const scts = [...responses.map(sctFromResponse), ...(opts.extraScts ?? [])];
    const certDer = this.finalCertificate(pre, scts);
    // A CA checks what it signed; so does the test CA (a broken encoder must not hide behind the tests).
    if (!new X509Certificate(certDer).verify(new X509Certificate(this.intermediateDer).publicKey)) {
      throw new Error('test CA produced a certificate its own key does not verify');
    }
    return {
      certDer,
      certPem: toPem(certDer),
      chainPem: this.intermediatePem,
      keyPem: pre.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      precertDer: pre.der,
      scts,
      responses,
    };
  }
}

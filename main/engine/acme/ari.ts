import { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import type { RenewalWindow } from '../certs/types';
import { parseRetryAfter } from './problems';
import type { AcmeDirectory, CaConnection } from './transport';

/**
 * ACME Renewal Information (RFC 9773), which acme-client does not speak: the certificate's
 * ARI identifier, and the CA's suggested renewal window (an unauthenticated GET).
 */

const AKI_OID = '2.5.29.35';

function sequence(node: asn1js.AsnType | undefined): asn1js.AsnType[] {
  const value = (node as asn1js.Sequence | undefined)?.valueBlock?.value;
  if (!Array.isArray(value)) throw new Error('unexpected certificate structure');
  return value;
}

function der(bytes: ArrayBuffer | Uint8Array): asn1js.AsnType {
  const { result, offset } = asn1js.fromBER(bytes);
  if (offset === -1) throw new Error('damaged DER');
  return result;
}

/** RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial number DER contents). */
export function ariCertId(certPem: string): string {
  const raw = new X509Certificate(certPem).raw;
  const tbs = sequence(sequence(der(raw))[0]);
  // The version is an explicit [0] before the serial when present (v3 certificates).
  const hasVersion = tbs[0].idBlock.tagClass === 3 && tbs[0].idBlock.tagNumber === 0;
  const serial = tbs[hasVersion ? 1 : 0] as asn1js.Integer;
  const extensions = tbs.find((n) => n.idBlock.tagClass === 3 && n.idBlock.tagNumber === 3);
  const aki = extensions
    ? sequence(sequence(extensions)[0]).find((ext) => (sequence(ext)[0] as asn1js.ObjectIdentifier).valueBlock.toString() === AKI_OID)
    : undefined;
  if (!aki) throw new Error('the certificate has no Authority Key Identifier, so it has no ARI certID');
  const akiValue = sequence(aki).at(-1) as asn1js.OctetString;
  const keyId = sequence(der(akiValue.valueBlock.valueHexView)).find((n) => n.idBlock.tagClass === 3 && n.idBlock.tagNumber === 0) as asn1js.Primitive | undefined;
  if (!keyId) throw new Error('the Authority Key Identifier has no keyIdentifier');
  return `${Buffer.from(keyId.valueBlock.valueHexView).toString('base64url')}.${Buffer.from(serial.valueBlock.valueHexView).toString('base64url')}`;
}

export interface RenewalInfoResponse {
  window?: { start: string; end: string };
  explanationURL?: string;
  /** Retry-After of the response, ms since epoch. */
  retryAfter?: number;
}

/** RFC 9773 §4.2: GET <renewalInfo>/<certID>; undefined when the CA has no ARI or no answer. */
export async function fetchRenewalInfo(conn: CaConnection, directory: AcmeDirectory, certId: string): Promise<RenewalInfoResponse | undefined> {
  if (!directory.renewalInfo) return undefined;
  const res = await conn.get(`${directory.renewalInfo.replace(/\/$/, '')}/${certId}`);
  if (res.status !== 200) return undefined;
  let json: { suggestedWindow?: { start: string; end: string }; explanationURL?: string } | undefined;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
  return {
    window: json?.suggestedWindow,
    explanationURL: json?.explanationURL,
    retryAfter: parseRetryAfter(res.headers['retry-after'], Date.now()),
  };
}

/** Turns a renewalInfo response into a RenewalWindow (undefined if it makes no sense). */
export function toRenewalWindow(info: RenewalInfoResponse | undefined): RenewalWindow | undefined {
  if (!info?.window) return undefined;
  const start = Date.parse(info.window.start);
  const end = Date.parse(info.window.end);
  if (Number.isNaN(start) || Number.isNaN(end)) return undefined;
  return { start, end, retryAfter: info.retryAfter, explanationUrl: info.explanationURL };
}

import { X509Certificate, createHash } from 'node:crypto';
import { HomeportError } from '../errors';

/** Small helpers over PEM text and node:crypto's X509Certificate. */
export function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((b) => b + '\n') ?? [];
}

export interface CertFacts {
  serial: string;
  subject: string;
  issuer: string;
  names: string[];
  notBefore: number;
  notAfter: number;
  sha256: string;
}

export function certFacts(certPem: string): CertFacts {
  let x: X509Certificate;
  try {
    x = new X509Certificate(certPem);
  } catch (e) {
    throw new HomeportError('certs.bad-certificate', 'The certificate is not a valid X.509 certificate.', { cause: e });
  }
  const names = (x.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:') || s.startsWith('IP Address:'))
    .map((s) => s.replace(/^DNS:|^IP Address:/, ''));
  return {
    serial: x.serialNumber.toUpperCase(),
    subject: x.subject,
    issuer: x.issuer,
    names,
    notBefore: Date.parse(x.validFrom),
    notAfter: Date.parse(x.validTo),
    sha256: createHash('sha256').update(x.raw).digest('hex'),
  };
}

/** The issuer's common name, or its whole DN when it has none ("Pebble Intermediate CA 1a2b3c"). */
export function issuerName(issuerDn: string): string {
  return /^CN=(.*)$/m.exec(issuerDn)?.[1] ?? issuerDn.replace(/\n/g, ', ');
}

import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';

/**
 * Whether browsers require CT for a certificate at all: only for publicly trusted ones. A
 * certificate from a private CA (Pebble, step-ca, a home root) is "CT not required". Public
 * means the chain ends at (or under) one of the roots Node ships (tls.rootCertificates, the
 * Mozilla store), the closest thing to the browsers' stores available offline.
 */
export type ApplicabilityOverride = 'public' | 'private';

export interface Applicability {
  applicable: boolean;
  reason: string;
}

let roots: X509Certificate[] | undefined;
function publicRoots(): X509Certificate[] {
  roots ??= rootCertificates.map((pem) => new X509Certificate(pem));
  return roots;
}

function anchoredInRoot(cert: X509Certificate, roots: X509Certificate[]): X509Certificate | undefined {
  for (const root of roots) {
    if (root.fingerprint256 === cert.fingerprint256) return root;
    if (cert.issuer === root.subject && cert.checkIssued(root) && cert.verify(root.publicKey)) return root;
  }
  return undefined;
}

/**
 * `chain` is the leaf's issuers in order (intermediates, optionally the root); `roots` is the
 * public store (Node's unless a test supplies its own).
 */
export function decideApplicability(
  leafDer: Uint8Array,
  chain: Uint8Array[],
  override?: ApplicabilityOverride,
  roots: X509Certificate[] = publicRoots(),
): Applicability {
  if (override === 'public') return { applicable: true, reason: 'Treated as publicly trusted (--public): browsers require CT.' };
  if (override === 'private') return { applicable: false, reason: 'Treated as private (--private): CT not required.' };
  const certs = [leafDer, ...chain].map((d) => new X509Certificate(Buffer.from(d)));
  // Walk up while each certificate is really signed by the next one; the top is the anchor candidate.
  let top = certs[0];
  for (let i = 1; i < certs.length && top.checkIssued(certs[i]) && top.verify(certs[i].publicKey); i++) top = certs[i];
  const root = anchoredInRoot(top, roots);
  if (root) {
    return {
      applicable: true,
      reason: `Publicly trusted (chains to ${rootName(root)}): browsers require CT.`,
    };
  }
  if (chain.length === 0) {
    return {
      applicable: false,
      reason: 'CT not required as far as Homeport can tell: no issuer was given and the issuer is not a public root. Pass the chain or --public to be sure.',
    };
  }
  return { applicable: false, reason: `CT not required: private CA (the chain ends at ${rootName(top)}, which no public root vouches for).` };
}

function rootName(c: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(c.subject)?.[1];
  const o = /(?:^|\n)O=([^\n]+)/.exec(c.subject)?.[1];
  return `"${cn ?? o ?? c.subject.replace(/\n/g, ', ')}"`;
}

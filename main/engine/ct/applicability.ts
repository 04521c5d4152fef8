import { X509Certificate, createHash } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { ParsedCert, bytesOf, certificatesFromFile, parseCertificate } from './x509';

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

/** A root store indexed by subject Name bytes, with each anchor's verdict cached by fingerprint. */
export interface RootIndex {
  bySubject: Map<string, Uint8Array[]>;
  fingerprints: Set<string>;
  /** Verdicts by chain top fingerprint: the chain tops (intermediates) are few, the leaves many. */
  verdicts: Map<string, Applicability>;
}

const VERDICT_CACHE_MAX = 1024;

export function rootIndex(roots: Uint8Array[]): RootIndex {
  const index: RootIndex = { bySubject: new Map(), fingerprints: new Set(), verdicts: new Map() };
  for (const der of roots) {
    const c = parseCertificate(der);
    const key = Buffer.from(bytesOf(c, c.subject)).toString('latin1');
    index.bySubject.set(key, [...(index.bySubject.get(key) ?? []), der]);
    index.fingerprints.add(fingerprint(der));
  }
  return index;
}

let nodeRoots: RootIndex | undefined;
function publicRoots(): RootIndex {
  nodeRoots ??= rootIndex(rootCertificates.flatMap((pem) => certificatesFromFile(pem)));
  return nodeRoots;
}

const fingerprint = (der: Uint8Array) => createHash('sha256').update(der).digest('hex');
const nameKey = (c: ParsedCert, which: 'issuer' | 'subject') => Buffer.from(bytesOf(c, c[which])).toString('latin1');

/** The root that issued (or is) `top`, its signature checked. */
function anchorOf(top: ParsedCert, topX: X509Certificate, roots: RootIndex): X509Certificate | null {
  if (roots.fingerprints.has(fingerprint(top.der))) return topX;
  for (const der of roots.bySubject.get(nameKey(top, 'issuer')) ?? []) {
    const root = new X509Certificate(Buffer.from(der));
    if (topX.checkIssued(root) && topX.verify(root.publicKey)) return root;
  }
  return null;
}

/**
 * `chain` is the leaf's issuers in order (intermediates, optionally the root); `roots` is the
 * public store (Node's unless a test supplies its own). The chain is followed by names; the
 * link to the root is a checked signature. A leaf that only claims a public issuer is then
 * judged by CT rules and fails them, as it would in a browser.
 */
export function decideApplicability(
  leafDer: Uint8Array,
  chain: Uint8Array[],
  override?: ApplicabilityOverride,
  roots: RootIndex = publicRoots(),
): Applicability {
  if (override === 'public') return { applicable: true, reason: 'Treated as publicly trusted (--public): browsers require CT.' };
  if (override === 'private') return { applicable: false, reason: 'Treated as private (--private): CT not required.' };
  let top = parseCertificate(leafDer);
  for (const der of chain) {
    const next = parseCertificate(der);
    if (nameKey(top, 'issuer') !== nameKey(next, 'subject')) break;
    top = next;
  }
  const key = `${fingerprint(top.der)}${chain.length === 0 ? ':leaf-only' : ''}`;
  let verdict = roots.verdicts.get(key);
  if (!verdict) {
    verdict = judge(top, chain.length === 0, roots);
    if (roots.verdicts.size >= VERDICT_CACHE_MAX) roots.verdicts.clear();
    roots.verdicts.set(key, verdict);
  }
  return verdict;
}

function judge(top: ParsedCert, leafOnly: boolean, roots: RootIndex): Applicability {
  const topX = new X509Certificate(Buffer.from(top.der));
  const root = anchorOf(top, topX, roots);
  if (root) return { applicable: true, reason: `Publicly trusted (chains to ${rootName(root)}): browsers require CT.` };
  if (leafOnly) {
    return {
      applicable: false,
      reason: 'CT not required as far as Homeport can tell: no issuer was given and the issuer is not a public root. Pass the chain or --public to be sure.',
    };
  }
  return {
    applicable: false,
    reason: `CT not required: private CA (the chain ends at ${rootName(topX)}, which no public root vouches for).`,
  };
}

function rootName(c: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(c.subject)?.[1];
  const o = /(?:^|\n)O=([^\n]+)/.exec(c.subject)?.[1];
  return `"${cn ?? o ?? c.subject.replace(/\n/g, ', ')}"`;
}

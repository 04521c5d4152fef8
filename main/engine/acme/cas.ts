import { HomeportError } from '../errors';

/** What Homeport knows about a CA before asking it. */
export interface CaPreset {
  id: string;
  displayName: string;
  directoryUrl: string;
  /** The CAA `issue` values that allow this CA. */
  caaIdentities: string[];
  /** External Account Binding is required to create an account. */
  eabRequired: boolean;
  /** The CA issues certificates for IP addresses. */
  issuesForIp: boolean;
  /** Where EAB credentials come from, for the error message when they are missing. */
  eabHint?: string;
}

export const CA_PRESETS: Record<string, CaPreset> = {
  letsencrypt: {
    id: 'letsencrypt',
    displayName: "Let's Encrypt",
    directoryUrl: 'https://acme-v02.api.letsencrypt.org/directory',
    caaIdentities: ['letsencrypt.org'],
    eabRequired: false,
    issuesForIp: true,
  },
  'letsencrypt-staging': {
    id: 'letsencrypt-staging',
    displayName: "Let's Encrypt (staging)",
    directoryUrl: 'https://acme-staging-v02.api.letsencrypt.org/directory',
    caaIdentities: ['letsencrypt.org'],
    eabRequired: false,
    issuesForIp: true,
  },
  zerossl: {
    id: 'zerossl',
    displayName: 'ZeroSSL',
    directoryUrl: 'https://acme.zerossl.com/v2/DV90',
    caaIdentities: ['sectigo.com'],
    eabRequired: true,
    issuesForIp: false,
    eabHint: 'In the ZeroSSL dashboard: Developer → EAB Credentials for ACME Clients → Generate.',
  },
  google: {
    id: 'google',
    displayName: 'Google Trust Services',
    directoryUrl: 'https://dv.acme-v02.api.pki.goog/directory',
    caaIdentities: ['pki.goog'],
    eabRequired: true,
    issuesForIp: false,
    eabHint: 'Run `gcloud publicca external-account-keys create` in a Google Cloud project with the Public CA API enabled.',
  },
  buypass: {
    id: 'buypass',
    displayName: 'Buypass Go SSL',
    directoryUrl: 'https://api.buypass.com/acme/directory',
    caaIdentities: ['buypass.com'],
    eabRequired: false,
    issuesForIp: false,
  },
};

/** A CA as the user configures it: a preset name or a directory URL, plus optional trust and EAB. */
export interface CaSpec {
  ca: string;
  /** PEM file trusted for this CA's directory only (step-ca, Pebble). */
  caRoot?: string;
  eab?: { kid: string; hmacKey: string };
}

export interface ResolvedCa extends CaPreset {
  /** True for a named preset; false for a directory URL the user gave. */
  preset: boolean;
  caRoot?: string;
  eab?: { kid: string; hmacKey: string };
}

/**
 * A preset or an https directory URL, resolved. A URL equal to a preset's directory is
 * that preset, so both spellings share one account.
 */
export function resolveCa(spec: CaSpec): ResolvedCa {
  const preset = CA_PRESETS[spec.ca] ?? Object.values(CA_PRESETS).find((p) => p.directoryUrl === spec.ca);
  if (preset) return { ...preset, preset: true, caRoot: spec.caRoot, eab: spec.eab };
  let url: URL;
  try {
    url = new URL(spec.ca);
  } catch {
    throw new HomeportError('config.unknown-ca', `"${spec.ca}" is neither a known CA nor a URL.`, {
      fix: `Use one of ${Object.keys(CA_PRESETS).join(', ')} or the https URL of an ACME directory.`,
    });
  }
  if (url.protocol !== 'https:') {
    throw new HomeportError('config.unknown-ca', `The CA directory ${spec.ca} is not an https URL.`, {
      fix: 'ACME directories are served over https: give the https:// URL.',
    });
  }
  return {
    id: caIdFromUrl(url),
    // Named by where it is: "the CA at 127.0.0.1:14000" reads as a CA where a name belongs.
    displayName: `the CA at ${url.host}`,
    directoryUrl: url.href,
    caaIdentities: [],
    eabRequired: false,
    issuesForIp: true,
    preset: false,
    caRoot: spec.caRoot,
    eab: spec.eab,
  };
}

/** A CA's display name at the start of a sentence ("The CA at 127.0.0.1:14000 …"). */
export function capitalized(displayName: string): string {
  return displayName.charAt(0).toUpperCase() + displayName.slice(1);
}

/** A folder-safe, stable id for a directory URL: host, port and path. */
function caIdFromUrl(url: URL): string {
  return `${url.hostname}${url.port ? `_${url.port}` : ''}${url.pathname}`
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

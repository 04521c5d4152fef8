import { domainToASCII } from 'node:url';
import { isIP } from 'node:net';
import { HomeportError } from '../errors';

/**
 * Names as a CA wants them: lower-case ASCII (IDNs as punycode), no trailing dot, a
 * wildcard only as the whole leftmost label. IP addresses pass through (some CAs issue for them).
 */
export function normalizeName(input: string): string {
  const raw = input.trim().replace(/\.$/, '');
  const invalid = (why: string, fix = 'Give a full domain name such as home.example.com.') =>
    new HomeportError('config.invalid-name', `"${input}" is not a valid certificate name: ${why}.`, { fix });
  if (!raw) throw invalid('it is empty');
  if (isIP(raw)) return raw.toLowerCase();
  const wildcard = raw.startsWith('*.');
  const rest = wildcard ? raw.slice(2) : raw;
  if (rest.includes('*')) {
    throw invalid('a wildcard may only be the whole first label', 'Write it as *.example.com.');
  }
  if (/[\s/:@?#]/.test(rest)) throw invalid('it contains a space, "/", ":", "@", "?" or "#"', 'Give only the host name, without scheme, port or path.');
  if (/^[0-9]+$/.test(rest.split('.').pop() ?? '')) {
    throw invalid('its last label is a number, and it is not a valid IP address', 'Give a domain name, or a valid IPv4/IPv6 address.');
  }
  const ascii = domainToASCII(rest);
  if (!ascii) throw invalid('it cannot be converted to an ASCII (punycode) domain name');
  const labels = ascii.split('.');
  if (labels.length < 2) throw invalid('it has only one label (CAs issue only for names under a public domain)');
  if (ascii.length > 253) throw invalid('it is longer than 253 characters');
  for (const label of labels) {
    if (!label) throw invalid('it has an empty label (two dots in a row)');
    if (label.length > 63) throw invalid(`the label "${label}" is longer than 63 characters`);
    if (!/^[a-z0-9-]+$/.test(label)) throw invalid(`the label "${label}" may only hold letters, digits and "-"`);
    if (label.startsWith('-') || label.endsWith('-')) throw invalid(`the label "${label}" starts or ends with "-"`);
  }
  return wildcard ? `*.${ascii}` : ascii;
}

/** Normalised, de-duplicated, order kept (the first name is the subject). */
export function normalizeNames(inputs: string[]): string[] {
  if (inputs.length === 0) {
    throw new HomeportError('config.no-names', 'No name was given for the certificate.', {
      fix: 'Name at least one domain, e.g. home.example.com.',
    });
  }
  return [...new Set(inputs.map(normalizeName))];
}

export function isWildcard(name: string): boolean {
  return name.startsWith('*.');
}

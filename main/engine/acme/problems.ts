import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { HomeportError } from '../errors';
import type { ChallengeType } from '../certs/types';
import { aaaaNotThisHost, caaForbids, dnsServfail, nameDoesNotExist } from '../preflight/wording';
import { capitalized } from './cas';

/** An RFC 7807 problem document as ACME servers send it (RFC 8555 §6.7). */
export interface AcmeProblem {
  type?: string;
  detail?: string;
  status?: number;
  identifier?: { type: string; value: string };
  subproblems?: AcmeProblem[];
}

/** Where and how a failed validation happened, for the diagnosis. */
export interface ProblemContext {
  /** Name of the CA for messages ("Let's Encrypt", a URL). */
  ca: string;
  identifier?: string;
  challenge?: ChallengeType;
  /** validationRecord[].addressUsed of the failed challenge: the IP the CA actually reached. */
  addressUsed?: string;
  /** The port the CA connected to, from the validation record's URL or the challenge type. */
  port?: number;
  /** Retry-After of the failing response, ms since epoch. */
  retryAfter?: number;
  /** CAA identities this CA looks for (e.g. letsencrypt.org). */
  caaIdentities?: string[];
}

const PREFIX = 'urn:ietf:params:acme:error:';

/**
 * Every problem a CA reports, typed: the ACME problem type, the identifier, the address the
 * CA used, Retry-After, and a diagnosis in plain words with the fix.
 */
export class AcmeProblemError extends HomeportError {
  override readonly name = 'AcmeProblemError';
  readonly problemType: string;
  readonly identifier?: string;
  readonly addressUsed?: string;
  readonly retryAfter?: number;
  readonly challenge?: ChallengeType;

  constructor(
    readonly problem: AcmeProblem,
    ctx: ProblemContext,
  ) {
    const type = problem.type ?? `${PREFIX}serverInternal`;
    const short = type.startsWith(PREFIX) ? type.slice(PREFIX.length) : 'problem';
    const identifier = ctx.identifier ?? problem.identifier?.value;
    const { message, fix } = diagnose(short, problem, { ...ctx, identifier });
    super(`acme.${short}`, message, {
      fix,
      details: {
        problemType: type,
        detail: problem.detail,
        identifier,
        addressUsed: ctx.addressUsed,
        challenge: ctx.challenge,
        retryAfter: ctx.retryAfter === undefined ? undefined : new Date(ctx.retryAfter).toISOString(),
        ca: ctx.ca,
      },
    });
    this.problemType = type;
    this.identifier = identifier;
    this.addressUsed = ctx.addressUsed;
    this.retryAfter = ctx.retryAfter;
    this.challenge = ctx.challenge;
  }

  /** The ACME type without the urn prefix: `connection`, `rateLimited`, … */
  get shortType(): string {
    return this.problemType.startsWith(PREFIX) ? this.problemType.slice(PREFIX.length) : this.problemType;
  }
}

function challengePort(ctx: ProblemContext): number | undefined {
  if (ctx.port) return ctx.port;
  if (ctx.challenge === 'http-01') return 80;
  if (ctx.challenge === 'tls-alpn-01') return 443;
  return undefined;
}

function diagnose(short: string, p: AcmeProblem, ctx: ProblemContext): { message: string; fix?: string } {
  const name = ctx.identifier ? `"${ctx.identifier}"` : 'the name';
  const detail = p.detail ? ` (CA said: ${p.detail.replace(/\s+/g, ' ').trim()})` : '';
  const addr = ctx.addressUsed;
  const v6 = addr !== undefined && isIP(addr) === 6;
  const port = challengePort(ctx);
  const d = (p.detail ?? '').toLowerCase();
  const when = ctx.retryAfter ? ` after ${new Date(ctx.retryAfter).toISOString()}` : ' later';
  switch (short) {
    case 'connection':
    case 'tls': {
      const how = /refused/.test(d) ? 'refused the connection' : /timeout|timed out|deadline/.test(d) ? 'did not answer in time' : short === 'tls' ? 'failed the TLS handshake' : 'did not answer';
      if (v6) {
        const reached = `The CA reached ${addr} over IPv6 for ${name}, which ${how}${port ? ` on port ${port}` : ''}${detail}.`;
        const own = hostIpv6();
        if (ctx.identifier && !own.some((a) => sameIpv6(a, addr))) {
          // The same sentence pre-flight uses when it finds this AAAA record beforehand.
          const f = aaaaNotThisHost(ctx.identifier, addr, ctx.ca, own);
          return { message: `${reached} ${f.summary}`, fix: f.fix };
        }
        return {
          message: reached,
          fix: `Open port ${port ?? 'the challenge port'} for IPv6 on this machine's firewall and the router, or remove the AAAA record of ${ctx.identifier ?? 'the name'}: the CA prefers IPv6 when it exists.`,
        };
      }
      return {
        message: `The CA reached ${addr ?? ctx.identifier ?? 'this machine'}${port ? ` on port ${port}` : ''} for ${name}, which ${how}${detail}.`,
        fix: port
          ? `Make sure port ${port} is open and forwarded to this machine and Homeport's listener runs there${ctx.challenge === 'http-01' ? ', or use another challenge (--challenge tls-alpn-01 or dns-01)' : ''}; check that the A record points to your public address.`
          : 'Check that the name points to this machine and the port is forwarded.',
      };
    }
    case 'unauthorized':
    case 'incorrectResponse':
      if (ctx.challenge === 'dns-01') {
        return {
          message: `The CA did not find the expected TXT record at _acme-challenge.${(ctx.identifier ?? '').replace(/^\*\./, '')}${detail}.`,
          fix: 'Check the DNS provider settings and that the zone is served by the provider you configured; the CA reads the authoritative servers.',
        };
      }
      return {
        message: `The CA got a wrong answer for ${name}${addr ? ` from ${addr}` : ''}${port ? ` on port ${port}` : ''}: another server answered instead of Homeport${detail}.`,
        fix: 'Point the name\'s A/AAAA records at this machine and forward the port to it (not to another server or router page).',
      };
    case 'dns': {
      const bare = (ctx.identifier ?? '').replace(/^\*\./, '');
      if (bare && /nxdomain|no such host|does not exist/.test(d)) {
        const f = nameDoesNotExist(bare);
        return { message: `${f.summary.replace(/\.$/, '')}${detail}.`, fix: f.fix };
      }
      if (bare && /servfail/.test(d)) {
        const f = dnsServfail(bare, "the CA's resolver");
        return { message: `${f.summary}${detail ? ` ${detail.trim()}` : ''}`, fix: f.fix };
      }
      return {
        message: `The CA could not look up ${name} in DNS${detail}.`,
        fix: 'Check that the domain\'s name servers answer (a DNS checker or `dig`), then try again.',
      };
    }
    case 'caa': {
      const identity = ctx.caaIdentities?.[0];
      const bare = (ctx.identifier ?? '').replace(/^\*\./, '');
      // Boulder names the record's owner: "CAA record for example.com prevents issuance".
      const owner = /CAA record for (\S+?)\.? prevents/i.exec(p.detail ?? '')?.[1] ?? bare;
      return {
        message: `A CAA record of ${name} does not allow ${ctx.ca} to issue${detail}.`,
        fix: identity && owner
          ? caaForbids(ctx.identifier ?? owner, ctx.ca, owner, [], identity, Boolean(ctx.identifier?.startsWith('*.'))).fix
          : 'Add a CAA record that allows this CA, or use a CA your CAA records allow.',
      };
    }
    case 'rateLimited':
      return {
        message: `${capitalized(ctx.ca)} refused: a rate limit was reached${detail}.`,
        fix: `Wait and try again${when} (Homeport will not retry sooner); for tests use a staging CA, or add a fallback CA.`,
      };
    case 'rejectedIdentifier':
    case 'unsupportedIdentifier':
      return {
        message: `${capitalized(ctx.ca)} will not issue for ${name}${detail}.`,
        fix: 'Use a name this CA accepts (public domains, no internal names), or another CA.',
      };
    case 'externalAccountRequired':
      return {
        message: `${capitalized(ctx.ca)} requires External Account Binding${detail}.`,
        fix: 'Create EAB credentials in the CA\'s dashboard and pass --eab-kid and --eab-hmac-key.',
      };
    case 'userActionRequired':
      return {
        message: `${capitalized(ctx.ca)} needs you to act (usually new terms of service)${detail}.`,
        fix: 'Read the CA\'s new terms and accept them (--accept-tos), then try again.',
      };
    case 'accountDoesNotExist':
      return {
        message: `${capitalized(ctx.ca)} does not know this account${detail}.`,
        fix: 'Remove the account folder for this CA under <data>/accounts/ so Homeport creates a new one.',
      };
    case 'unauthorizedAccount':
    case 'badSignatureAlgorithm':
    case 'badPublicKey':
      return { message: `${capitalized(ctx.ca)} refused the account key${detail}.`, fix: 'Remove the account folder for this CA under <data>/accounts/ so Homeport creates a new one.' };
    case 'badCSR':
      return { message: `${capitalized(ctx.ca)} refused the certificate request${detail}.`, fix: 'Try another key type (ECDSA P-256, the default, is accepted everywhere).' };
    case 'serverInternal':
      return { message: `${capitalized(ctx.ca)} had an internal error${detail}.`, fix: `Try again${when}; if it persists the CA is down: add a fallback CA.` };
    case 'compound':
      return {
        message: `${capitalized(ctx.ca)} refused several names: ${(p.subproblems ?? []).map((s) => `${s.identifier?.value ?? '?'}: ${s.detail ?? s.type}`).join('; ')}.`,
        fix: 'Fix each name listed, or issue them separately.',
      };
    default:
      return { message: `${capitalized(ctx.ca)} reported a problem (${short})${detail}.`, fix: 'Try again; if it persists, check the CA\'s status page.' };
  }
}

/**
 * The address and port a CA connected to, read from its problem detail when it sends no
 * validationRecord (Pebble: "dial tcp 127.0.0.1:5002: connect: connection refused";
 * Boulder: "2001:db8::1: Fetching http://…: Connection refused").
 */
export function addressFromDetail(detail: string | undefined): { address?: string; port?: number } {
  if (!detail) return {};
  const dial = /dial tcp (?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d+)/.exec(detail);
  if (dial) return { address: dial[1] ?? dial[2], port: Number(dial[3]) };
  const lead = /^\s*([0-9a-fA-F:.]+): /.exec(detail);
  if (lead && isIP(lead[1])) return { address: lead[1] };
  return {};
}

/** Parses a Retry-After header (seconds or HTTP date) into ms since epoch. */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return now + Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Whether another CA should be tried: the CA is unreachable, down or rate-limiting, or its
 * policy (CAA, rejected name) excludes it. Validation failures are not: another CA would
 * reach the same broken port or DNS record.
 */
/**
 * Homeport's own rate-limit ledger says the CA would refuse this order: it is not sent,
 * so the attempt is not burnt (and the next CA, if any, is asked instead).
 */
export class RateLimitReachedError extends HomeportError {
  override readonly name = 'RateLimitReachedError';

  constructor(
    ca: string,
    findings: string[],
    /** When the order can go out, ms since epoch. */
    readonly retryAfter?: number,
  ) {
    const when = retryAfter === undefined ? undefined : new Date(retryAfter).toISOString();
    super('acme.rate-limit-reached', `Homeport did not ask ${ca}: the order would exceed its rate limit. ${findings.join(' ')}`, {
      fix: `Wait${when ? ` until ${when}` : ''} (Homeport tries again by itself then); for tests use a staging CA, or add a fallback CA.`,
      details: { ca, retryAfter: when, findings },
    });
  }
}

/** This machine's global IPv6 addresses (where no NAT hides the public address). */
function hostIpv6(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i && i.family === 'IPv6' && !i.internal && !/^(fe[89ab]|f[cd])/i.test(i.address))
    .map((i) => i!.address);
}

function sameIpv6(a: string, b: string): boolean {
  const norm = (x: string) => new URL(`http://[${x}]/`).hostname;
  try {
    return norm(a) === norm(b);
  } catch {
    return a === b;
  }
}

export function isCaSpecificFailure(e: unknown): boolean {
  if (!(e instanceof HomeportError)) return false;
  if (e instanceof AcmeProblemError) {
    return ['rateLimited', 'serverInternal', 'caa', 'rejectedIdentifier', 'unsupportedIdentifier', 'badNonce'].includes(e.shortType)
      || (e.problem.status !== undefined && e.problem.status >= 500);
  }
  return ['acme.unreachable', 'acme.directory-untrusted', 'acme.not-a-directory', 'acme.bad-response', 'acme.ip-not-supported', 'acme.rate-limit-reached'].includes(e.code);
}

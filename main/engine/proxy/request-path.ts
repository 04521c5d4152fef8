/**
 * Upstreams normalise a path before they serve it: they decode escapes and resolve dot-segments,
 * and many also merge slashes, read `\` as `/`, drop `;params` or ignore case. A route chosen by
 * the raw target would let `/x/../admin`, `/%61dmin` or `/Admin` past the allow-list or password
 * of a route for `/admin`, to a route without them, and the upstream would serve /admin anyway.
 */

export interface RoutingTarget {
  /** What goes upstream: the path as an equivalent URI (RFC 3986 §6.2.2, §5.2.4), the query as sent. */
  forward: string;
  /**
   * What route prefixes are compared with: the path as the most lenient upstream reads it,
   * lower-case. A path with nothing else to normalise keeps its query here (a prefix ends at
   * `/` or `?`).
   */
  key: string;
}

const UNRESERVED = /^[A-Za-z0-9._~-]$/;

/**
 * The target of a request, or undefined (a 400) for a path with a malformed escape, %00 (C
 * upstreams end the path there), `#` (URL parsers end it there; clients never send one), bytes
 * that are not UTF-8 (overlong forms of `/`), or a dot-segment that only some upstreams see
 * (`..%2F`, `..\`, `..;x`): where that lands depends on the upstream, so no route can be said
 * to cover it. A target that is not a path (an HTTP/2 CONNECT's authority) is left to the handler.
 */
export function routingTarget(url: string): RoutingTarget | undefined {
  if (url.charCodeAt(0) !== 47 /* / */) return { forward: url, key: url };
  if (plain(url)) return { forward: url, key: url.toLowerCase() };
  const q = url.indexOf('?');
  const raw = q < 0 ? url : url.slice(0, q);
  if (/%(?![0-9A-Fa-f]{2})|%00|#/.test(raw)) return undefined;
  const path = removeDotSegments(raw.replace(/%[0-9A-Fa-f]{2}/g, normaliseEscape));
  const key = lenientKey(path);
  return key === undefined ? undefined : { forward: q < 0 ? path : path + url.slice(q), key };
}

/**
 * A route's path prefix as routing compares it, `/` for none: two routes of a host with the
 * same key would take the same requests.
 */
export function prefixKey(pathPrefix: string | undefined): string {
  return (pathPrefix && routingTarget(pathPrefix)?.key) || '/';
}

/**
 * `forward` without a route's `prefix` (as a key), for a route that strips it; undefined when
 * no leading run of its segments reads as the prefix, as when only an encoded slash made the
 * key match (`/grafana%2Fx`): what to strip is then anyone's guess.
 */
export function stripPrefix(forward: string, prefix: string): string | undefined {
  const q = forward.indexOf('?');
  const end = q < 0 ? forward.length : q;
  for (let at = forward.indexOf('/', 1); ; at = forward.indexOf('/', at + 1)) {
    if (at < 0 || at > end) at = end;
    if (routingTarget(forward.slice(0, at))?.key === prefix) {
      const rest = forward.slice(at);
      return rest === '' || rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
    }
    if (at === end) return undefined;
  }
}

/** Nothing to normalise but case: a quick scan, as most paths are like that. */
function plain(url: string): boolean {
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 63 /* ? */) return true;
    if (c === 37 /* % */ || c === 59 /* ; */ || c === 92 /* \ */ || c === 35 /* # */) return false;
    if (c === 47 /* / */ && (url.charCodeAt(i + 1) === 47 || url.charCodeAt(i + 1) === 46 /* . */)) return false;
  }
  return true;
}

function normaliseEscape(escape: string): string {
  const c = String.fromCharCode(parseInt(escape.slice(1), 16));
  return UNRESERVED.test(c) ? c : escape.toUpperCase();
}

/** RFC 3986 §5.2.4 for an absolute path: `..` stops at the root, a trailing `.` or `..` leaves a `/`. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s !== '.' && s !== '..') out.push(s);
    else {
      if (s === '..') out.pop();
      if (i === segments.length - 1) out.push('');
    }
  }
  return `/${out.join('/')}`;
}

/**
 * Escapes decoded (%2F and %5C included), `\` as `/`, `;params` dropped from each segment (as
 * Tomcat and Jetty do), empty segments merged, lower-case. `path` has no dot-segments left, so
 * one that appears here was hidden from RFC 3986: undefined.
 */
function lenientKey(path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  const segments: string[] = [];
  for (const s of decoded.split(/[/\\]/)) {
    const semi = s.indexOf(';');
    const name = semi < 0 ? s : s.slice(0, semi);
    if (name === '.' || name === '..') return undefined;
    if (name) segments.push(name);
  }
  return `/${segments.join('/')}`.toLowerCase();
}

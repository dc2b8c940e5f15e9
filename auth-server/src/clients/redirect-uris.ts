import { UserInputError } from '../errors.js';

const loopbackHosts = new Set(['127.0.0.1', '[::1]']);
/** RFC 8252 §7.1: a private-use scheme is a reverse domain name (at least one dot). */
const privateSchemePattern = /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+$/;

/**
 * Why a redirect URI cannot be registered, or undefined if it can. Allowed (RFC 9700 §2.1,
 * §4.1.3; RFC 8252 §7): https URLs, http on the loopback IP literals (any port, RFC 8252 §7.3;
 * not `localhost`, §8.3), and private-use schemes for native apps. Never a fragment (RFC 6749
 * §3.1.2), user info or a wildcard: redirect URIs are compared as exact strings.
 */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length > 2000) return 'too long';
  if (uri.includes('*')) return 'wildcards are not allowed';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'not an absolute URI';
  }
  if (url.hash !== '' || uri.includes('#')) return 'must not have a fragment';
  if (url.username !== '' || url.password !== '') return 'must not have user info';
  const scheme = url.protocol.slice(0, -1);
  if (scheme === 'https') return url.hostname === '' ? 'has no host' : undefined;
  if (scheme === 'http')
    return loopbackHosts.has(url.hostname)
      ? undefined
      : 'http only on 127.0.0.1 or [::1] (RFC 8252 §7.3); use https';
  if (['javascript', 'data', 'file', 'vbscript', 'blob', 'about', 'ws', 'wss', 'ftp'].includes(scheme))
    return `the ${scheme} scheme is not allowed`;
  return privateSchemePattern.test(scheme)
    ? undefined
    : 'a private-use scheme must be a reverse domain name, like com.example.app (RFC 8252 §7.1)';
}

/** An http loopback IP-literal URI, split around its optional port (RFC 8252 §7.3). */
const loopbackPattern = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::\d{1,5})?([/?].*)?$/;

/**
 * Whether a redirect URI from an authorization request is one of the client's registered ones:
 * the same string (RFC 9700 §2.1: no normalisation, no prefix, no wildcard), except that for an
 * http loopback IP literal the port may differ (RFC 8252 §7.3, RFC 9700 §4.1.3: a native app
 * listens on whatever port the OS gives it); everything else is still compared as a string.
 */
export function isRegisteredRedirectUri(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const loopback = loopbackPattern.exec(requested);
  if (loopback === null) return false;
  const [, host, rest = ''] = loopback;
  return registered.some((uri) => {
    const match = loopbackPattern.exec(uri);
    return match !== null && match[1] === host && (match[2] ?? '') === rest;
  });
}

/** A comma- or space-separated list of redirect URIs, each checked; `flag` names it in errors. */
export function parseRedirectUris(text: string, flag: string): string[] {
  const uris = [...new Set(text.split(/[\s,]+/).filter((uri) => uri !== ''))];
  for (const uri of uris) {
    const problem = redirectUriProblem(uri);
    if (problem !== undefined) throw new UserInputError(`${flag}: ${uri}: ${problem}`);
  }
  return uris;
}

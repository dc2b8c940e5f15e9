import type { Request } from 'express';

/**
 * What a request presents as a bearer token:
 * - `none`: no `Authorization: Bearer` header (another scheme, or no header at all);
 * - `malformed`: the Bearer scheme with a credential that is not one b64token;
 * - `token`: exactly one well-formed bearer token.
 */
export type PresentedBearer =
  { kind: 'none' } | { kind: 'malformed'; reason: string } | { kind: 'token'; token: string };

/** RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`, b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
const bearerCredentials = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
const schemeOnly = /^(\S+)/;

/**
 * Reads the bearer token from the `Authorization` header only. Tokens in the query string
 * (RFC 6750 §2.3) or a form body (§2.2) are never accepted: URLs end up in logs and
 * histories (RFC 9700 §2.4 forbids query tokens).
 */
export function readBearerToken(req: Request): PresentedBearer {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || header === '') return { kind: 'none' };
  const scheme = schemeOnly.exec(header)?.[1];
  // RFC 9110 §11.1: the auth scheme is case-insensitive.
  if (scheme?.toLowerCase() !== 'bearer') return { kind: 'none' };
  const match = bearerCredentials.exec(header);
  if (match?.[1] === undefined) return { kind: 'malformed', reason: 'malformed Authorization header' };
  return { kind: 'token', token: match[1] };
}

/** passport-jwt's `jwtFromRequest`: the header token or null, nothing else. */
export function fromBearerHeader(req: Request): string | null {
  const presented = readBearerToken(req);
  return presented.kind === 'token' ? presented.token : null;
}

/** True if the request also carries `access_token` in the query or a parsed body (RFC 6750 §2: one method only). */
export function hasTokenOutsideHeader(req: Request): boolean {
  // Express 5 parses the query string on every read of req.query: read it once.
  const query: unknown = req.query;
  const inQuery = isRecord(query) && 'access_token' in query;
  const body: unknown = req.body;
  return inQuery || (isRecord(body) && 'access_token' in body);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

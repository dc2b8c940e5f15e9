import { verify, type KeyObject } from 'node:crypto';
import type { Request } from 'express';
import { Strategy, type VerifiedCallback } from 'passport-jwt';
import { systemClock, type Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { JwksKeyProvider } from '../jwks/key-provider.js';
import { maxClockToleranceSeconds } from '../revocation/feed-document.js';
import { fromBearerHeader } from './bearer.js';

/** The claims of a verified Tessera access token (RFC 9068 §2.2). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  jti: string;
  client_id: string;
  /** Space-separated scope values (RFC 9068 §2.2.3, RFC 6749 §3.3). */
  scope?: string;
  nbf?: number;
  [claim: string]: unknown;
}

declare global {
  // passport's own typings put the authenticated principal on Express.User; we fill it in.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface User {
      /** The token's `sub`: a user id, or the client id for client_credentials tokens. */
      id: string;
      /** The OAuth client the token was issued to (`client_id`). */
      clientId: string;
      /** The granted scope values, split from the `scope` claim. */
      scope: string[];
      /**
       * The delegation chain of an exchanged token (RFC 8693 §4.1 `act`): the client ids that
       * acted for `id`, the current actor (= `clientId`) first; empty for a token not exchanged.
       */
      actors: string[];
      /** Every verified claim, as signed. */
      claims: AccessTokenClaims;
    }
  }
}

/** The principal `createRequireToken` puts on `req.user`. */
export type AuthenticatedUser = Express.User;

/** Options for {@link createJwtStrategy}. */
export interface JwtStrategyOptions {
  /** Where verification keys come from. */
  keys: JwksKeyProvider;
  /** The exact `iss` to require (the auth server's issuer identifier, RFC 8414 §2). */
  issuer: string;
  /**
   * This service's own resource identifier (RFC 8707), the one `aud` value it answers to (RFC 9068
   * §4, RFC 8725 §3.9); a token for another service is refused. Required: no "any audience".
   */
  audience: string;
  /** Time source for `exp`/`nbf`/`iat` checks; defaults to the system clock. */
  clock?: Clock;
  /** Allowed clock skew in seconds (default 30, RFC 8725 §3.10 / RFC 7519 §4.1.4 "small leeway"). */
  clockToleranceSeconds?: number;
}

/**
 * Header parameters that point at, or carry, key material. Trusting them would let the token
 * choose its own verification key, so their mere presence rejects the token and they are never
 * fetched (RFC 8725 §3.10, RFC 7515 §4.1.2–4.1.8).
 */
const keyReferenceHeaders = ['jwk', 'jku', 'x5u', 'x5c', 'x5t', 'x5t#S256'] as const;

/** RFC 9068 §4: `typ` must be `at+jwt` or `application/at+jwt`, compared case-insensitively (RFC 7515 §4.1.9). */
const accessTokenTypes = new Set(['at+jwt', 'application/at+jwt']);

/**
 * The longest token the verifier reads. Ours are well under 1 KB; the cap stops a hostile
 * multi-kilobyte token before any base64 or JSON work (JWS sets no size limit, so the
 * application must). Node itself refuses request headers over 16 KB with 431.
 */
export const maxAccessTokenLength = 8192;

/**
 * RFC 7515 §7.1 compact serialization: three unpadded base64url segments (RFC 7515 §2). An empty
 * signature passes here so that an unsecured token is refused for its `alg`, the clearer reason.
 */
const compactJws = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** RFC 7515 §2 base64url: a segment of length 4n + 1 cannot be the encoding of any octets. */
const isDecodableLength = (length: number) => length % 4 !== 1;

/** Header and claims must be UTF-8 JSON (RFC 7515 §5.2 step 3, RFC 7519 §7.2 step 10); no lossy decoding. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** RS256 keys shorter than this are refused (RFC 7518 §3.3: "a key of size 2048 bits or larger MUST be used"). */
const minimumModulusBits = 2048;

function invalid(description: string): AppError {
  return new AppError('invalid_token', description);
}

/** Decodes one base64url JSON segment; undefined unless it is a JSON object. */
function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A token whose protected header passed {@link checkHeader}, cut into its parts. */
interface ParsedToken {
  kid: string;
  /** `BASE64URL(header) '.' BASE64URL(payload)`, what the signature covers (RFC 7515 §5.2 step 8). */
  signingInput: string;
  payload: string;
  signature: string;
}

/** Checks one protected header (RFC 8725 §3.1, §3.10, §3.11); returns its kid or the reason to reject. */
function checkProtectedHeader(encodedHeader: string): string | AppError {
  const header = decodeJsonObject(encodedHeader);
  if (header === undefined) return invalid('token malformed');
  // RFC 8725 §3.1 / §2.1: pin the algorithm; this also rejects "none" in any casing.
  if (header.alg !== 'RS256') return invalid('algorithm not accepted');
  // RFC 9068 §4 / RFC 8725 §3.11: explicit typing keeps other JWTs (ID tokens, ...) out.
  if (typeof header.typ !== 'string' || !accessTokenTypes.has(header.typ.toLowerCase())) {
    return invalid('token type not accepted');
  }
  // RFC 7515 §4.1.11: a recipient that does not understand a listed extension must reject; we understand none.
  if ('crit' in header) return invalid('critical header parameter not understood');
  if (keyReferenceHeaders.some((name) => name in header)) {
    return invalid('embedded key references are not accepted');
  }
  if (typeof header.kid !== 'string' || header.kid === '') return invalid('key id missing');
  return header.kid;
}

/**
 * Accepted protected headers, by their encoded form, with their kid. An issuer sends one header per
 * signing key, so nearly every token's header is a hit and skips its base64 and JSON decoding; the
 * header is a pure function of those bytes. Bounded: when full, it starts again empty.
 */
const maxRememberedHeaders = 32;

/** Checks the compact form and the protected header before any key lookup; returns the parts or the reason to reject. */
function checkHeader(rawJwt: string, acceptedHeaders: Map<string, string>): ParsedToken | AppError {
  if (rawJwt.length > maxAccessTokenLength) return invalid('token too large');
  if (!compactJws.test(rawJwt)) return invalid('token malformed');
  const firstDot = rawJwt.indexOf('.');
  const secondDot = rawJwt.indexOf('.', firstDot + 1);
  const encodedHeader = rawJwt.slice(0, firstDot);
  const payload = rawJwt.slice(firstDot + 1, secondDot);
  const signature = rawJwt.slice(secondDot + 1);
  if (![encodedHeader, payload, signature].every((part) => isDecodableLength(part.length)))
    return invalid('token malformed');
  let kid = acceptedHeaders.get(encodedHeader);
  if (kid === undefined) {
    const checked = checkProtectedHeader(encodedHeader);
    if (checked instanceof AppError) return checked;
    if (acceptedHeaders.size >= maxRememberedHeaders) acceptedHeaders.clear();
    acceptedHeaders.set(encodedHeader, checked);
    kid = checked;
  }
  return { kid, signingInput: rawJwt.slice(0, secondDot), payload, signature };
}

/** RFC 7515 §5.2 step 8: the RS256 signature over the signing input, with the key the kid names. */
function hasValidSignature(token: ParsedToken, key: KeyObject): boolean {
  return verify(
    'sha256',
    Buffer.from(token.signingInput, 'latin1'),
    key,
    Buffer.from(token.signature, 'base64url'),
  );
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** What the claims are checked against. */
interface ClaimRules {
  issuer: string;
  audience: string;
  nowSeconds: number;
  toleranceSeconds: number;
}

/**
 * The RFC 7519 §4.1 / RFC 9068 §2.2 and §4 claim checks, in one place; returns the principal or
 * the reason to reject. Times compare as RFC 7519 §4.1.4–4.1.6 say, with the leeway on each side.
 */
function toUser(claims: Record<string, unknown>, rules: ClaimRules): Express.User | AppError {
  const { nowSeconds, toleranceSeconds } = rules;
  // RFC 9068 §2.2 makes exp and iat required; RFC 7519 §2 NumericDate is a JSON number.
  if (typeof claims.exp !== 'number') return invalid('token has no expiry');
  if (claims.nbf !== undefined && typeof claims.nbf !== 'number') return invalid('token malformed');
  if (typeof claims.nbf === 'number' && claims.nbf > nowSeconds + toleranceSeconds)
    return invalid('token not yet valid');
  if (claims.exp <= nowSeconds - toleranceSeconds) return invalid('token expired');
  // RFC 9068 §4: the resource server must check that the token was meant for it.
  if (!isAudience(claims.aud, rules.audience)) return invalid('audience not accepted');
  // RFC 9068 §4 / RFC 8725 §3.8: the issuer must match exactly.
  if (claims.iss !== rules.issuer) return invalid('issuer not accepted');
  if (typeof claims.iat !== 'number') return invalid('token has no issue time');
  if (claims.iat > nowSeconds + toleranceSeconds) return invalid('token issued in the future');
  if (!isNonEmptyString(claims.sub)) return invalid('token has no subject');
  if (!isNonEmptyString(claims.client_id)) return invalid('token has no client_id');
  if (!isNonEmptyString(claims.jti)) return invalid('token has no jti');
  if (claims.scope !== undefined && typeof claims.scope !== 'string') return invalid('token scope malformed');
  const scope =
    typeof claims.scope === 'string' ? claims.scope.split(' ').filter((value) => value !== '') : [];
  const actors = readActors(claims.act);
  if (actors === undefined) return invalid('token act malformed');
  return { id: claims.sub, clientId: claims.client_id, scope, actors, claims: claims as AccessTokenClaims };
}

/** The longest `act` chain read; ours are bounded far below this by the auth server. */
const maxActors = 16;

/** RFC 8693 §4.1: `act` is an object with a `sub` and, nested, the earlier actor. Undefined if malformed. */
function readActors(act: unknown): string[] | undefined {
  const actors: string[] = [];
  let current = act;
  while (current !== undefined) {
    if (typeof current !== 'object' || current === null || actors.length >= maxActors) return undefined;
    const { sub, act: next } = current as { sub?: unknown; act?: unknown };
    if (!isNonEmptyString(sub)) return undefined;
    actors.push(sub);
    current = next;
  }
  return actors;
}

/** RFC 7519 §4.1.3: `aud` is one string or an array of them; ours must be among them. */
function isAudience(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}

/**
 * Verifies one access token completely (RFC 8725 §3.1–3.11, RFC 9068 §4): header, key, RS256
 * signature, claims. Resolves to the principal, or to the `AppError` that says why not.
 */
export type AccessTokenVerifier = (token: string) => Promise<Express.User | AppError>;

/**
 * Creates the verifier the strategy runs (exported for tests that compare it with other
 * implementations): the protected header is checked before any key lookup (`alg: RS256`,
 * `typ: at+jwt`, a `kid`, no `crit`, no key references), the key comes only from the JWKS
 * provider, the signature is checked with `crypto.verify` and the provider's KeyObject, then
 * `exp` (required), `nbf`, `aud`, `iss`, `iat` (required), `sub`, `client_id` and `jti`.
 */
export function createAccessTokenVerifier(options: JwtStrategyOptions): AccessTokenVerifier {
  const { keys, issuer, audience } = options;
  const clock = options.clock ?? systemClock;
  const toleranceSeconds = options.clockToleranceSeconds ?? 30;
  if (
    !Number.isFinite(toleranceSeconds) ||
    toleranceSeconds < 0 ||
    toleranceSeconds > maxClockToleranceSeconds
  ) {
    throw new TypeError(
      `createJwtStrategy: clockToleranceSeconds must be between 0 and ${maxClockToleranceSeconds}`,
    );
  }
  // One audience, always: there is deliberately no way to accept any audience (RFC 8725 §3.9),
  // so a token meant for another service can never pass here.
  if (typeof issuer !== 'string' || issuer === '' || typeof audience !== 'string' || audience === '')
    throw new TypeError(
      "createJwtStrategy: issuer and audience (this service's resource identifier) are required",
    );
  /** Keys checked once for their size, so the check costs nothing per request. */
  const strongKeys = new WeakSet<KeyObject>();
  const acceptedHeaders = new Map<string, string>();

  return async (token) => {
    const parsed = checkHeader(token, acceptedHeaders);
    if (parsed instanceof AppError) return parsed;
    // No usable key set (never loaded, or past its stale window): the token may well be valid,
    // we cannot tell. 503 + Retry-After (RFC 9110 §15.6.4) rather than a 401 that would make
    // clients throw away good tokens.
    const { loaded, usable } = keys.status();
    if (!usable) {
      return new AppError(
        'temporarily_unavailable',
        loaded ? 'signing keys are out of date' : 'signing keys not available yet',
        { headers: { 'Retry-After': '5' } },
      );
    }
    let key: KeyObject | undefined;
    try {
      key = await keys.getKey(parsed.kid);
    } catch (error) {
      return new AppError('invalid_token', 'unknown key', { cause: error });
    }
    if (key === undefined) return invalid('unknown key');
    if (!strongKeys.has(key)) {
      if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < minimumModulusBits)
        return invalid('key not accepted');
      strongKeys.add(key);
    }
    if (!hasValidSignature(parsed, key)) return invalid('signature invalid');
    // Only now is the payload read (RFC 7515 §5.2: the signature first).
    const claims = decodeJsonObject(parsed.payload);
    if (claims === undefined) return invalid('token malformed');
    return toUser(claims, {
      issuer,
      audience,
      nowSeconds: Math.floor(clock.now() / 1000),
      toleranceSeconds,
    });
  };
}

/**
 * passport-jwt's Strategy with its verification step done by {@link createAccessTokenVerifier}.
 *
 * passport-jwt 4.0.1 has no per-strategy verifier option: its `authenticate` calls the
 * process-wide `JwtStrategy.JwtVerifier` (jsonwebtoken), which its source says to replace only
 * in tests, and replacing it would change every passport-jwt strategy in the process. So this
 * subclass runs passport-jwt's own `authenticate` flow (the token from the request, verify,
 * then `success` or `fail` with the reason) with this strategy's verifier, which checks the
 * signature with the KeyObject the key provider already holds and every claim in one pass.
 */
class AccessTokenStrategy extends Strategy {
  // A plain property, not a #private field: passport runs each request on Object.create(strategy).
  private readonly verifyToken: AccessTokenVerifier;

  constructor(verifyToken: AccessTokenVerifier) {
    // passport-jwt's constructor requires a key source and a verify callback; `authenticate`
    // below replaces the jsonwebtoken step that would call them, so they are never reached.
    super(
      {
        jwtFromRequest: fromBearerHeader,
        secretOrKeyProvider: (_req: Request, _token: unknown, done: (err: unknown) => void) =>
          done(new Error('AccessTokenStrategy verifies in authenticate')),
      },
      (_payload: unknown, done: VerifiedCallback) => done(null, false),
    );
    this.verifyToken = verifyToken;
  }

  override authenticate(req: Request): void {
    const token = fromBearerHeader(req);
    if (token === null) {
      this.fail(new AppError('unauthorized', 'a bearer token is required'), 401);
      return;
    }
    this.verifyToken(token).then(
      (result) => {
        // Every rejection is a failure carrying its AppError, never an error: a bad token is never a 500.
        if (result instanceof AppError) this.fail(result, result.status);
        else this.success(result);
      },
      (error: unknown) => this.error(error instanceof Error ? error : new Error(String(error))),
    );
  }
}

/**
 * Creates the passport-jwt strategy every Tessera resource server uses (register it under
 * `'jwt'` and guard routes with {@link createRequireToken}).
 *
 * Verification: only the `Authorization: Bearer` header is read; the header must say
 * `alg: RS256`, `typ: at+jwt`, carry a `kid`, and have no `crit` or key-reference parameters;
 * the key comes only from the JWKS provider; the signature, `exp` (required), `nbf`, `aud`,
 * `iss`, `iat` (required), `sub`, `client_id` and `jti` are then checked (see
 * {@link createAccessTokenVerifier}). Every rejection reaches passport as a failure carrying an
 * `AppError` (`invalid_token`, or `temporarily_unavailable` when the provider holds no usable
 * key set: never loaded, or past its stale window), never as an error, so a bad token can
 * never become a 500.
 *
 * @example
 * const auth = new passport.Passport();
 * auth.use('jwt', createJwtStrategy({ keys, issuer: config.issuer, audience: config.audience }));
 */
export function createJwtStrategy(options: JwtStrategyOptions): Strategy {
  return new AccessTokenStrategy(createAccessTokenVerifier(options));
}

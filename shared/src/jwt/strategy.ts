import type { KeyObject } from 'node:crypto';
import type { Request } from 'express';
import { decodeProtectedHeader, type ProtectedHeaderParameters } from 'jose';
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
  /** The `aud` value this service answers to (RFC 9068 §4: the resource server must validate it). */
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

function invalid(description: string): AppError {
  return new AppError('invalid_token', description);
}

/** Checks the protected header before any key lookup; returns the kid or the reason to reject. */
function checkHeader(rawJwt: string): { kid: string } | { error: AppError } {
  if (rawJwt.length > maxAccessTokenLength) return { error: invalid('token too large') };
  if (rawJwt.split('.').length !== 3) return { error: invalid('token malformed') };
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(rawJwt);
  } catch {
    return { error: invalid('token malformed') };
  }
  // RFC 8725 §3.1 / §2.1: pin the algorithm; this also rejects "none" in any casing.
  if (header.alg !== 'RS256') return { error: invalid('algorithm not accepted') };
  // RFC 9068 §4 / RFC 8725 §3.11: explicit typing keeps other JWTs (ID tokens, ...) out.
  if (typeof header.typ !== 'string' || !accessTokenTypes.has(header.typ.toLowerCase())) {
    return { error: invalid('token type not accepted') };
  }
  // RFC 7515 §4.1.11: a recipient that does not understand a listed extension must reject; we understand none.
  if ('crit' in header) return { error: invalid('critical header parameter not understood') };
  if (keyReferenceHeaders.some((name) => name in header)) {
    return { error: invalid('embedded key references are not accepted') };
  }
  if (typeof header.kid !== 'string' || header.kid === '') return { error: invalid('key id missing') };
  return { kid: header.kid };
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}

/** The RFC 9068 §2.2 claim checks passport-jwt leaves out; returns the principal or a reason. */
function toUser(payload: unknown, nowSeconds: number, toleranceSeconds: number): Express.User | AppError {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    return invalid('token malformed');
  const claims = payload as Record<string, unknown>;
  // jsonwebtoken only checks exp when present; RFC 9068 §2.2 makes it required.
  if (typeof claims.exp !== 'number') return invalid('token has no expiry');
  if (claims.exp + toleranceSeconds <= nowSeconds) return invalid('token expired');
  if (typeof claims.iat !== 'number') return invalid('token has no issue time');
  if (claims.iat > nowSeconds + toleranceSeconds) return invalid('token issued in the future');
  if (!isNonEmptyString(claims.sub)) return invalid('token has no subject');
  if (!isNonEmptyString(claims.client_id)) return invalid('token has no client_id');
  if (!isNonEmptyString(claims.jti)) return invalid('token has no jti');
  if (claims.scope !== undefined && typeof claims.scope !== 'string') return invalid('token scope malformed');
  const scope =
    typeof claims.scope === 'string' ? claims.scope.split(' ').filter((value) => value !== '') : [];
  return { id: claims.sub, clientId: claims.client_id, scope, claims: claims as AccessTokenClaims };
}

/**
 * Creates the passport-jwt strategy every Tessera resource server uses (register it under
 * `'jwt'` and guard routes with {@link createRequireToken}).
 *
 * Verification: only the `Authorization: Bearer` header is read; the header must say
 * `alg: RS256`, `typ: at+jwt`, carry a `kid`, and have no `crit` or key-reference parameters;
 * the key comes only from the JWKS provider; the signature, `iss`, `aud`, `exp` (required),
 * `nbf`, `iat`, `sub`, `client_id` and `jti` are then checked. Every rejection reaches passport
 * as a failure carrying an `AppError` (`invalid_token`, or `temporarily_unavailable` when the
 * provider holds no usable key set: never loaded, or past its stale window), never as an error, so a bad token can never become a 500.
 *
 * @example
 * const auth = new passport.Passport();
 * auth.use('jwt', createJwtStrategy({ keys, issuer: config.issuer, audience: config.audience }));
 */
export function createJwtStrategy(options: JwtStrategyOptions): Strategy {
  const { keys, issuer, audience } = options;
  const clock = options.clock ?? systemClock;
  const clockTolerance = options.clockToleranceSeconds ?? 30;
  // Revocation-feed entries outlive their tokens by the largest tolerance; never allow more.
  if (!Number.isFinite(clockTolerance) || clockTolerance < 0 || clockTolerance > maxClockToleranceSeconds) {
    throw new TypeError(
      `createJwtStrategy: clockToleranceSeconds must be between 0 and ${maxClockToleranceSeconds}`,
    );
  }
  if (issuer === '' || audience === '')
    throw new TypeError('createJwtStrategy: issuer and audience are required');
  const nowSeconds = () => Math.floor(clock.now() / 1000);

  const strategy = new Strategy(
    {
      jwtFromRequest: fromBearerHeader,
      secretOrKeyProvider(
        _req: Request,
        rawJwt: unknown,
        done: (err: unknown, key?: string | Buffer) => void,
      ) {
        const checked =
          typeof rawJwt === 'string' ? checkHeader(rawJwt) : { error: invalid('token malformed') };
        if ('error' in checked) {
          done(checked.error);
          return;
        }
        // No usable key set (never loaded, or past its stale window): the token may well be valid,
        // we cannot tell. 503 + Retry-After (RFC 9110 §15.6.4) rather than a 401 that would make
        // clients throw away good tokens.
        const { loaded, usable } = keys.status();
        if (!usable) {
          done(
            new AppError(
              'temporarily_unavailable',
              loaded ? 'signing keys are out of date' : 'signing keys not available yet',
              { headers: { 'Retry-After': '5' } },
            ),
          );
          return;
        }
        // passport-jwt ignores promises (TOOLCHAIN.md §5): settle through done, exactly once.
        keys.getKey(checked.kid).then(
          (key: KeyObject | undefined) => {
            if (key === undefined) done(invalid('unknown key'));
            // jsonwebtoken 9 verifies with a KeyObject as is (no re-parsing per request);
            // @types/passport-jwt only knows string | Buffer.
            else done(null, key as unknown as string);
          },
          (error: unknown) => done(new AppError('invalid_token', 'unknown key', { cause: error })),
        );
      },
      algorithms: ['RS256'],
      issuer,
      audience,
      ignoreExpiration: false,
      // passport-jwt forwards only these extra jsonwebtoken options this way.
      jsonWebTokenOptions: { clockTolerance },
    },
    (payload: unknown, done: VerifiedCallback) => {
      const user = toUser(payload, nowSeconds(), clockTolerance);
      if (user instanceof AppError) done(null, false, user);
      else done(null, user);
    },
  );

  // jsonwebtoken reads `clockTimestamp` from its options on every verify (it copies them first),
  // and passport-jwt builds those options once in its constructor. A getter there makes the
  // exp/nbf checks follow the injected clock. Checked here so a passport-jwt upgrade that
  // renames the field fails at start-up, not silently.
  const verifyOptions = (strategy as unknown as { _verifOpts?: unknown })._verifOpts;
  if (typeof verifyOptions !== 'object' || verifyOptions === null) {
    throw new Error(
      'createJwtStrategy: passport-jwt internals changed (_verifOpts); check the pinned version',
    );
  }
  Object.defineProperty(verifyOptions, 'clockTimestamp', { enumerable: true, get: nowSeconds });
  return strategy;
}

import type { RequestHandler } from 'express';
import type { Authenticator } from 'passport';
import { AppError } from '../errors.js';
import { hasTokenOutsideHeader, readBearerToken } from './bearer.js';
import type { AccessTokenClaims } from './strategy.js';
import type { VerifiedTokenCache } from './verified-token-cache.js';

/** The part of a passport instance (`new passport.Passport()`) that {@link createRequireToken} uses. */
export type PassportAuthenticator = Pick<Authenticator, 'authenticate'>;

/**
 * Maps what passport reports for a failed authentication to the RFC 6750 §3.1 answer: the
 * strategy's own `AppError`s pass through; anything else is `invalid_token`, without its message.
 */
function toAuthError(info: unknown): AppError {
  if (info instanceof AppError) return info;
  return new AppError('invalid_token', 'token invalid', info instanceof Error ? { cause: info } : {});
}

/** Options for {@link createRequireToken}. */
export interface RequireTokenOptions {
  /**
   * Skips the signature check for a token the strategy already verified (see
   * {@link createVerifiedTokenCache}); the strategy fills it, nothing else does.
   */
  cache?: VerifiedTokenCache;
  /**
   * Runs for every authenticated request, whether the principal came from the strategy or the
   * cache; `true` answers 401 `invalid_token` ("token revoked"). An `AppError` it throws is the
   * answer (a revocation feed that fails closed throws `temporarily_unavailable`).
   */
  isRevoked?: (claims: AccessTokenClaims) => boolean | Promise<boolean>;
}

/** An error from a check or the strategy: its own AppError verdict, or else an internal fault. */
function asFault(error: unknown): AppError {
  return error instanceof AppError ? error : new AppError('server_error', 'internal error', { cause: error });
}

/**
 * Creates the middleware that guards a route with the JWT strategy registered on `passport`
 * (see {@link createJwtStrategy}) and sets `req.user`. Outcomes, per RFC 6750 §3.1:
 *
 * - no bearer token in the `Authorization` header → 401 `unauthorized` (a bare Bearer challenge,
 *   no error code); a token only in the query string counts as none;
 * - the Bearer scheme with a malformed credential, or a token also in the query/body → 400
 *   `invalid_request` with a Bearer challenge carrying `error="invalid_request"`;
 * - any invalid token → 401 `invalid_token` with a short reason;
 * - no usable key set (never loaded, or past its stale window), or no usable revocation list →
 *   503 `temporarily_unavailable` with `Retry-After`.
 *
 * @param passport an authenticator instance (`new passport.Passport()`), not necessarily the global one
 * @param strategyName the name the strategy was registered under
 * @param options a verified-token cache and a revocation check
 */
export function createRequireToken(
  passport: PassportAuthenticator,
  strategyName = 'jwt',
  options: RequireTokenOptions = {},
): RequestHandler {
  const { cache, isRevoked } = options;
  return (req, res, next) => {
    const presented = readBearerToken(req);
    if (presented.kind === 'none') {
      next(new AppError('unauthorized', 'a bearer token is required'));
      return;
    }
    if (presented.kind === 'malformed') {
      next(new AppError('invalid_request', presented.reason, { challenge: 'Bearer' }));
      return;
    }
    if (hasTokenOutsideHeader(req)) {
      next(
        new AppError('invalid_request', 'the access token must be sent in exactly one way', {
          challenge: 'Bearer',
        }),
      );
      return;
    }
    const token = presented.token;
    const accept = (user: Express.User) => {
      if (isRevoked === undefined) {
        req.user = user;
        next();
        return;
      }
      const settle = (revoked: boolean) => {
        if (revoked) {
          cache?.forget(token);
          next(new AppError('invalid_token', 'token revoked'));
          return;
        }
        req.user = user;
        next();
      };
      // An AppError is the check's own verdict (503 while no revocation list is usable).
      const fail = (error: unknown) => next(asFault(error));
      // A synchronous answer (the revocation feed's) is acted on at once, without a promise and a
      // turn of the microtask queue per request; a check that throws (the feed failing closed) is
      // caught like a rejection.
      let revoked: boolean | Promise<boolean>;
      try {
        revoked = isRevoked(user.claims);
      } catch (error) {
        fail(error);
        return;
      }
      if (typeof revoked === 'boolean') settle(revoked);
      else revoked.then(settle, fail);
    };
    // Made only when the strategy runs: a cached token never needs passport's per-request middleware.
    const authenticate = () => {
      const middleware = passport.authenticate(
        strategyName,
        { session: false },
        (error: unknown, user: Express.User | false | undefined, info: unknown) => {
          // The strategy reports bad tokens as failures; an error here is a genuine fault.
          if (error !== null && error !== undefined) {
            next(asFault(error));
            return;
          }
          if (user === false || user === undefined) {
            next(toAuthError(info));
            return;
          }
          // Only what the strategy accepted is cached; a failure to cache is no failure to authenticate.
          cache?.remember(token, user).catch(() => undefined);
          accept(user);
        },
      ) as RequestHandler; // @types/passport types authenticate() as returning any
      void middleware(req, res, next);
    };
    if (cache === undefined) {
      authenticate();
      return;
    }
    cache.lookup(token).then(
      (user) => {
        if (user === undefined) authenticate();
        else accept(user);
      },
      () => authenticate(),
    );
  };
}

/**
 * Requires every listed scope on the authenticated token (use after `createRequireToken`).
 * A missing one answers 403 `insufficient_scope` with the needed `scope` in the challenge
 * (RFC 6750 §3.1).
 */
export function requireScope(...scopes: string[]): RequestHandler {
  if (scopes.length === 0 || scopes.some((scope) => !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope))) {
    // RFC 6749 §3.3 scope-token syntax.
    throw new TypeError('requireScope: pass one or more scope values (no spaces or quotes)');
  }
  return (req, _res, next) => {
    if (req.user === undefined) {
      next(new AppError('server_error', 'requireScope used without createRequireToken'));
      return;
    }
    const granted = new Set(req.user.scope);
    const missing = scopes.filter((scope) => !granted.has(scope));
    if (missing.length > 0) {
      next(
        new AppError('insufficient_scope', `the token lacks scope ${missing.join(' ')}`, {
          scope: scopes.join(' '),
        }),
      );
      return;
    }
    next();
  };
}

/**
 * Requires that the authenticated token was (`delegated: true`) or was not (`false`) obtained by
 * token exchange, that is, carries an RFC 8693 `act` chain (use after `createRequireToken`): a
 * route for services acting for a user through another service, or for direct callers only. The
 * wrong kind is 403 `insufficient_scope` (RFC 6750 §3.1: the token lacks the privilege, and
 * presenting it again will not help).
 */
export function requireDelegation(delegated: boolean): RequestHandler {
  return (req, _res, next) => {
    if (req.user === undefined) {
      next(new AppError('server_error', 'requireDelegation used without createRequireToken'));
      return;
    }
    if (req.user.actors.length > 0 !== delegated) {
      next(
        new AppError(
          'insufficient_scope',
          delegated
            ? 'this route needs a token obtained by token exchange'
            : 'this route does not accept exchanged tokens',
        ),
      );
      return;
    }
    next();
  };
}

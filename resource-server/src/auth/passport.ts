import {
  createJwtStrategy,
  createRequireToken,
  createVerifiedTokenCache,
  type Clock,
  type JwksKeyProvider,
  type RevocationFeed,
} from '@tessera/shared';
import type { RequestHandler } from 'express';
import passport from 'passport';

export { requireScope } from '@tessera/shared';

export interface AuthOptions {
  keys: JwksKeyProvider;
  issuer: string;
  audience: string;
  clock?: Clock;
  clockToleranceSeconds?: number | undefined;
  revocations?: RevocationFeed;
}

/**
 * This app's own passport instance (never the global singleton, so two apps in one process —
 * as in tests — cannot share strategies) with the shared JWT strategy registered as `jwt`.
 * Returns the middleware that guards routes, with its verified-token cache.
 */
export function createAuth(options: AuthOptions): { requireToken: RequestHandler } {
  const authenticator = new passport.Passport();
  const { revocations, ...strategyOptions } = options;
  authenticator.use('jwt', createJwtStrategy(strategyOptions));
  // A token presented again skips the RSA verification while it and its key are valid;
  // revocations are checked on every request, cached or not.
  const cache = createVerifiedTokenCache(options);
  return {
    requireToken: createRequireToken(authenticator, 'jwt', {
      cache,
      ...(revocations === undefined ? {} : { isRevoked: (claims) => revocations.isRevoked(claims) }),
    }),
  };
}

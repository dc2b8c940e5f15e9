import type { RequestHandler } from 'express';
import passport from 'passport';
import type { Clock } from '../clock.js';
import type { JwksKeyProvider } from '../jwks/key-provider.js';
import { createRequireToken } from '../jwt/require-token.js';
import { createJwtStrategy } from '../jwt/strategy.js';
import { createVerifiedTokenCache } from '../jwt/verified-token-cache.js';
import type { RevocationFeed } from '../revocation/revocation-feed.js';

export interface TokenGuardOptions {
  keys: JwksKeyProvider;
  issuer: string;
  audience: string;
  clock?: Clock;
  clockToleranceSeconds?: number | undefined;
  revocations?: RevocationFeed | undefined;
}

/**
 * The middleware that guards a service's routes: its own passport instance (never the global
 * singleton, so two apps in one process — as in tests — cannot share strategies) with the shared
 * JWT strategy, and a verified-token cache: a token presented again skips the RSA verification
 * while it and its key are valid; revocations are checked on every request, cached or not.
 */
export function createTokenGuard(options: TokenGuardOptions): RequestHandler {
  const authenticator = new passport.Passport();
  const { revocations, ...strategyOptions } = options;
  authenticator.use('jwt', createJwtStrategy(strategyOptions));
  return createRequireToken(authenticator, 'jwt', {
    cache: createVerifiedTokenCache(options),
    ...(revocations === undefined ? {} : { isRevoked: (claims) => revocations.isRevoked(claims) }),
  });
}

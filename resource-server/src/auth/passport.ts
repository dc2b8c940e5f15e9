import {
  createJwtStrategy,
  createRequireToken,
  createVerifiedTokenCache,
  type Clock,
  type JwksKeyProvider,
} from '@tessera/shared';
import type { RequestHandler } from 'express';
import passport from 'passport';

export { requireScope } from '@tessera/shared';

export interface AuthOptions {
  keys: JwksKeyProvider;
  issuer: string;
  audience: string;
  clock?: Clock;
}

/**
 * This app's own passport instance (never the global singleton, so two apps in one process —
 * as in tests — cannot share strategies) with the shared JWT strategy registered as `jwt`.
 * Returns the middleware that guards routes, with its verified-token cache.
 */
export function createAuth({ keys, issuer, audience, clock }: AuthOptions): { requireToken: RequestHandler } {
  const authenticator = new passport.Passport();
  authenticator.use(
    'jwt',
    createJwtStrategy({ keys, issuer, audience, ...(clock === undefined ? {} : { clock }) }),
  );
  // A token presented again skips the RSA verification while it and its key are valid (issue #7).
  const cache = createVerifiedTokenCache({ keys, ...(clock === undefined ? {} : { clock }) });
  return { requireToken: createRequireToken(authenticator, 'jwt', { cache }) };
}

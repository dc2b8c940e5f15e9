import { Router } from 'express';
import { methodNotAllowed, sendCacheable } from '@tessera/shared';
import { revocationFeedMaxAgeSeconds, type RevocationService } from '../tokens/revocations.js';

/**
 * GET /oauth/revocations: what resource servers must refuse although it verifies (revoked
 * access tokens, families, disabled users, deleted clients). Public like the JWKS: it holds
 * only random ids and is what lets revocation reach servers that never call us per request.
 */
export function createRevocationFeedRouter(deps: { revocations: RevocationService }): Router {
  const router = Router();
  router.get('/oauth/revocations', async (req, res) => {
    sendCacheable(req, res, {
      ...(await deps.revocations.feed()),
      contentType: 'application/json',
      cacheControl: `public, max-age=${revocationFeedMaxAgeSeconds}`,
    });
  });
  router.all('/oauth/revocations', methodNotAllowed(['GET', 'HEAD']));
  return router;
}

import type { JwksKeyProvider, RevocationFeed } from '@tessera/shared';
import { Router } from 'express';

/**
 * Liveness (the process answers) and readiness (DESIGN.md: the JWKS was loaded at least once,
 * so tokens can be verified). Readiness stays true while refreshes fail: verification keeps
 * working from the cached set. Refresh errors are logged, not published here.
 */
export function createHealthRouter({
  keys,
  revocations,
}: {
  keys: JwksKeyProvider;
  revocations?: RevocationFeed;
}): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const { loaded, keyCount, ageSeconds } = keys.status();
    // The revocation feed is reported, not required: an unreachable feed keeps its last list.
    const feed = revocations?.status();
    const revocationsReport =
      feed === undefined
        ? {}
        : {
            revocations: {
              loaded: feed.loaded,
              entries: feed.entries,
              age_seconds: feed.ageSeconds,
              ...(feed.lastError === undefined ? {} : { last_error: feed.lastError }),
            },
          };
    if (loaded)
      res.json({
        status: 'ok',
        jwks: { key_count: keyCount, age_seconds: ageSeconds },
        ...revocationsReport,
      });
    else res.status(503).json({ status: 'not ready', reason: 'signing keys not loaded yet' });
  });
  return router;
}

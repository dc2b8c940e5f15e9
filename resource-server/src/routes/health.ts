import { sendJson, type JwksKeyProvider, type RevocationFeed } from '@tessera/shared';
import { Router } from 'express';

/**
 * Liveness (the process answers) and readiness (DESIGN.md: a usable key set is held, so tokens can
 * be verified). Readiness stays true while refreshes fail, as long as the held set is within its
 * stale window; the set's age is published so operators see a refresh problem before it bites.
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
    sendJson(res, 200, { status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const { loaded, usable, keyCount, ageSeconds } = keys.status();
    const jwks = { key_count: keyCount, age_seconds: ageSeconds ?? null };
    // The revocation feed is reported, not required: an unreachable feed keeps its last list.
    // Only whether its last fetch failed: the reason names internal hosts and ports, and this
    // answer goes to anyone; the poller logs the reason with each failure.
    const feed = revocations?.status();
    const revocationsReport =
      feed === undefined
        ? {}
        : {
            revocations: {
              loaded: feed.loaded,
              entries: feed.entries,
              age_seconds: feed.ageSeconds ?? null,
              last_fetch_failed: feed.lastError !== undefined,
            },
          };
    if (usable) sendJson(res, 200, { status: 'ok', jwks, ...revocationsReport });
    else
      sendJson(res, 503, {
        status: 'not ready',
        reason: loaded ? 'signing keys are older than the stale window' : 'signing keys not loaded yet',
        jwks,
        ...revocationsReport,
      });
  });
  return router;
}

import { sendJson, type JwksKeyProvider, type RevocationFeed } from '@tessera/shared';
import { Router } from 'express';
import type { z } from 'zod';
import type { readinessBody } from '../contract.js';
import type { livenessBody } from '@tessera/shared';

/**
 * Liveness (the process answers) and readiness: a usable key set is held, so tokens can be
 * verified, and (when the service applies a revocation feed) a usable revocation list, so revoked
 * tokens are refused. Readiness stays true while refreshes fail, as long as the held key set is
 * within its stale window and the held list within its bound; both ages are published so
 * operators see a refresh problem before it bites.
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
    sendJson(res, 200, { status: 'ok' } satisfies z.input<typeof livenessBody>);
  });
  router.get('/readyz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const { loaded, usable, keyCount, ageSeconds } = keys.status();
    const jwks = { key_count: keyCount, age_seconds: ageSeconds ?? null };
    // Only whether the feed's last fetch failed: the reason names internal hosts and ports, and this
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
              stale_after_seconds: feed.staleAfterSeconds,
              last_fetch_failed: feed.lastError !== undefined,
            },
          };
    const reason = !usable
      ? loaded
        ? 'signing keys are older than the stale window'
        : 'signing keys not loaded yet'
      : feed !== undefined && !feed.usable
        ? feed.loaded
          ? 'revocation list is older than its bound'
          : 'revocation list not loaded yet'
        : undefined;
    const body: z.input<typeof readinessBody> =
      reason === undefined
        ? { status: 'ok', jwks, ...revocationsReport }
        : { status: 'not ready', reason, jwks, ...revocationsReport };
    sendJson(res, reason === undefined ? 200 : 503, body);
  });
  return router;
}

import type { JwksKeyProvider } from '@tessera/shared';
import { Router } from 'express';

/**
 * Liveness (the process answers) and readiness (DESIGN.md: the JWKS was loaded at least once,
 * so tokens can be verified). Readiness stays true while refreshes fail: verification keeps
 * working from the cached set. Refresh errors are logged, not published here.
 */
export function createHealthRouter({ keys }: { keys: JwksKeyProvider }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    const { loaded, keyCount, ageSeconds } = keys.status();
    if (loaded) res.json({ status: 'ok', jwks: { key_count: keyCount, age_seconds: ageSeconds } });
    else res.status(503).json({ status: 'not ready', reason: 'signing keys not loaded yet' });
  });
  return router;
}

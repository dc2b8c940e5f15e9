import { Router } from 'express';
import type { KeyManager } from '../keys/key-manager.js';
import type { Storage } from '../storage/storage.js';

/** Liveness (the process answers) and readiness (the store answers and a signing key is loaded). */
export function createHealthRouter(deps: { storage: Storage; keys: KeyManager }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const storage = await deps.storage.ping().then(
      () => true,
      () => false,
    );
    const keys = deps.keys.ready();
    res
      .status(storage && keys ? 200 : 503)
      .set('Cache-Control', 'no-store')
      .json({ status: storage && keys ? 'ready' : 'not ready', checks: { storage, keys } });
  });
  return router;
}

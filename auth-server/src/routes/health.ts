import { sendJson } from '@tessera/shared';
import { Router } from 'express';
import type { KeyManager } from '../keys/key-manager.js';
import type { Storage } from '../storage/storage.js';

/**
 * Liveness (the process answers) and readiness: the store answers, a signing key is loaded,
 * and, when REDIS_URL is set, Redis answers (requests then still run, on per-process limits,
 * but a replica without the shared budgets should take no new traffic).
 */
export function createHealthRouter(deps: {
  storage: Storage;
  keys: KeyManager;
  /** Pings the shared Redis, if one is configured. */
  pingRedis?: () => Promise<unknown>;
}): Router {
  const router = Router();
  const answers = (check: Promise<unknown>) =>
    check.then(
      () => true,
      () => false,
    );
  router.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, { status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const [storage, redis] = await Promise.all([
      answers(deps.storage.ping()),
      deps.pingRedis === undefined ? undefined : answers(deps.pingRedis()),
    ]);
    const checks = { storage, keys: deps.keys.ready(), ...(redis === undefined ? {} : { redis }) };
    const ready = Object.values(checks).every(Boolean);
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
  });
  return router;
}

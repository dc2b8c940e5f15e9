import { Router } from 'express';
import { sendJson } from './send.js';

/** A readiness verdict: whether to take traffic, and the report `/readyz` answers with. */
export interface Readiness {
  ready: boolean;
  /** The body of the answer (a `status` field included); it goes to anyone, so it names no host. */
  report: Record<string, unknown>;
}

/**
 * `GET /healthz` (liveness: the process answers, always 200) and `GET /readyz` (200 when
 * `readiness` says ready, else 503), both `no-store`. What "ready" means is the service's: the
 * auth server checks its store and keys, a resource server its key set and revocation list.
 */
export function createHealthRouter(readiness: () => Readiness | Promise<Readiness>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, { status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const { ready, report } = await readiness();
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, ready ? 200 : 503, report);
  });
  return router;
}

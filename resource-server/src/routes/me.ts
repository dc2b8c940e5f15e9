import { sendJson } from '@tessera/shared';
import { Router, type RequestHandler } from 'express';

/** GET /api/me: the verified claims of the caller; any valid token will do. */
export function createMeRouter({ requireToken }: { requireToken: RequestHandler }): Router {
  const router = Router();
  router.get('/api/me', requireToken, (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, req.user?.claims);
  });
  return router;
}

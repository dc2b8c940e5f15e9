import { Router, type Request, type Response } from 'express';
import { AppError, methodNotAllowed, readBearerToken, sendJson } from '@tessera/shared';
import type { z } from 'zod';
import type { userInfoBody } from '../contract.js';
import { limitByIp, type RequestLimiter } from '../limits/request-limiter.js';
import type { Storage } from '../storage/storage.js';
import type { AccessTokenIssuer } from '../tokens/access-token.js';
import type { RevocationService } from '../tokens/revocations.js';

export const userinfoPath = '/oauth/userinfo';

/**
 * OpenID Connect Core §5.3: the signed-in user's claims, for an access token with scope `openid`
 * whose audience includes this endpoint (only `openid` tokens carry it). The token comes in the
 * Authorization header only (RFC 6750 §2.1); a revoked token or a disabled user is refused.
 */
export function createUserinfoRouter(deps: {
  issuer: string;
  accessTokens: AccessTokenIssuer;
  revocations: RevocationService;
  storage: Pick<Storage, 'users'>;
  /** Requests per client IP (each reaches the store). */
  limiter: RequestLimiter;
}): Router {
  const audience = `${deps.issuer}${userinfoPath}`;
  const router = Router();
  const handler = async (req: Request, res: Response) => {
    const presented = readBearerToken(req);
    if (presented.kind === 'none') throw new AppError('unauthorized', 'bearer token required');
    if (presented.kind === 'malformed')
      throw new AppError('invalid_request', presented.reason, { challenge: 'Bearer' });
    const claims = await deps.accessTokens.verify(presented.token);
    const aud: unknown = claims?.aud;
    const forUs = aud === audience || (Array.isArray(aud) && aud.includes(audience));
    if (claims === undefined || !forUs || (await deps.revocations.isRevoked(claims)))
      throw new AppError('invalid_token', 'the access token is invalid, expired or revoked');
    const scope = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    if (!scope.includes('openid'))
      throw new AppError('insufficient_scope', 'the token lacks the openid scope', { scope: 'openid' });
    const user = typeof claims.sub === 'string' ? await deps.storage.users.findById(claims.sub) : undefined;
    if (user === undefined || user.disabled)
      throw new AppError('invalid_token', 'the access token is invalid, expired or revoked');
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, {
      sub: user.id,
      ...(scope.includes('profile') ? { preferred_username: user.username } : {}),
    } satisfies z.input<typeof userInfoBody>);
  };
  const perIp = limitByIp(deps.limiter);
  router.get(userinfoPath, perIp, handler);
  router.post(userinfoPath, perIp, handler);
  router.all(userinfoPath, methodNotAllowed(['GET', 'HEAD', 'POST']));
  return router;
}

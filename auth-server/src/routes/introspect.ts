import { Router } from 'express';
import { AppError, methodNotAllowed, sendJson } from '@tessera/shared';
import type { ClientAuthenticator } from '../clients/client-auth.js';
import { limitByIp, type EndpointRateLimits } from '../limits/request-limiter.js';
import type { AccessTokenIssuer } from '../tokens/access-token.js';
import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import type { RevocationService } from '../tokens/revocations.js';
import { authenticateClient, createFormParser, requireParam } from './form.js';

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * POST /oauth/introspect (RFC 7662), for confidential clients. Our JWT access tokens
 * (verified, audience checked, revocations applied) and refresh tokens (only to the client
 * they were issued to); everything else is `{"active": false}` and nothing more (§2.2). Each
 * request reaches the store, so it spends the endpoint's own budgets (per IP before parsing,
 * then per client): over them it is 429 with `Retry-After`.
 */
export function createIntrospectRouter(deps: {
  clients: ClientAuthenticator;
  accessTokens: AccessTokenIssuer;
  refreshTokens: RefreshTokenService;
  revocations: RevocationService;
  rateLimits: EndpointRateLimits;
}): Router {
  const router = Router();
  router.post('/oauth/introspect', limitByIp(deps.rateLimits.perIp), createFormParser(), async (req, res) => {
    const { client, params } = await authenticateClient(req, deps.clients);
    await deps.rateLimits.perClient.consume(client.clientId);
    if (client.isPublic) throw new AppError('invalid_client', 'introspection requires a confidential client');
    const token = requireParam(params, 'token');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');

    const claims = await deps.accessTokens.verify(token);
    if (claims !== undefined) {
      if (await deps.revocations.isRevoked(claims)) {
        sendJson(res, 200, { active: false });
        return;
      }
      const { scope, client_id, sub, exp, iat, iss, aud, jti } = claims;
      sendJson(res, 200, {
        active: true,
        scope,
        client_id,
        sub,
        exp,
        iat,
        iss,
        aud,
        jti,
        token_type: 'Bearer',
      });
      return;
    }
    const record = await deps.refreshTokens.findLive(token);
    if (record === undefined || record.clientId !== client.clientId) {
      sendJson(res, 200, { active: false });
      return;
    }
    sendJson(res, 200, {
      active: true,
      scope: record.scope.join(' '),
      client_id: record.clientId,
      sub: record.userId,
      exp: seconds(Math.min(record.expiresAt, record.idleExpiresAt)),
      iat: seconds(record.createdAt),
      token_type: 'refresh_token',
    });
  });
  router.all('/oauth/introspect', methodNotAllowed(['POST']));
  return router;
}

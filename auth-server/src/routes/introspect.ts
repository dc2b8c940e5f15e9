import { Router } from 'express';
import { AppError, methodNotAllowed, sendJson } from '@tessera/shared';
import type { z } from 'zod';
import { tokenReferenceRequest, type activeRefreshToken, type inactiveToken } from '../contract.js';
import { readClientCredentials, type ClientAuthenticator } from '../clients/client-auth.js';
import type { ResourceStore } from '../storage/storage.js';
import { limitByIp, type EndpointRateLimits } from '../limits/request-limiter.js';
import type { AccessTokenIssuer } from '../tokens/access-token.js';
import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import type { RevocationService } from '../tokens/revocations.js';
import { createFormParser, readForm, readParams } from './form.js';

const seconds = (ms: number) => Math.floor(ms / 1000);
const inactive: z.input<typeof inactiveToken> = { active: false };

/** The audiences of a verified token, as a list. */
function audiencesOf(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((item): item is string => typeof item === 'string') : [];
}

/**
 * POST /oauth/introspect (RFC 7662), for confidential clients. Our JWT access tokens (verified,
 * revocations applied) only to the server of a resource the token is for (§4: the client
 * registered as that resource's server, `resources create --server-client`), and refresh tokens
 * only to the client they were issued to; everything else is `{"active": false}` and nothing
 * more (§2.2), so a service cannot learn about tokens meant for others. Each
 * request reaches the store, so it spends the endpoint's own budgets (per IP before parsing,
 * then per client): over them it is 429 with `Retry-After`.
 */
export function createIntrospectRouter(deps: {
  clients: ClientAuthenticator;
  accessTokens: AccessTokenIssuer;
  refreshTokens: RefreshTokenService;
  revocations: RevocationService;
  resources: Pick<ResourceStore, 'listServedBy'>;
  rateLimits: EndpointRateLimits;
}): Router {
  const router = Router();
  router.post('/oauth/introspect', limitByIp(deps.rateLimits.perIp), createFormParser(), async (req, res) => {
    const params = readParams(req.body, req.query);
    const client = await deps.clients.authenticate(readClientCredentials(req.headers.authorization, params));
    await deps.rateLimits.perClient.consume(client.clientId);
    if (client.isPublic) throw new AppError('invalid_client', 'introspection requires a confidential client');
    const { token } = readForm(tokenReferenceRequest, params);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');

    const claims = await deps.accessTokens.verify(token);
    if (claims !== undefined) {
      const served = new Set((await deps.resources.listServedBy(client.clientId)).map((r) => r.uri));
      const forThisServer = audiencesOf(claims.aud).some((aud) => served.has(aud));
      if (!forThisServer || (await deps.revocations.isRevoked(claims))) {
        sendJson(res, 200, inactive);
        return;
      }
      const { scope, client_id, sub, exp, iat, iss, aud, jti, act } = claims;
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
        // RFC 8693 §4.1: an exchanged token's delegation chain.
        ...(act === undefined ? {} : { act }),
        token_type: 'Bearer',
      });
      return;
    }
    const record = await deps.refreshTokens.findLive(token);
    if (record === undefined || record.clientId !== client.clientId) {
      sendJson(res, 200, inactive);
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
    } satisfies z.input<typeof activeRefreshToken>);
  });
  router.all('/oauth/introspect', methodNotAllowed(['POST']));
  return router;
}

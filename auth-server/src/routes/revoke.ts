import { Router } from 'express';
import { methodNotAllowed } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import { tokenReferenceRequest } from '../contract.js';
import { readClientCredentials, type ClientAuthenticator } from '../clients/client-auth.js';
import { limitByIp, type EndpointRateLimits } from '../limits/request-limiter.js';
import type { AccessTokenIssuer } from '../tokens/access-token.js';
import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import type { RevocationService } from '../tokens/revocations.js';
import { createFormParser, readForm, readParams } from './form.js';

/**
 * POST /oauth/revoke (RFC 7009). A refresh token revokes its whole family and the access
 * tokens minted from it; so does an access token minted from a family (§2.1 allows it, and one
 * family entry keeps the feed small); any other access token is denied until it expires. A client
 * over its revocation quota gets 503 with Retry-After (§2.2.1). Tokens that are
 * unknown, expired or another client's answer 200 and change nothing (§2.2).
 * Each request reaches the store, so it spends the endpoint's own budgets (per IP before
 * parsing, then per client): over them it is 429 with `Retry-After`.
 */
export function createRevokeRouter(deps: {
  clients: ClientAuthenticator;
  accessTokens: AccessTokenIssuer;
  refreshTokens: RefreshTokenService;
  revocations: RevocationService;
  audit: AuditTrail;
  rateLimits: EndpointRateLimits;
}): Router {
  const router = Router();
  router.post('/oauth/revoke', limitByIp(deps.rateLimits.perIp), createFormParser(), async (req, res) => {
    const params = readParams(req.body, req.query);
    const client = await deps.clients.authenticate(readClientCredentials(req.headers.authorization, params));
    await deps.rateLimits.perClient.consume(client.clientId);
    const { token } = readForm(tokenReferenceRequest, params);
    // token_type_hint only orders the lookup (§2.1); the two formats cannot be confused.
    const claims = await deps.accessTokens.verify(token);
    if (claims !== undefined) {
      if (
        claims.client_id === client.clientId &&
        typeof claims.jti === 'string' &&
        typeof claims.exp === 'number'
      ) {
        const revoked = await deps.revocations.revokeAccessToken(
          { jti: claims.jti, exp: claims.exp, sid: claims.sid },
          client.clientId,
        );
        deps.audit.record('token.revoked', {
          kind: revoked === 'family' ? 'access_token_family' : 'access_token',
          client_id: client.clientId,
          request_id: req.id,
        });
      }
    } else {
      const familyId = await deps.refreshTokens.familyOf(token, client.clientId);
      if (familyId !== undefined) {
        await deps.revocations.revokeFamily(familyId, client.clientId, { quota: true });
        deps.audit.record('token.revoked', {
          kind: 'refresh_token',
          client_id: client.clientId,
          request_id: req.id,
        });
      }
    }
    res.set('Cache-Control', 'no-store').status(200).end();
  });
  router.all('/oauth/revoke', methodNotAllowed(['POST']));
  return router;
}

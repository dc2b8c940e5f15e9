import { Router } from 'express';
import type { z } from 'zod';
import { AppError, methodNotAllowed, sendJson } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import type { tokenResponse } from '../contract.js';
import { readClientCredentials, type ClientAuthenticator } from '../clients/client-auth.js';
import type { Grant } from '../grants/index.js';
import { limitByIp, type EndpointRateLimits } from '../limits/request-limiter.js';
import type { AccessTokenIssuer } from '../tokens/access-token.js';
import { formatScope } from '../tokens/scope.js';
import { createFormParser, readForm, readParams, readRepeated } from './form.js';

/**
 * POST /oauth/token (RFC 6749 §3.2, §5): authenticate the client, run its grant, issue a token
 * for the resources the request names (`resource`, RFC 8707 §2; repeatable).
 * Over budget is 429 with `Retry-After` (RFC 6585 §4; RFC 6749 §4.3.2 brute-force protection).
 */
export function createTokenRouter(deps: {
  clients: ClientAuthenticator;
  grants: ReadonlyMap<string, Grant>;
  accessTokens: AccessTokenIssuer;
  rateLimits: EndpointRateLimits;
  audit: AuditTrail;
  /** The userinfo endpoint's URL: the audience `openid` access tokens also carry. */
  userinfoAudience: string;
}): Router {
  const router = Router();
  router.post('/oauth/token', limitByIp(deps.rateLimits.perIp), createFormParser(), async (req, res) => {
    const params = readParams(req.body, req.query);
    const client = await deps.clients.authenticate(readClientCredentials(req.headers.authorization, params));
    await deps.rateLimits.perClient.consume(client.clientId);
    const grantType = params.get('grant_type');
    if (grantType === undefined) throw new AppError('invalid_request', 'missing parameter: grant_type');
    const grant = deps.grants.get(grantType);
    if (grant === undefined) throw new AppError('unsupported_grant_type', 'unsupported grant_type');
    if (!client.grants.includes(grant.grantType))
      throw new AppError('unauthorized_client', `client may not use the ${grant.grantType} grant`);
    readForm(grant.request, params);

    const { sub, scope, audience, sid, refreshToken, idToken, act, notAfter, issuedTokenType } =
      await grant.handle(client, params, { resources: readRepeated(req.body, 'resource') });
    const { token, expiresIn } = await deps.accessTokens.issue({
      sub,
      clientId: client.clientId,
      scope,
      // An `openid` token is also for the userinfo endpoint (its own audience).
      audience: scope.includes('openid') ? [...audience, deps.userinfoAudience] : audience,
      sid,
      act,
      notAfter,
    });
    deps.audit.record('token.issued', {
      grant_type: grant.grantType,
      client_id: client.clientId,
      sub,
      aud: audience,
      ...(act === undefined ? {} : { act }),
      request_id: req.id,
    });
    // RFC 6749 §5.1: token responses must not be cached.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    sendJson(res, 200, {
      access_token: token,
      ...(issuedTokenType === undefined ? {} : { issued_token_type: issuedTokenType }),
      token_type: 'Bearer',
      expires_in: expiresIn,
      scope: formatScope(scope),
      ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
      ...(idToken === undefined ? {} : { id_token: idToken }),
    } satisfies z.input<typeof tokenResponse>);
  });
  router.all('/oauth/token', methodNotAllowed(['POST']));
  return router;
}

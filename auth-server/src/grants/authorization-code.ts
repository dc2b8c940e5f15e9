import { AppError } from '@tessera/shared';
import { authorizationCodeRequest } from '../contract.js';
import type { IdTokenIssuer } from '../signin/id-token.js';
import type { AuthorizationCodeService } from '../signin/codes.js';
import type { Storage } from '../storage/storage.js';
import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import { openIdScopes } from '../signin/authorization-request.js';
import type { Grant } from './grant.js';
import { requireAudience, resolveGrantTargets, type TargetResolver } from '../resources/resource-request.js';

/**
 * Authorization code with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5): the code is redeemed once, by
 * the client it was issued to, with the same redirect URI and the verifier of its challenge.
 * Everything issued carries the code's grant id (the refresh-token family, the access token's
 * `sid`), so a replayed code revokes it all. With `openid`, an ID token comes along
 * (OpenID Connect Core §3.1.3.3).
 */
export function createAuthorizationCodeGrant(deps: {
  codes: AuthorizationCodeService;
  refreshTokens: RefreshTokenService;
  idTokens: IdTokenIssuer;
  storage: Pick<Storage, 'users'>;
  targets: TargetResolver;
}): Grant {
  return {
    grantType: 'authorization_code',
    request: authorizationCodeRequest,
    async handle(client, params, request) {
      const record = await deps.codes.redeem({
        code: params.get('code') ?? '',
        client,
        redirectUri: params.get('redirect_uri') ?? '',
        codeVerifier: params.get('code_verifier') ?? '',
      });
      const user = await deps.storage.users.findById(record.userId);
      if (user === undefined || user.disabled)
        throw new AppError('invalid_grant', 'authorization code is invalid, expired or used');
      // RFC 8707 §2.2: the token request may name fewer of the code's resources, never others.
      const targets = await resolveGrantTargets(deps.targets, client, request.resources, record.resources);
      const understood = new Set([...targets.scopes, ...openIdScopes]);
      const scope = record.scope.filter((item) => understood.has(item));
      const audience = targets.uris;
      requireAudience(audience, scope);
      const idToken = scope.includes('openid')
        ? await deps.idTokens.issue({
            clientId: client.clientId,
            sub: user.id,
            authTime: record.authTime,
            nonce: record.nonce,
            sid: record.sessionId,
            extra: scope.includes('profile') ? { preferred_username: user.username } : {},
          })
        : undefined;
      const result = { sub: user.id, scope, audience, sid: record.grantId, idToken };
      if (!client.grants.includes('refresh_token')) return result;
      const { token } = await deps.refreshTokens.issue({
        clientId: client.clientId,
        userId: user.id,
        scope,
        resources: audience,
        familyId: record.grantId,
      });
      return { ...result, refreshToken: token };
    },
  };
}

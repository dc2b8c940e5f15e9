import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import { intersect } from '../tokens/scope.js';
import type { Grant } from './grant.js';
import { openIdScopes } from '../signin/authorization-request.js';
import { resolveScope } from './scope-request.js';

/**
 * Refresh (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): the presented token is consumed
 * and a successor returned. The access token may narrow the scope, never widen it: what
 * the family was granted, still allowed to the client and the user now.
 */
export function createRefreshTokenGrant(deps: { refreshTokens: RefreshTokenService }): Grant {
  return {
    grantType: 'refresh_token',
    parameters: ['refresh_token'],
    async handle(client, params) {
      const rotated = await deps.refreshTokens.rotate(params.get('refresh_token') ?? '', client);
      // The OpenID Connect scopes are granted by signing in, not registered: the family keeps them.
      const allowed = new Set([...intersect(client.scopes, rotated.userScopes), ...openIdScopes]);
      const grantable = rotated.scope.filter((scope) => allowed.has(scope));
      return {
        sub: rotated.userId,
        scope: resolveScope(params.get('scope'), grantable),
        sid: rotated.familyId,
        refreshToken: rotated.token,
      };
    },
  };
}

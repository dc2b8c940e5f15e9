import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import { refreshTokenRequest } from '../contract.js';
import { intersect } from '../tokens/scope.js';
import type { Grant } from './grant.js';
import { openIdScopes } from '../signin/authorization-request.js';
import {
  requireAudience,
  resolveGrantTargets,
  type Targets,
  type TargetResolver,
} from '../resources/resource-request.js';
import { resolveScope } from './scope-request.js';

/**
 * Refresh (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): the presented token is consumed
 * and a successor returned. The access token may narrow the scope, never widen it: what
 * the family was granted, still allowed to the client and the user now, and understood by the
 * resources it is for. It may also narrow the resources to some of the grant's (RFC 8707 §2.2),
 * never add one; the successor keeps all of the grant's. The resources are checked before the
 * token is consumed, so a refused request costs the client nothing.
 */
export function createRefreshTokenGrant(deps: {
  refreshTokens: RefreshTokenService;
  targets: TargetResolver;
}): Grant {
  return {
    grantType: 'refresh_token',
    request: refreshTokenRequest,
    async handle(client, params, request) {
      let targets: Targets | undefined;
      const rotated = await deps.refreshTokens.rotate(
        params.get('refresh_token') ?? '',
        client,
        async (record) => {
          targets = await resolveGrantTargets(deps.targets, client, request.resources, record.resources);
        },
      );
      if (targets === undefined)
        throw new Error('the refresh token was rotated without its resources checked');
      // The OpenID Connect scopes are granted by signing in, not registered: the family keeps them.
      const allowed = new Set([
        ...intersect(intersect(client.scopes, rotated.userScopes), targets.scopes),
        ...openIdScopes,
      ]);
      const grantable = rotated.scope.filter((scope) => allowed.has(scope));
      const scope = resolveScope(params.get('scope'), grantable);
      requireAudience(targets.uris, scope);
      return {
        sub: rotated.userId,
        scope,
        audience: targets.uris,
        sid: rotated.familyId,
        refreshToken: rotated.token,
      };
    },
  };
}

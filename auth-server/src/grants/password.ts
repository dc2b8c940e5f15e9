import { AppError } from '@tessera/shared';
import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import type { UserService } from '../users/users.js';
import { intersect } from '../tokens/scope.js';
import type { Grant } from './grant.js';
import { resolveScope } from './scope-request.js';

/**
 * Resource owner password credentials (RFC 6749 §4.3). Unknown user, wrong password and
 * disabled account give one answer, after the same amount of hashing work. A client
 * registered for the refresh_token grant also gets a refresh token, starting a new family.
 */
export function createPasswordGrant(deps: { users: UserService; refreshTokens: RefreshTokenService }): Grant {
  return {
    grantType: 'password',
    parameters: ['username', 'password'],
    async handle(client, params) {
      const user = await deps.users.authenticate(params.get('username') ?? '', params.get('password') ?? '');
      if (user === undefined) throw new AppError('invalid_grant', 'invalid username or password');
      const scope = resolveScope(params.get('scope'), intersect(client.scopes, user.scopes));
      if (!client.grants.includes('refresh_token')) return { sub: user.id, scope };
      const { token, familyId } = await deps.refreshTokens.issue({
        clientId: client.clientId,
        userId: user.id,
        scope,
      });
      return { sub: user.id, scope, sid: familyId, refreshToken: token };
    },
  };
}

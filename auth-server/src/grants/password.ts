import { AppError } from '@tessera/shared';
import { passwordRequest } from '../contract.js';
import type { AuditTrail } from '../audit.js';
import type { ConcurrencyLimit } from '../limits/concurrency-limit.js';
import type { LoginThrottle } from '../limits/login-throttle.js';
import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import type { UserService } from '../users/users.js';
import { intersect } from '../tokens/scope.js';
import type { Grant } from './grant.js';
import type { TargetResolver } from '../resources/resource-request.js';
import { resolveScope } from './scope-request.js';

/**
 * Resource owner password credentials (RFC 6749 §4.3). Unknown user, wrong password and
 * disabled account give one answer, after the same amount of hashing work. RFC 6749 §4.3.2
 * requires brute-force protection here: each username is throttled (known or not, alike),
 * and password checks in flight are bounded, so a flood gets quick 503s instead of a queue
 * that grows without limit (Argon2 costs ~20 ms of CPU each). A client registered for the
 * refresh_token grant also gets a refresh token, starting a new family.
 */
export function createPasswordGrant(deps: {
  users: UserService;
  refreshTokens: RefreshTokenService;
  throttle: LoginThrottle;
  passwordChecks: ConcurrencyLimit;
  audit: AuditTrail;
  targets: TargetResolver;
}): Grant {
  const { users, refreshTokens, throttle, passwordChecks, audit } = deps;
  return {
    grantType: 'password',
    request: passwordRequest,
    async handle(client, params, request) {
      // Before any hashing: a request for a resource the client may not have costs nothing.
      const targets = await deps.targets.resolve(client, request.resources);
      const username = params.get('username') ?? '';
      const password = params.get('password') ?? '';
      // The throttle runs inside the slot: a request refused for load is never counted as a failure.
      const user = await passwordChecks.run(async () => {
        const attempt = await throttle.begin(username);
        const found = await users.authenticate(username, password);
        if (found === undefined) {
          attempt.failed();
          // Not the username: a password typed into the wrong field must not reach the log.
          audit.record('login.failed', { client_id: client.clientId });
          throw new AppError('invalid_grant', 'invalid username or password');
        }
        await attempt.succeeded();
        audit.record('login.succeeded', { client_id: client.clientId, user_id: found.id });
        return found;
      });
      // What the client may have, the user holds and the resources understand.
      const grantable = intersect(intersect(client.scopes, user.scopes), targets.scopes);
      const scope = resolveScope(params.get('scope'), grantable);
      const audience = targets.uris;
      if (!client.grants.includes('refresh_token')) return { sub: user.id, scope, audience };
      const { token, familyId } = await refreshTokens.issue({
        clientId: client.clientId,
        userId: user.id,
        scope,
        resources: audience,
      });
      return { sub: user.id, scope, audience, sid: familyId, refreshToken: token };
    },
  };
}

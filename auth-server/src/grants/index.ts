import type { AuditTrail } from '../audit.js';
import type { ConcurrencyLimit } from '../limits/concurrency-limit.js';
import type { LoginThrottle } from '../limits/login-throttle.js';
import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import type { UserService } from '../users/users.js';
import type { AuthorizationCodeService } from '../signin/codes.js';
import type { IdTokenIssuer } from '../signin/id-token.js';
import type { Storage } from '../storage/storage.js';
import { createAuthorizationCodeGrant } from './authorization-code.js';
import { createClientCredentialsGrant } from './client-credentials.js';
import type { Grant } from './grant.js';
import { createPasswordGrant } from './password.js';
import { createRefreshTokenGrant } from './refresh-token.js';

export type { Grant, GrantResult } from './grant.js';

/** The grants this server offers, by grant_type. */
export function createGrantRegistry(deps: {
  users: UserService;
  refreshTokens: RefreshTokenService;
  throttle: LoginThrottle;
  passwordChecks: ConcurrencyLimit;
  audit: AuditTrail;
  codes: AuthorizationCodeService;
  idTokens: IdTokenIssuer;
  storage: Pick<Storage, 'users'>;
}): ReadonlyMap<string, Grant> {
  const grants = [
    createPasswordGrant(deps),
    createClientCredentialsGrant(),
    createRefreshTokenGrant({ refreshTokens: deps.refreshTokens }),
    createAuthorizationCodeGrant(deps),
  ];
  return new Map(grants.map((grant) => [grant.grantType, grant]));
}

import type { AuditTrail } from '../audit.js';
import type { ConcurrencyLimit } from '../limits/concurrency-limit.js';
import type { LoginThrottle } from '../limits/login-throttle.js';
import type { ResourceStore } from '../storage/storage.js';
import type { AccessTokenIssuer } from '../tokens/access-token.js';
import type { RefreshTokenService } from '../tokens/refresh-tokens.js';
import type { RevocationService } from '../tokens/revocations.js';
import type { UserService } from '../users/users.js';
import type { AuthorizationCodeService } from '../signin/codes.js';
import type { IdTokenIssuer } from '../signin/id-token.js';
import type { Storage } from '../storage/storage.js';
import { createAuthorizationCodeGrant } from './authorization-code.js';
import { createClientCredentialsGrant } from './client-credentials.js';
import type { Grant } from './grant.js';
import { createPasswordGrant } from './password.js';
import { createRefreshTokenGrant } from './refresh-token.js';
import { createTargetResolver } from '../resources/resource-request.js';
import { createTokenExchangeGrant } from './token-exchange.js';

export type { Grant, GrantResult, TokenRequest } from './grant.js';

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
  resources: Pick<ResourceStore, 'find' | 'listServedBy'>;
  accessTokens: AccessTokenIssuer;
  revocations: Pick<RevocationService, 'isRevoked'>;
  tokenExchangeMaxDepth: number;
}): ReadonlyMap<string, Grant> {
  const targets = createTargetResolver(deps.resources);
  const grants = [
    createPasswordGrant({ ...deps, targets }),
    createClientCredentialsGrant({ targets }),
    createRefreshTokenGrant({ refreshTokens: deps.refreshTokens, targets }),
    createAuthorizationCodeGrant({ ...deps, targets }),
    createTokenExchangeGrant({
      accessTokens: deps.accessTokens,
      revocations: deps.revocations,
      resources: deps.resources,
      targets,
      maxDepth: deps.tokenExchangeMaxDepth,
    }),
  ];
  return new Map(grants.map((grant) => [grant.grantType, grant]));
}

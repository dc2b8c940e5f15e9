import type { ConcurrencyLimit } from '../limits/concurrency-limit.js';
import type { LoginThrottle } from '../limits/login-throttle.js';
import type { UserService } from '../users/users.js';
import { createClientCredentialsGrant } from './client-credentials.js';
import type { Grant } from './grant.js';
import { createPasswordGrant } from './password.js';

export type { Grant, GrantResult } from './grant.js';

/** The grants this server offers, by grant_type. */
export function createGrantRegistry(deps: {
  users: UserService;
  throttle: LoginThrottle;
  passwordChecks: ConcurrencyLimit;
}): ReadonlyMap<string, Grant> {
  const grants = [createPasswordGrant(deps), createClientCredentialsGrant()];
  return new Map(grants.map((grant) => [grant.grantType, grant]));
}

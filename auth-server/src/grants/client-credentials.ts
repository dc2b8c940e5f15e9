import { intersect } from '../tokens/scope.js';
import { clientCredentialsRequest } from '../contract.js';
import type { Grant } from './grant.js';
import type { TargetResolver } from '../resources/resource-request.js';
import { resolveScope } from './scope-request.js';

/**
 * Client credentials (RFC 6749 §4.4): the client acts for itself; sub is its id (RFC 9068 §2.2).
 * The scope is what the client may have that its resources understand.
 */
export function createClientCredentialsGrant(deps: { targets: TargetResolver }): Grant {
  return {
    grantType: 'client_credentials',
    request: clientCredentialsRequest,
    async handle(client, params, request) {
      const targets = await deps.targets.resolve(client, request.resources);
      return {
        sub: client.clientId,
        scope: resolveScope(params.get('scope'), intersect(client.scopes, targets.scopes)),
        audience: targets.uris,
      };
    },
  };
}

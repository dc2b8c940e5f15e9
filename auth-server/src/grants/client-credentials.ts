import type { Grant } from './grant.js';
import { resolveScope } from './scope-request.js';

/** Client credentials (RFC 6749 §4.4): the client acts for itself; sub is its id (RFC 9068 §2.2). */
export function createClientCredentialsGrant(): Grant {
  return {
    grantType: 'client_credentials',
    parameters: [],
    handle(client, params) {
      return Promise.resolve({
        sub: client.clientId,
        scope: resolveScope(params.get('scope'), client.scopes),
      });
    },
  };
}

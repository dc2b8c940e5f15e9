import { Router } from 'express';
import type { z } from 'zod';
import type { serverMetadataBody } from '../contract.js';
import { methodNotAllowed, sendBody, sendCacheable } from '@tessera/shared';
import { assertionSigningAlgorithms } from '../clients/client-keys.js';
import type { KeyManager } from '../keys/key-manager.js';
import { grantTypes } from '../storage/storage.js';
import { toJwksCacheControl } from '../keys/lifecycle.js';
import { openIdScopes, promptValues } from '../signin/authorization-request.js';
import { authorizePath } from './authorize.js';
import { endSessionPath } from './end-session.js';
import { userinfoPath } from './userinfo.js';

/** How confidential clients authenticate: a secret (two ways) or a JWT signed with their key (RFC 7523 §2.2). */
const confidentialMethods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/**
 * RFC 8414 metadata (at both well-known paths) and the JWKS (RFC 7517), served from memory: the
 * key manager keeps it current and never empty (there is always an active key once loaded).
 */
export function createWellKnownRouter(deps: { issuer: string; keys: KeyManager }): Router {
  const { issuer, keys } = deps;
  const metadata = Object.freeze({
    issuer,
    authorization_endpoint: `${issuer}${authorizePath}`,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    grant_types_supported: [...grantTypes],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    // PKCE is required of every client, with S256 only (RFC 9700 §2.1.1).
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: authorization responses carry `iss` (mix-up defence).
    authorization_response_iss_parameter_supported: true,
    token_endpoint_auth_methods_supported: [...confidentialMethods, 'none'],
    token_endpoint_auth_signing_alg_values_supported: [...assertionSigningAlgorithms],
    revocation_endpoint_auth_methods_supported: [...confidentialMethods, 'none'],
    revocation_endpoint_auth_signing_alg_values_supported: [...assertionSigningAlgorithms],
    // RFC 7662 §2.1: introspection is for confidential clients only.
    introspection_endpoint_auth_methods_supported: [...confidentialMethods],
    introspection_endpoint_auth_signing_alg_values_supported: [...assertionSigningAlgorithms],
    // Access tokens are RFC 9068 JWTs signed with RS256.
    access_token_signing_alg_values_supported: ['RS256'],
    // RFC 8707: every grant takes `resource`; a token's `aud` is the resources it names.
    resource_indicators_supported: true,
  } satisfies z.input<typeof serverMetadataBody>);
  const metadataBody = JSON.stringify(metadata);
  // OpenID Connect Discovery 1.0 §3: the same server, plus what OpenID Connect adds.
  const openIdBody = JSON.stringify({
    ...metadata,
    userinfo_endpoint: `${issuer}${userinfoPath}`,
    end_session_endpoint: `${issuer}${endSessionPath}`,
    scopes_supported: [...openIdScopes],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sid', 'preferred_username'],
    prompt_values_supported: [...promptValues],
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
  } satisfies z.input<typeof serverMetadataBody>);
  const jwksCacheControl = toJwksCacheControl(keys.durations);

  const router = Router();
  for (const [path, body] of [
    ['/.well-known/oauth-authorization-server', metadataBody],
    ['/.well-known/openid-configuration', openIdBody],
  ] as const) {
    router.get(path, (_req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=3600');
      sendBody(res, 200, 'application/json; charset=utf-8', body);
    });
    router.all(path, methodNotAllowed(['GET', 'HEAD']));
  }
  router.get('/.well-known/jwks.json', (req, res) => {
    sendCacheable(req, res, {
      ...keys.jwks(),
      contentType: 'application/jwk-set+json',
      cacheControl: jwksCacheControl,
    });
  });
  router.all('/.well-known/jwks.json', methodNotAllowed(['GET', 'HEAD']));
  return router;
}

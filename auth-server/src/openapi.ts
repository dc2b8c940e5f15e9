import { z } from 'zod';
import {
  commonPaths,
  createOpenApiDocument,
  errorResponse,
  ifNoneMatch,
  jsonContent,
  methodNotAllowedResponse,
  noStore,
  notModifiedResponse,
  retryAfterHeaders,
  cacheableHeaders,
  type OpenApiDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiResponseObject,
} from '@tessera/shared';
import {
  authorizationRequest,
  consentForm,
  endSessionForm,
  endSessionRequest,
  introspectionResponse,
  jwkSetBody,
  readinessBody,
  revocationFeedBody,
  serverMetadataBody,
  signInForm,
  tokenError,
  tokenReferenceRequest,
  tokenRequest,
  tokenResponse,
  userInfoBody,
} from './contract.js';

/** The version of the HTTP API described below; bump it when the contract changes. */
export const authServerApiVersion = '0.1.0';

const form = (schema: z.ZodType) => ({ 'application/x-www-form-urlencoded': { schema } });
const noStoreHeaders = z.object({ 'Cache-Control': noStore });

const invalidClient: ZodOpenApiResponseObject = {
  ...errorResponse(
    'Client authentication failed (a wrong secret, an unknown client, an invalid, expired or ' +
      'replayed client assertion), or a public client tried introspection (RFC 6749 §5.2)',
    ['invalid_client'],
    z.object({
      'WWW-Authenticate': z
        .string()
        .meta({ description: 'A Basic challenge: `Basic realm="tessera", charset="UTF-8"`' }),
    }),
  ),
  id: 'InvalidClient',
};
const tooManyRequests: ZodOpenApiResponseObject = {
  ...errorResponse(
    'Too many attempts; retry after the given delay',
    ['too_many_requests'],
    z.object({ 'Retry-After': z.string().optional().meta({ description: 'Seconds' }) }),
  ),
  id: 'TooManyRequests',
};
const temporarilyUnavailable: ZodOpenApiResponseObject = {
  ...errorResponse(
    'The database is unreachable (or Redis, for a client assertion’s single-use check)',
    ['temporarily_unavailable'],
    retryAfterHeaders,
  ),
  id: 'TemporarilyUnavailable',
};
const methodNotAllowed = methodNotAllowedResponse;
const notModified = notModifiedResponse;

/** What every form endpoint may answer besides its own outcomes (RFC 6749 §3.2: urlencoded POST bodies). */
const formEndpointResponses = {
  '401': invalidClient,
  '405': methodNotAllowed,
  '413': { ...errorResponse('The body is larger than 8 KB', ['payload_too_large']), id: 'PayloadTooLarge' },
  '415': {
    ...errorResponse('The body’s charset or content encoding is not supported', ['unsupported_media_type']),
    id: 'UnsupportedMediaType',
  },
  '429': tooManyRequests,
  '503': temporarilyUnavailable,
};

/** A server-rendered page (sign-in, consent, error, signed out): no script, no framing. */
const page = (description: string): ZodOpenApiResponseObject => ({
  description,
  headers: z.object({
    'Content-Security-Policy': z.string().meta({
      description:
        "No script; styles by nonce; `frame-ancestors 'none'`; form posts only here and to the client",
    }),
    'Cache-Control': z.literal('no-store'),
  }),
  content: { 'text/html': { schema: z.string() } },
});
/** A 303 to the client's registered redirect URI (or post-logout URI). */
const redirect = (description: string): ZodOpenApiResponseObject => ({
  description,
  headers: z.object({ Location: z.url() }),
});
const authorizeResponses = (badRequest: string) => ({
  '200': page('The sign-in or consent page'),
  '303': redirect('Back to the client: a code, or an error (RFC 6749 §4.1.2)'),
  '400': page(badRequest),
  '405': methodNotAllowed,
  '429': page('Too many requests from this address (`RATE_LIMIT_IP`); `Retry-After`'),
});

const userinfo = (operationId: string): ZodOpenApiOperationObject => ({
  operationId,
  tags: ['openid'],
  summary: 'The signed-in user’s claims (OpenID Connect Core §5.3)',
  description:
    'Bearer access token with scope `openid` (in the Authorization header only); its audience ' +
    'includes this endpoint. `preferred_username` comes with scope `profile`.',
  security: [{ bearer: [] }],
  responses: {
    '200': { description: 'The claims', headers: noStoreHeaders, content: jsonContent(userInfoBody) },
    '400': errorResponse('A malformed Authorization header', ['invalid_request']),
    '401': errorResponse('No token, or an invalid, expired or revoked one (RFC 6750 §3.1)', [
      'unauthorized',
      'invalid_token',
    ]),
    '403': errorResponse('The token lacks the openid scope', ['insufficient_scope']),
    '405': methodNotAllowed,
    '429': tooManyRequests,
    '503': temporarilyUnavailable,
  },
});
const endSessionResponses = {
  '200': page('The signed-out page, or a page asking to confirm signing out'),
  '303': redirect('Signed out; back to the registered post_logout_redirect_uri with `state`'),
  '400': page('An invalid id_token_hint or an unregistered post_logout_redirect_uri: an error page'),
  '405': methodNotAllowed,
  '429': tooManyRequests,
};
const serverMetadata: ZodOpenApiResponseObject = {
  id: 'ServerMetadata',
  description: 'The metadata; cacheable for an hour',
  headers: z.object({ 'Cache-Control': z.literal('public, max-age=3600') }),
  content: jsonContent(serverMetadataBody),
};

/** Client authentication on the form endpoints: Basic header, or nothing in the headers (body). */
const clientSecurity: Record<string, string[]>[] = [{ clientSecretBasic: [] }, {}];

let document: OpenApiDocument | undefined;

/**
 * The auth server's HTTP API as OpenAPI 3.1, generated from the schemas in `contract.ts`, served
 * at `GET /openapi.json` and checked against the routes the app really serves by
 * `test/openapi.test.ts`. Generated on first use (about 40 ms of CPU), not on import: the admin
 * CLI imports the composition root and never serves it.
 */
export function openApiDocument(): OpenApiDocument {
  return (document ??= generate());
}

const generate = (): OpenApiDocument =>
  createOpenApiDocument({
    info: {
      title: 'Tessera auth server',
      version: authServerApiVersion,
      description:
        'Issues RS256 JWT access tokens (RFC 9068) for the password, client_credentials and ' +
        'refresh_token grants (RFC 6749) and token exchange (RFC 8693), publishes its keys (RFC 7517) and metadata (RFC 8414), ' +
        'revokes (RFC 7009) and introspects (RFC 7662) tokens, and publishes a revocation feed for ' +
        'resource servers. Every error is RFC 6749 §5.2 JSON with `Cache-Control: no-store`.',
    },
    servers: [{ url: '/', description: 'This server; its public base URL is the configured issuer.' }],
    tags: [
      { name: 'oauth', description: 'Tokens: issue, revoke, introspect' },
      { name: 'discovery', description: 'Public documents clients and resource servers fetch' },
      { name: 'operations', description: 'Probes for orchestrators' },
      { name: 'sign-in', description: 'Browser sign-in: the authorization endpoint and its pages' },
      { name: 'openid', description: 'OpenID Connect: userinfo and logout' },
    ],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token with scope `openid` (RFC 6750 §2.1)',
        },
        clientSecretBasic: {
          type: 'http',
          scheme: 'basic',
          description:
            'client_secret_basic (RFC 6749 §2.3.1): client id and secret, each form-urlencoded, ' +
            'as Basic credentials. The alternatives send no header: client_secret_post sends ' +
            '`client_id` and `client_secret` in the form body, private_key_jwt (RFC 7523 §2.2) ' +
            '`client_assertion_type` and `client_assertion`, and a public client `client_id` alone.',
        },
      },
    },
    paths: {
      '/oauth/token': {
        post: {
          operationId: 'issueToken',
          tags: ['oauth'],
          summary: 'Exchange a grant for an access token (RFC 6749 §3.2, §4.3, §4.4, §6; RFC 8693)',
          description:
            'The client authenticates with HTTP Basic (client_secret_basic), with client_id and ' +
            'client_secret in the body (client_secret_post), with a JWT signed by its key ' +
            '(private_key_jwt: client_assertion_type and client_assertion), or, if registered as ' +
            'public, with client_id alone. Using two methods at once is `invalid_request`. Credentials in the ' +
            'query string are refused. Refresh tokens rotate on every use; presenting a ' +
            'rotated-away one revokes its whole family (RFC 9700 §4.14).',
          security: clientSecurity,
          requestBody: { required: true, content: form(tokenRequest) },
          responses: {
            '200': {
              description: 'The token (RFC 6749 §5.1)',
              headers: z.object({ 'Cache-Control': noStore, Pragma: z.literal('no-cache') }),
              content: jsonContent(tokenResponse),
            },
            '400': {
              description: 'The request or the grant is refused (RFC 6749 §5.2)',
              content: jsonContent(tokenError),
            },
            ...formEndpointResponses,
          },
        },
      },
      '/oauth/authorize': {
        get: {
          operationId: 'authorize',
          tags: ['sign-in'],
          summary: 'Authorization endpoint (RFC 6749 §4.1.1, RFC 7636, OpenID Connect Core §3.1.2)',
          description:
            'Shows the sign-in page, then (for a third-party client, unless remembered) the consent ' +
            'page, then redirects to the redirect URI with `code`, `state` and `iss` (RFC 9207). An ' +
            'unknown client or unregistered redirect URI gets an error page, never a redirect; other ' +
            'errors are redirected with `error`, `state` and `iss`.',
          security: [],
          requestParams: { query: authorizationRequest },
          responses: authorizeResponses('Unknown client or unregistered redirect URI: an error page'),
        },
        post: {
          operationId: 'authorizeByForm',
          tags: ['sign-in'],
          summary: 'The same authorization request as a form post (OpenID Connect Core §3.1.2.1)',
          security: [],
          requestBody: { required: true, content: form(authorizationRequest) },
          responses: authorizeResponses(
            'Unknown client or unregistered redirect URI, or a malformed body: an error page',
          ),
        },
      },
      '/oauth/authorize/sign-in': {
        post: {
          operationId: 'signIn',
          tags: ['sign-in'],
          summary: 'The sign-in form',
          description:
            'Checks the password with the password grant’s protections (per-username locks, rate ' +
            'limits, equal-time answers) and starts a browser session (an HttpOnly, SameSite=Lax ' +
            'cookie, `__Host-` prefixed under an https issuer).',
          security: [],
          requestBody: { required: true, content: form(signInForm) },
          responses: {
            '200': page('Signed in: the consent page'),
            '303': redirect('Signed in: back to the client with a code, or an error'),
            '400': page('The username or password is wrong (one message for every cause)'),
            '403': page('No or a wrong CSRF token'),
            '405': methodNotAllowed,
            '429': page('Too many failed attempts for this username, or from this address'),
            '503': page('Too many password checks at once, or the store is unreachable'),
          },
        },
      },
      '/oauth/authorize/consent': {
        post: {
          operationId: 'consent',
          tags: ['sign-in'],
          summary: 'The consent form: allow or deny',
          security: [],
          requestBody: { required: true, content: form(consentForm) },
          responses: {
            '200': page('The session has ended meanwhile: the sign-in page'),
            '303': redirect('Back to the client: a code, or `access_denied`'),
            '400': page('An invalid request: an error page'),
            '403': page('No or a wrong CSRF token'),
            '405': methodNotAllowed,
            '429': page('Too many requests from this address (`RATE_LIMIT_IP`); `Retry-After`'),
          },
        },
      },
      '/oauth/userinfo': { get: userinfo('getUserInfo'), post: userinfo('postUserInfo') },
      '/oauth/logout': {
        get: {
          operationId: 'endSession',
          tags: ['openid'],
          summary: 'RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)',
          description:
            'Ends the browser session. With an id_token_hint for the signed-in session it signs out at ' +
            'once; otherwise it asks the user to confirm. Redirects only to a registered post-logout URI.',
          security: [],
          requestParams: { query: endSessionRequest },
          responses: endSessionResponses,
        },
        post: {
          operationId: 'confirmEndSession',
          tags: ['openid'],
          summary: 'RP-initiated logout by form (the confirmation page posts here with its CSRF token)',
          security: [],
          requestBody: { required: true, content: form(endSessionForm) },
          responses: endSessionResponses,
        },
      },
      '/oauth/revoke': {
        post: {
          operationId: 'revokeToken',
          tags: ['oauth'],
          summary: 'Revoke an access or refresh token (RFC 7009)',
          description:
            'A refresh token revokes its whole family and the access tokens minted from it; so does ' +
            'an access token minted from a family (it carries `sid`, RFC 7009 §2.1); any other ' +
            'access token is refused until it expires. Unknown, expired or another client’s tokens ' +
            'also answer 200 and change nothing (RFC 7009 §2.2). A client with 1,000 live ' +
            'revocations gets 503 with Retry-After until older ones expire (§2.2.1).',
          security: clientSecurity,
          requestBody: { required: true, content: form(tokenReferenceRequest) },
          responses: {
            '200': { description: 'Revoked, or nothing to revoke; no body', headers: noStoreHeaders },
            '400': errorResponse('Malformed request', ['invalid_request']),
            ...formEndpointResponses,
          },
        },
      },
      '/oauth/introspect': {
        post: {
          operationId: 'introspectToken',
          tags: ['oauth'],
          summary: 'Is this token active, and what does it carry? (RFC 7662)',
          description:
            'Confidential clients only (a public client gets 401 invalid_client). Refresh tokens are ' +
            'described only to the client they were issued to; anything else is `{"active": false}`.',
          security: clientSecurity,
          requestBody: { required: true, content: form(tokenReferenceRequest) },
          responses: {
            '200': {
              description: 'The introspection response (RFC 7662 §2.2)',
              headers: noStoreHeaders,
              content: jsonContent(introspectionResponse),
            },
            '400': errorResponse('Malformed request', ['invalid_request']),
            ...formEndpointResponses,
          },
        },
      },
      '/oauth/revocations': {
        get: {
          operationId: 'getRevocationFeed',
          tags: ['discovery'],
          summary: 'What resource servers must refuse although it verifies',
          description:
            'Public: it lists digests (the first 96 bits of SHA-256 over `kind:value`, base64url), ' +
            'never identifiers. Resource servers poll it instead of calling the auth server per ' +
            'request. A token is refused when the digest of its `jti` or `sid` is listed, or when ' +
            'the digest of its `sub` or `client_id` is listed with a cut-off at or after its `iat`. ' +
            '`key_set` is the JWKS ETag: a verifier holding another set refetches the JWKS.',
          security: [],
          requestParams: { header: ifNoneMatch },
          responses: {
            '200': {
              description: 'The feed',
              headers: cacheableHeaders,
              content: jsonContent(revocationFeedBody),
            },
            '304': notModified,
            '405': methodNotAllowed,
            '503': temporarilyUnavailable,
          },
        },
      },
      '/.well-known/jwks.json': {
        get: {
          operationId: 'getJwks',
          tags: ['discovery'],
          summary: 'The public signing keys (RFC 7517 §5)',
          description:
            'Pending, active and retiring keys; only public members, by allow-list. Cacheable ' +
            '(`public, max-age=JWKS_MAX_AGE, stale-if-error=…`) with a strong ETag.',
          security: [],
          requestParams: { header: ifNoneMatch },
          responses: {
            '200': {
              description: 'The key set',
              headers: cacheableHeaders,
              content: { 'application/jwk-set+json': { schema: jwkSetBody } },
            },
            '304': notModified,
            '405': methodNotAllowed,
          },
        },
      },
      '/.well-known/oauth-authorization-server': {
        get: {
          operationId: 'getServerMetadata',
          tags: ['discovery'],
          summary: 'Authorization server metadata (RFC 8414 §3)',
          security: [],
          responses: { '200': serverMetadata, '405': methodNotAllowed },
        },
      },
      '/.well-known/openid-configuration': {
        get: {
          operationId: 'getOpenIdConfiguration',
          tags: ['discovery'],
          summary: 'OpenID Connect Discovery 1.0: the same metadata plus userinfo, logout and ID tokens',
          security: [],
          responses: { '200': serverMetadata, '405': methodNotAllowed },
        },
      },
      '/readyz': {
        get: {
          operationId: 'getReadiness',
          tags: ['operations'],
          summary: 'Readiness: the store (and Redis, when configured) answers and a signing key is loaded',
          security: [],
          responses: {
            '200': { description: 'Ready', headers: noStoreHeaders, content: jsonContent(readinessBody) },
            '503': {
              description: 'Not ready; `checks` says what is missing',
              headers: noStoreHeaders,
              content: jsonContent(readinessBody),
            },
          },
        },
      },
      ...commonPaths('discovery'),
    },
  });

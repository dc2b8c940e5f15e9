import {
  errorResponse,
  jsonContent,
  livenessSchema,
  openApiDocumentSchema,
  responseRef,
  retryAfterHeader,
  schemaRef,
  toErrorSchema,
  type JsonSchema,
  type OpenApiDocument,
  type OpenApiMediaType,
  type OpenApiParameter,
  type OpenApiResponse,
  type OpenApiSecurityRequirement,
} from '@tessera/shared';

/** The version of the HTTP API described below; bump it when the contract changes. */
export const authServerApiVersion = '0.1.0';

const form = (body: JsonSchema): Record<string, OpenApiMediaType> => ({
  'application/x-www-form-urlencoded': { schema: body },
});

const noStore = {
  description: '`no-store` (RFC 6749 §5.1)',
  schema: { type: 'string', const: 'no-store' },
} as const;
const ifNoneMatch: OpenApiParameter = {
  name: 'If-None-Match',
  in: 'header',
  description: 'An ETag held from an earlier answer: 304 if it is still current (RFC 9110 §13.1.2).',
  schema: { type: 'string' },
};
const cacheableHeaders = {
  'Cache-Control': { required: true, schema: { type: 'string' } },
  ETag: { required: true, description: 'Strong ETag of the document', schema: { type: 'string' } },
} as const;

const clientAuthentication: Record<string, JsonSchema> = {
  client_id: {
    type: 'string',
    description:
      'client_secret_post (with client_secret), or a public client identifying itself; ' +
      'with Basic authentication or a client assertion it may only repeat that client id.',
  },
  client_secret: {
    type: 'string',
    description: 'client_secret_post (RFC 6749 §2.3.1); never together with a Basic header.',
  },
  client_assertion_type: {
    type: 'string',
    const: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    description: 'private_key_jwt (RFC 7523 §2.2), with client_assertion.',
  },
  client_assertion: {
    type: 'string',
    description:
      'private_key_jwt: a JWT signed (RS256 or ES256) with one of the client’s registered keys ' +
      '(`kid` selects it), with `iss` = `sub` = the client id, `aud` = the issuer identifier as ' +
      'a string (not the endpoint URL, not an array), `exp` at most 5 minutes ahead and a ' +
      'single-use `jti`; `typ`, if present, `client-authentication+jwt` or `JWT` ' +
      '(draft-ietf-oauth-rfc7523bis). Never together with a Basic header or client_secret.',
  },
};
const scopeParameter: JsonSchema = {
  type: 'string',
  description:
    'Space-separated scope values (RFC 6749 §3.3), each understood by a requested resource ' +
    '(else `invalid_scope`); default: what the client (and user) may have at those resources.',
};
const resourceParameter: JsonSchema = {
  type: ['string', 'array'],
  items: { type: 'string' },
  description:
    'The resource the token is for (RFC 8707 §2): a registered resource identifier, an absolute ' +
    'URI; repeat the parameter for several. It becomes the token’s `aud`. A client allowed ' +
    'exactly one resource may omit it; otherwise omitting it, or naming one that is unknown or ' +
    'not allowed to the client, is `invalid_target`.',
};

/** The operations every form endpoint shares (RFC 6749 §3.2: urlencoded POST bodies). */
const formEndpointResponses = {
  '401': responseRef('InvalidClient'),
  '405': responseRef('MethodNotAllowed'),
  '413': responseRef('PayloadTooLarge'),
  '415': responseRef('UnsupportedMediaType'),
  '503': responseRef('TemporarilyUnavailable'),
};

/** A server-rendered page (sign-in, consent, error, signed out): no script, no framing. */
const pageResponse = (description: string): OpenApiResponse => ({
  description,
  headers: {
    'Content-Security-Policy': {
      required: true,
      description:
        "No script; styles by nonce; `frame-ancestors 'none'`; form posts only here and to the client",
      schema: { type: 'string' },
    },
    'Cache-Control': { required: true, schema: { type: 'string', const: 'no-store' } },
  },
  content: { 'text/html': { schema: { type: 'string' } } },
});
/** A 303 to the client's registered redirect URI (or post-logout URI). */
const redirectResponse = (description: string): OpenApiResponse => ({
  description,
  headers: { Location: { required: true, schema: { type: 'string', format: 'uri' } } },
});
const authorizationRequestParameters: OpenApiParameter[] = [
  ['response_type', 'Must be `code`', true],
  ['client_id', 'A client registered for the authorization_code grant', true],
  ['redirect_uri', 'Exactly one of the client’s registered redirect URIs (string comparison)', true],
  ['scope', 'Space-separated; `openid` (and `profile`) for OpenID Connect', false],
  ['resource', 'RFC 8707, repeatable: the resources the tokens are for (bound to the code)', false],
  ['state', 'Returned unchanged', false],
  ['code_challenge', 'PKCE (RFC 7636): BASE64URL(SHA256(code_verifier)), required of every client', true],
  ['code_challenge_method', 'Must be `S256` (`plain` is refused)', true],
  ['nonce', 'OpenID Connect: copied into the ID token', false],
  ['prompt', '`none`, `login`, `consent` (OpenID Connect Core §3.1.2.1)', false],
  ['max_age', 'Seconds since sign-in after which the password is asked again', false],
].map(([name, description, required]) => ({
  name: name as string,
  in: 'query' as const,
  description: description as string,
  required: required as boolean,
  schema: { type: 'string' },
}));
const signInFormFields: Record<string, JsonSchema> = {
  csrf_token: { type: 'string', description: 'From the page: the form is refused (403) without it' },
  request: { type: 'string', description: 'The authorization request, as the page carries it' },
};
const endSessionParameters: Record<string, JsonSchema> = {
  id_token_hint: { type: 'string', description: 'An ID token we issued (expired is fine)' },
  client_id: { type: 'string' },
  post_logout_redirect_uri: {
    type: 'string',
    description: 'Exactly one of the client’s registered post-logout redirect URIs',
  },
  state: { type: 'string', description: 'Returned unchanged to post_logout_redirect_uri' },
};
const userinfoOperation = (operationId: string) => ({
  operationId,
  tags: ['openid'],
  summary: 'The signed-in user’s claims (OpenID Connect Core §5.3)',
  description:
    'Bearer access token with scope `openid` (in the Authorization header only); its audience ' +
    'includes this endpoint. `preferred_username` comes with scope `profile`.',
  security: [{ bearer: [] }],
  responses: {
    '200': {
      description: 'The claims',
      headers: { 'Cache-Control': { required: true, ...noStore } },
      content: jsonContent(schemaRef('UserInfo')),
    },
    '400': errorResponse('A malformed Authorization header', ['invalid_request']),
    '401': errorResponse('No token, or an invalid, expired or revoked one (RFC 6750 §3.1)', [
      'unauthorized',
      'invalid_token',
    ]),
    '403': errorResponse('The token lacks the openid scope', ['insufficient_scope']),
    '405': responseRef('MethodNotAllowed'),
    '429': responseRef('TooManyRequests'),
    '503': responseRef('TemporarilyUnavailable'),
  },
});
const endSessionResponses = {
  '200': pageResponse('The signed-out page, or a page asking to confirm signing out'),
  '303': redirectResponse('Signed out; back to the registered post_logout_redirect_uri with `state`'),
  '400': pageResponse('An invalid id_token_hint or an unregistered post_logout_redirect_uri: an error page'),
  '405': responseRef('MethodNotAllowed'),
  '429': responseRef('TooManyRequests'),
};

/** Client authentication on the form endpoints: Basic header, or nothing in the headers (body). */
const clientSecurity: OpenApiSecurityRequirement[] = [{ clientSecretBasic: [] }, {}];

/**
 * The auth server's HTTP API as OpenAPI 3.1, served at `GET /openapi.json` and checked
 * against the routes the app really serves by `test/openapi.test.ts`.
 */
export const openApiDocument: OpenApiDocument = {
  openapi: '3.1.0',
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
        requestBody: { required: true, content: form(schemaRef('TokenRequest')) },
        responses: {
          '200': {
            description: 'The token (RFC 6749 §5.1)',
            headers: {
              'Cache-Control': { required: true, ...noStore },
              Pragma: { required: true, schema: { type: 'string', const: 'no-cache' } },
            },
            content: jsonContent(schemaRef('TokenResponse')),
          },
          '400': {
            description: 'The request or the grant is refused (RFC 6749 §5.2)',
            content: jsonContent(schemaRef('TokenError')),
          },
          ...formEndpointResponses,
          '429': responseRef('TooManyRequests'),
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
        parameters: authorizationRequestParameters,
        responses: {
          '200': pageResponse('The sign-in or consent page'),
          '303': redirectResponse('Back to the client: a code, or an error (RFC 6749 §4.1.2)'),
          '400': pageResponse('Unknown client or unregistered redirect URI: an error page'),
          '405': responseRef('MethodNotAllowed'),
          '429': pageResponse('Too many requests from this address (`RATE_LIMIT_IP`); `Retry-After`'),
        },
      },
      post: {
        operationId: 'authorizeByForm',
        tags: ['sign-in'],
        summary: 'The same authorization request as a form post (OpenID Connect Core §3.1.2.1)',
        security: [],
        requestBody: {
          required: true,
          content: form({
            type: 'object',
            required: [
              'response_type',
              'client_id',
              'redirect_uri',
              'code_challenge',
              'code_challenge_method',
            ],
            properties: Object.fromEntries(
              authorizationRequestParameters.map(({ name, description }) => [
                name,
                { type: 'string', description },
              ]),
            ),
          }),
        },
        responses: {
          '200': pageResponse('The sign-in or consent page'),
          '303': redirectResponse('Back to the client: a code, or an error (RFC 6749 §4.1.2)'),
          '400': pageResponse(
            'Unknown client or unregistered redirect URI, or a malformed body: an error page',
          ),
          '405': responseRef('MethodNotAllowed'),
          '429': pageResponse('Too many requests from this address (`RATE_LIMIT_IP`); `Retry-After`'),
        },
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
        requestBody: {
          required: true,
          content: form({
            type: 'object',
            required: ['csrf_token', 'request', 'username', 'password'],
            properties: { ...signInFormFields, username: { type: 'string' }, password: { type: 'string' } },
          }),
        },
        responses: {
          '200': pageResponse('Signed in: the consent page'),
          '303': redirectResponse('Signed in: back to the client with a code, or an error'),
          '400': pageResponse('The username or password is wrong (one message for every cause)'),
          '403': pageResponse('No or a wrong CSRF token'),
          '405': responseRef('MethodNotAllowed'),
          '429': pageResponse('Too many failed attempts for this username, or from this address'),
          '503': pageResponse('Too many password checks at once, or the store is unreachable'),
        },
      },
    },
    '/oauth/authorize/consent': {
      post: {
        operationId: 'consent',
        tags: ['sign-in'],
        summary: 'The consent form: allow or deny',
        security: [],
        requestBody: {
          required: true,
          content: form({
            type: 'object',
            required: ['csrf_token', 'request', 'decision'],
            properties: { ...signInFormFields, decision: { type: 'string', enum: ['allow', 'deny'] } },
          }),
        },
        responses: {
          '200': pageResponse('The session has ended meanwhile: the sign-in page'),
          '303': redirectResponse('Back to the client: a code, or `access_denied`'),
          '400': pageResponse('An invalid request: an error page'),
          '403': pageResponse('No or a wrong CSRF token'),
          '405': responseRef('MethodNotAllowed'),
          '429': pageResponse('Too many requests from this address (`RATE_LIMIT_IP`); `Retry-After`'),
        },
      },
    },
    '/oauth/userinfo': {
      get: userinfoOperation('getUserInfo'),
      post: userinfoOperation('postUserInfo'),
    },
    '/oauth/logout': {
      get: {
        operationId: 'endSession',
        tags: ['openid'],
        summary: 'RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)',
        description:
          'Ends the browser session. With an id_token_hint for the signed-in session it signs out at ' +
          'once; otherwise it asks the user to confirm. Redirects only to a registered post-logout URI.',
        security: [],
        parameters: Object.entries(endSessionParameters).map(([name, schema]) => ({
          name,
          in: 'query' as const,
          schema,
        })),
        responses: endSessionResponses,
      },
      post: {
        operationId: 'confirmEndSession',
        tags: ['openid'],
        summary: 'RP-initiated logout by form (the confirmation page posts here with its CSRF token)',
        security: [],
        requestBody: {
          required: true,
          content: form({
            type: 'object',
            properties: { ...endSessionParameters, csrf_token: { type: 'string' } },
          }),
        },
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
        requestBody: { required: true, content: form(schemaRef('TokenReferenceRequest')) },
        responses: {
          '200': {
            description: 'Revoked, or nothing to revoke; no body',
            headers: { 'Cache-Control': { required: true, ...noStore } },
          },
          '400': {
            description: 'Malformed request',
            content: jsonContent(toErrorSchema(['invalid_request'])),
          },
          // 503 (formEndpointResponses) also answers a client over its revocation quota.
          ...formEndpointResponses,
          '429': responseRef('TooManyRequests'),
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
        requestBody: { required: true, content: form(schemaRef('TokenReferenceRequest')) },
        responses: {
          '200': {
            description: 'The introspection response (RFC 7662 §2.2)',
            headers: { 'Cache-Control': { required: true, ...noStore } },
            content: jsonContent(schemaRef('IntrospectionResponse')),
          },
          '400': {
            description: 'Malformed request',
            content: jsonContent(toErrorSchema(['invalid_request'])),
          },
          ...formEndpointResponses,
          '429': responseRef('TooManyRequests'),
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
        parameters: [ifNoneMatch],
        responses: {
          '200': {
            description: 'The feed',
            headers: cacheableHeaders,
            content: jsonContent(schemaRef('RevocationFeed')),
          },
          '304': responseRef('NotModified'),
          '405': responseRef('MethodNotAllowed'),
          '503': responseRef('TemporarilyUnavailable'),
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
        parameters: [ifNoneMatch],
        responses: {
          '200': {
            description: 'The key set',
            headers: cacheableHeaders,
            content: { 'application/jwk-set+json': { schema: schemaRef('JwkSet') } },
          },
          '304': responseRef('NotModified'),
          '405': responseRef('MethodNotAllowed'),
        },
      },
    },
    '/.well-known/oauth-authorization-server': {
      get: {
        operationId: 'getServerMetadata',
        tags: ['discovery'],
        summary: 'Authorization server metadata (RFC 8414 §3)',
        security: [],
        responses: {
          '200': responseRef('ServerMetadata'),
          '405': responseRef('MethodNotAllowed'),
        },
      },
    },
    '/.well-known/openid-configuration': {
      get: {
        operationId: 'getOpenIdConfiguration',
        tags: ['discovery'],
        summary: 'OpenID Connect Discovery 1.0: the same metadata plus userinfo, logout and ID tokens',
        security: [],
        responses: {
          '200': responseRef('ServerMetadata'),
          '405': responseRef('MethodNotAllowed'),
        },
      },
    },
    '/healthz': {
      get: {
        operationId: 'getLiveness',
        tags: ['operations'],
        summary: 'Liveness: the process answers',
        security: [],
        responses: {
          '200': {
            description: 'Alive',
            headers: { 'Cache-Control': { required: true, ...noStore } },
            content: jsonContent(schemaRef('Liveness')),
          },
        },
      },
    },
    '/readyz': {
      get: {
        operationId: 'getReadiness',
        tags: ['operations'],
        summary: 'Readiness: the store (and Redis, when configured) answers and a signing key is loaded',
        security: [],
        responses: {
          '200': { description: 'Ready', content: jsonContent(schemaRef('Readiness')) },
          '503': {
            description: 'Not ready; `checks` says what is missing',
            content: jsonContent(schemaRef('Readiness')),
          },
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        tags: ['discovery'],
        summary: 'This document',
        security: [],
        parameters: [ifNoneMatch],
        responses: {
          '200': {
            description: 'The OpenAPI 3.1 description of this server',
            headers: cacheableHeaders,
            content: jsonContent(schemaRef('OpenApiDocument')),
          },
          '304': responseRef('NotModified'),
          '405': responseRef('MethodNotAllowed'),
        },
      },
    },
  },
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
    schemas: {
      TokenRequest: {
        description: 'One of the four grants, chosen by `grant_type`.',
        oneOf: [
          schemaRef('PasswordGrant'),
          schemaRef('ClientCredentialsGrant'),
          schemaRef('RefreshTokenGrant'),
          schemaRef('AuthorizationCodeGrant'),
          schemaRef('TokenExchangeGrant'),
        ],
        discriminator: {
          propertyName: 'grant_type',
          mapping: {
            password: '#/components/schemas/PasswordGrant',
            client_credentials: '#/components/schemas/ClientCredentialsGrant',
            refresh_token: '#/components/schemas/RefreshTokenGrant',
            authorization_code: '#/components/schemas/AuthorizationCodeGrant',
            'urn:ietf:params:oauth:grant-type:token-exchange': '#/components/schemas/TokenExchangeGrant',
          },
        },
      },
      PasswordGrant: {
        type: 'object',
        description: 'Resource owner password credentials (RFC 6749 §4.3).',
        required: ['grant_type', 'username', 'password'],
        properties: {
          grant_type: { type: 'string', const: 'password' },
          username: { type: 'string' },
          password: { type: 'string' },
          scope: scopeParameter,
          resource: resourceParameter,
          ...clientAuthentication,
        },
      },
      ClientCredentialsGrant: {
        type: 'object',
        description: 'Client credentials (RFC 6749 §4.4); no refresh token is issued.',
        required: ['grant_type'],
        properties: {
          grant_type: { type: 'string', const: 'client_credentials' },
          scope: scopeParameter,
          resource: resourceParameter,
          ...clientAuthentication,
        },
      },
      RefreshTokenGrant: {
        type: 'object',
        description:
          'Refresh (RFC 6749 §6); the scope may be narrowed, never widened. Without `resource` ' +
          'the token is for all of the grant’s resources; `resource` may narrow to some of them ' +
          '(RFC 8707 §2.2), never add one (`invalid_target`).',
        required: ['grant_type', 'refresh_token'],
        properties: {
          grant_type: { type: 'string', const: 'refresh_token' },
          refresh_token: { type: 'string' },
          scope: scopeParameter,
          resource: resourceParameter,
          ...clientAuthentication,
        },
      },
      AuthorizationCodeGrant: {
        type: 'object',
        description:
          'Authorization code with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5): single use, 60 s, for the ' +
          'client and redirect URI it was issued to; a second use revokes what the first issued.',
        required: ['grant_type', 'code', 'redirect_uri', 'code_verifier'],
        properties: {
          grant_type: { type: 'string', const: 'authorization_code' },
          code: { type: 'string' },
          redirect_uri: { type: 'string' },
          code_verifier: { type: 'string', minLength: 43, maxLength: 128 },
          ...clientAuthentication,
        },
      },
      UserInfo: {
        type: 'object',
        required: ['sub'],
        properties: { sub: { type: 'string' }, preferred_username: { type: 'string' } },
        additionalProperties: false,
      },
      TokenExchangeGrant: {
        type: 'object',
        description:
          'Token exchange for delegation (RFC 8693): the authenticated client (the actor, registered ' +
          'for this grant) presents an access token it received as a resource’s server and gets one ' +
          'for another resource it may ask for, on the same user’s behalf. The subject token must ' +
          'be valid, unrevoked and for a resource the client serves (else `invalid_request`, RFC 8693 ' +
          '§2.2.2); the ' +
          'scope never exceeds the subject token’s; the new token has `client_id` = the actor and ' +
          '`act: {sub: actor}` (nested when the subject was itself exchanged, up to ' +
          'TOKEN_EXCHANGE_MAX_DEPTH actors, else `invalid_request`), expires no later than the ' +
          'subject token and comes without a refresh token.',
        required: ['grant_type', 'subject_token', 'subject_token_type'],
        properties: {
          grant_type: { type: 'string', const: 'urn:ietf:params:oauth:grant-type:token-exchange' },
          subject_token: { type: 'string', description: 'An access token this server issued' },
          subject_token_type: { type: 'string', const: 'urn:ietf:params:oauth:token-type:access_token' },
          requested_token_type: { type: 'string', const: 'urn:ietf:params:oauth:token-type:access_token' },
          resource: resourceParameter,
          audience: {
            type: 'string',
            description:
              'RFC 8693 §2.1: a target named by its resource identifier, checked as `resource` is ' +
              '(`invalid_target` if the client may not ask for it)',
          },
          scope: scopeParameter,
          ...clientAuthentication,
        },
      },
      TokenResponse: {
        type: 'object',
        description: 'RFC 6749 §5.1; the access token is an RFC 9068 JWT (`typ: at+jwt`, RS256).',
        required: ['access_token', 'token_type', 'expires_in', 'scope'],
        properties: {
          access_token: { type: 'string' },
          token_type: { type: 'string', const: 'Bearer' },
          expires_in: { type: 'integer', minimum: 1, description: 'Seconds' },
          scope: { type: 'string' },
          refresh_token: {
            type: 'string',
            description:
              'Password, authorization_code and refresh_token grants, when the client may use refresh_token.',
          },
          id_token: {
            type: 'string',
            description:
              'authorization_code with scope `openid`: an OpenID Connect ID token (RS256, `typ: JWT`, ' +
              'aud = the client; never accepted as an access token).',
          },
          issued_token_type: {
            type: 'string',
            const: 'urn:ietf:params:oauth:token-type:access_token',
            description: 'Token exchange only (RFC 8693 §2.2.1)',
          },
        },
        additionalProperties: false,
      },
      TokenError: toErrorSchema(
        [
          'invalid_request',
          'invalid_grant',
          'unauthorized_client',
          'unsupported_grant_type',
          'invalid_scope',
          'invalid_target',
        ],
        'RFC 6749 §5.2, RFC 8707 §2 (invalid_target)',
      ),
      TokenReferenceRequest: {
        type: 'object',
        description: 'RFC 7009 §2.1 / RFC 7662 §2.1.',
        required: ['token'],
        properties: {
          token: { type: 'string' },
          token_type_hint: {
            type: 'string',
            enum: ['access_token', 'refresh_token'],
            description: 'Accepted and not needed: the two formats cannot be confused.',
          },
          ...clientAuthentication,
        },
      },
      IntrospectionResponse: {
        description: 'RFC 7662 §2.2',
        oneOf: [schemaRef('InactiveToken'), schemaRef('ActiveAccessToken'), schemaRef('ActiveRefreshToken')],
      },
      InactiveToken: {
        type: 'object',
        description:
          'Unknown, expired, revoked, or not this client’s (an access token whose `aud` names no ' +
          'resource this client is the server of, RFC 7662 §4): nothing more is said.',
        required: ['active'],
        properties: { active: { type: 'boolean', const: false } },
        additionalProperties: false,
      },
      ActiveAccessToken: {
        type: 'object',
        required: ['active', 'client_id', 'sub', 'exp', 'iat', 'iss', 'aud', 'jti', 'token_type'],
        properties: {
          active: { type: 'boolean', const: true },
          scope: { type: 'string' },
          client_id: { type: 'string' },
          sub: { type: 'string', description: 'The user id, or the client id for client_credentials' },
          exp: { type: 'integer' },
          iat: { type: 'integer' },
          iss: { type: 'string' },
          aud: { type: ['string', 'array'], items: { type: 'string' } },
          jti: { type: 'string' },
          act: {
            type: 'object',
            description: 'An exchanged token’s actor chain (RFC 8693 §4.1): `sub`, and a nested `act`',
            required: ['sub'],
          },
          token_type: { type: 'string', const: 'Bearer' },
        },
        additionalProperties: false,
      },
      ActiveRefreshToken: {
        type: 'object',
        required: ['active', 'scope', 'client_id', 'sub', 'exp', 'iat', 'token_type'],
        properties: {
          active: { type: 'boolean', const: true },
          scope: { type: 'string' },
          client_id: { type: 'string' },
          sub: { type: 'string' },
          exp: { type: 'integer', description: 'The earlier of the absolute and the idle expiry' },
          iat: { type: 'integer' },
          token_type: { type: 'string', const: 'refresh_token' },
        },
        additionalProperties: false,
      },
      RevocationFeed: {
        type: 'object',
        required: ['generated_at', 'revoked'],
        properties: {
          generated_at: { type: 'integer', description: 'Epoch seconds' },
          key_set: { type: 'string', description: 'The current JWKS ETag' },
          revoked: {
            type: 'object',
            required: ['jti', 'sid', 'sub', 'client_id'],
            properties: {
              jti: schemaRef('RevocationDigests'),
              sid: schemaRef('RevocationDigests'),
              sub: schemaRef('RevocationCutOffs'),
              client_id: schemaRef('RevocationCutOffs'),
            },
            additionalProperties: false,
          },
        },
        additionalProperties: false,
      },
      RevocationDigests: {
        type: 'string',
        description: 'Digests of revoked values, 16 base64url characters each, concatenated',
      },
      RevocationCutOffs: {
        type: 'object',
        description: 'Digest → cut-off (epoch seconds): tokens issued at or before it are refused',
        additionalProperties: { type: 'integer' },
      },
      JwkSet: {
        type: 'object',
        description: 'RFC 7517 §5',
        required: ['keys'],
        properties: { keys: { type: 'array', items: schemaRef('Jwk') } },
        additionalProperties: false,
      },
      Jwk: {
        type: 'object',
        description: 'An RSA public key (RFC 7517 §4, RFC 7518 §6.3.1); never a private member.',
        required: ['kty', 'kid', 'use', 'alg', 'n', 'e'],
        properties: {
          kty: { type: 'string', const: 'RSA' },
          kid: { type: 'string' },
          use: { type: 'string', const: 'sig' },
          alg: { type: 'string', const: 'RS256' },
          n: { type: 'string', description: 'Modulus, base64url' },
          e: { type: 'string', description: 'Exponent, base64url' },
        },
        additionalProperties: false,
      },
      ServerMetadata: {
        type: 'object',
        description: 'RFC 8414 §2; URLs are absolute, under the issuer.',
        required: [
          'issuer',
          'token_endpoint',
          'jwks_uri',
          'response_types_supported',
          'grant_types_supported',
          'token_endpoint_auth_methods_supported',
        ],
        properties: {
          issuer: { type: 'string', format: 'uri' },
          token_endpoint: { type: 'string', format: 'uri' },
          jwks_uri: { type: 'string', format: 'uri' },
          revocation_endpoint: { type: 'string', format: 'uri' },
          introspection_endpoint: { type: 'string', format: 'uri' },
          grant_types_supported: {
            type: 'array',
            items: {
              type: 'string',
              enum: [
                'authorization_code',
                'refresh_token',
                'client_credentials',
                'password',
                'urn:ietf:params:oauth:grant-type:token-exchange',
              ],
            },
          },
          authorization_endpoint: { type: 'string', format: 'uri' },
          response_types_supported: { type: 'array', items: { type: 'string', const: 'code' } },
          response_modes_supported: { type: 'array', items: { type: 'string', const: 'query' } },
          code_challenge_methods_supported: { type: 'array', items: { type: 'string', const: 'S256' } },
          authorization_response_iss_parameter_supported: { type: 'boolean', const: true },
          userinfo_endpoint: { type: 'string', format: 'uri', description: 'OpenID Connect only' },
          end_session_endpoint: { type: 'string', format: 'uri', description: 'OpenID Connect only' },
          scopes_supported: { type: 'array', items: { type: 'string' } },
          subject_types_supported: { type: 'array', items: { type: 'string' } },
          id_token_signing_alg_values_supported: { type: 'array', items: { type: 'string' } },
          claims_supported: { type: 'array', items: { type: 'string' } },
          prompt_values_supported: { type: 'array', items: { type: 'string' } },
          request_parameter_supported: { type: 'boolean' },
          request_uri_parameter_supported: { type: 'boolean' },
          claims_parameter_supported: { type: 'boolean' },
          token_endpoint_auth_methods_supported: schemaRef('AuthMethods'),
          revocation_endpoint_auth_methods_supported: schemaRef('AuthMethods'),
          introspection_endpoint_auth_methods_supported: schemaRef('AuthMethods'),
          token_endpoint_auth_signing_alg_values_supported: schemaRef('AssertionAlgorithms'),
          revocation_endpoint_auth_signing_alg_values_supported: schemaRef('AssertionAlgorithms'),
          introspection_endpoint_auth_signing_alg_values_supported: schemaRef('AssertionAlgorithms'),
          access_token_signing_alg_values_supported: {
            type: 'array',
            items: { type: 'string', const: 'RS256' },
          },
          resource_indicators_supported: {
            type: 'boolean',
            const: true,
            description:
              'The token endpoint takes the RFC 8707 `resource` parameter (every grant) and ' +
              'answers `invalid_target`; each access token’s `aud` is its resources.',
          },
        },
      },
      AuthMethods: {
        type: 'array',
        items: {
          type: 'string',
          enum: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
        },
      },
      AssertionAlgorithms: {
        type: 'array',
        description: 'What private_key_jwt client assertions may be signed with',
        items: { type: 'string', enum: ['RS256', 'ES256'] },
      },
      Liveness: livenessSchema,
      Readiness: {
        type: 'object',
        required: ['status', 'checks'],
        properties: {
          status: { type: 'string', enum: ['ready', 'not ready'] },
          checks: {
            type: 'object',
            required: ['storage', 'keys'],
            properties: {
              storage: { type: 'boolean', description: 'The store answers' },
              keys: { type: 'boolean', description: 'An active signing key is loaded' },
              redis: {
                type: 'boolean',
                description: 'The shared Redis answers (only when REDIS_URL is set)',
              },
            },
            additionalProperties: false,
          },
        },
        additionalProperties: false,
      },
      OpenApiDocument: openApiDocumentSchema,
    },
    responses: {
      ServerMetadata: {
        description: 'The metadata; cacheable for an hour',
        headers: {
          'Cache-Control': { required: true, schema: { type: 'string', const: 'public, max-age=3600' } },
        },
        content: jsonContent(schemaRef('ServerMetadata')),
      },
      NotModified: {
        description: 'The ETag in If-None-Match is current; no body',
        headers: cacheableHeaders,
      },
      InvalidClient: {
        description:
          'Client authentication failed (a wrong secret, an unknown client, an invalid, expired or ' +
          'replayed client assertion), or a public client tried introspection (RFC 6749 §5.2)',
        headers: {
          'WWW-Authenticate': {
            required: true,
            description: 'A Basic challenge: `Basic realm="tessera", charset="UTF-8"`',
            schema: { type: 'string' },
          },
        },
        content: jsonContent(toErrorSchema(['invalid_client'])),
      },
      MethodNotAllowed: errorResponse(
        'Another method than the documented ones (RFC 9110 §15.5.6)',
        ['method_not_allowed'],
        {
          headers: {
            Allow: {
              required: true,
              description: 'The methods this path serves',
              schema: { type: 'string' },
            },
          },
        },
      ),
      PayloadTooLarge: errorResponse('The body is larger than 8 KB', ['payload_too_large']),
      UnsupportedMediaType: errorResponse('The body’s charset or content encoding is not supported', [
        'unsupported_media_type',
      ]),
      TooManyRequests: errorResponse(
        'Too many attempts; retry after the given delay',
        ['too_many_requests'],
        {
          headers: { 'Retry-After': { description: 'Seconds', schema: { type: 'string' } } },
        },
      ),
      TemporarilyUnavailable: errorResponse(
        'The database is unreachable (or Redis, for a client assertion’s single-use check)',
        ['temporarily_unavailable'],
        {
          headers: retryAfterHeader,
        },
      ),
    },
  },
};

import {
  errorResponse,
  jsonContent,
  livenessSchema,
  openApiDocumentSchema,
  responseRef,
  retryAfterHeader,
  schemaRef,
  type OpenApiDocument,
  type OpenApiHeader,
} from '@tessera/shared';

/** The version of the HTTP API described below; bump it when the contract changes. */
export const resourceServerApiVersion = '0.1.0';

const noStore = { required: true, schema: { type: 'string', const: 'no-store' } } as const;

/** RFC 6750 §3: every 401 and 403 carries a Bearer challenge. */
const bearerChallenge = (example: string): Record<string, OpenApiHeader> => ({
  'WWW-Authenticate': {
    required: true,
    description: `RFC 6750 §3 Bearer challenge, e.g. \`${example}\``,
    schema: { type: 'string' },
  },
});

/** What every bearer-protected operation may answer besides its own outcomes. */
const bearerResponses = {
  '400': responseRef('BadRequest'),
  '401': responseRef('Unauthorized'),
  '503': responseRef('KeysUnavailable'),
};

/**
 * The resource server's HTTP API as OpenAPI 3.1, served at `GET /openapi.json` and
 * checked against the routes the app really serves by `test/openapi.test.ts`. Contract:
 * docs/http-contract.md.
 */
export const openApiDocument: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Tessera resource server',
    version: resourceServerApiVersion,
    description:
      'An example API protected by Tessera access tokens (RFC 9068 JWTs, RS256), verified ' +
      'locally against the auth server’s JWKS. Send the token in the `Authorization: Bearer` ' +
      'header only (RFC 6750 §2.1; never in the query string or body). Errors are JSON ' +
      '`{error, error_description}`; authentication failures carry an RFC 6750 §3 challenge.',
  },
  servers: [{ url: '/', description: 'This server' }],
  tags: [
    { name: 'api', description: 'Protected resources' },
    { name: 'operations', description: 'Probes and this document' },
  ],
  paths: {
    '/api/me': {
      get: {
        operationId: 'getMe',
        tags: ['api'],
        summary: 'The verified claims of the caller; any valid token will do',
        security: [{ bearerAuth: [] }],
        responses: {
          '200': {
            description: 'The token’s claims, as signed',
            headers: { 'Cache-Control': noStore },
            content: jsonContent(schemaRef('AccessTokenClaims')),
          },
          ...bearerResponses,
        },
      },
    },
    '/api/notes': {
      get: {
        operationId: 'listNotes',
        tags: ['api'],
        summary: 'The caller’s own notes (scope `notes:read`)',
        security: [{ bearerAuth: ['notes:read'] }],
        responses: {
          '200': {
            description: 'The notes of the token’s `sub`, oldest first',
            headers: { 'Cache-Control': noStore },
            content: jsonContent(schemaRef('NoteList')),
          },
          ...bearerResponses,
          '403': responseRef('InsufficientScope'),
        },
      },
      post: {
        operationId: 'createNote',
        tags: ['api'],
        summary: 'Add a note for the caller (scope `notes:write`)',
        description: 'The token is checked before the body is read.',
        security: [{ bearerAuth: ['notes:write'] }],
        requestBody: { required: true, content: jsonContent(schemaRef('NewNote')) },
        responses: {
          '201': {
            description: 'The stored note',
            headers: { 'Cache-Control': noStore },
            content: jsonContent(schemaRef('Note')),
          },
          ...bearerResponses,
          '403': responseRef('InsufficientScope'),
          '409': errorResponse('The caller already has the most notes one user may keep (100)', ['conflict']),
          '413': errorResponse('The body is larger than 16 KB', ['payload_too_large']),
          '415': errorResponse('The body is not application/json (UTF-8)', ['unsupported_media_type']),
          '507': errorResponse('The notes store is full (10,000 notes in all)', ['insufficient_storage']),
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
            headers: { 'Cache-Control': noStore },
            content: jsonContent(schemaRef('Liveness')),
          },
        },
      },
    },
    '/readyz': {
      get: {
        operationId: 'getReadiness',
        tags: ['operations'],
        summary: 'Readiness: a usable key set and a usable revocation list are held',
        description:
          'Stays ready while JWKS refreshes fail, as long as the held set is within its stale ' +
          'window, and while revocation-feed polls fail, as long as the held list is younger than ' +
          '`stale_after_seconds` (four refresh intervals, at least 30 s). Before the first list ' +
          'and past that bound it is not ready, and protected routes answer 503 (fail closed).',
        security: [],
        responses: {
          '200': { description: 'Ready', content: jsonContent(schemaRef('Readiness')) },
          '503': {
            description: 'Not ready; `reason` says why',
            content: jsonContent(schemaRef('Readiness')),
          },
        },
      },
    },
    '/.well-known/oauth-protected-resource': {
      get: {
        operationId: 'getProtectedResourceMetadata',
        tags: ['operations'],
        summary: 'Protected-resource metadata (RFC 9728)',
        description:
          'What this service is: its resource identifier (`AUDIENCE`, the one `aud` it accepts), ' +
          'the authorization server that issues its tokens and the scopes it understands. Served ' +
          'at the path its identifier implies (RFC 9728 §3.1; this path for an identifier ' +
          'without one); every Bearer challenge names it in `resource_metadata` (§5.1).',
        security: [],
        responses: {
          '200': {
            description: 'The metadata; cacheable for an hour',
            headers: {
              'Cache-Control': { required: true, schema: { type: 'string', const: 'public, max-age=3600' } },
            },
            content: jsonContent(schemaRef('ProtectedResourceMetadata')),
          },
          '405': errorResponse('Another method than GET or HEAD', ['method_not_allowed'], {
            headers: { Allow: { required: true, schema: { type: 'string' } } },
          }),
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        tags: ['operations'],
        summary: 'This document',
        security: [],
        parameters: [
          {
            name: 'If-None-Match',
            in: 'header',
            description: 'An ETag held from an earlier answer: 304 if it is still current.',
            schema: { type: 'string' },
          },
        ],
        responses: {
          '200': {
            description: 'The OpenAPI 3.1 description of this server; cacheable for an hour',
            headers: {
              'Cache-Control': { required: true, schema: { type: 'string', const: 'public, max-age=3600' } },
              ETag: { required: true, schema: { type: 'string' } },
            },
            content: jsonContent(schemaRef('OpenApiDocument')),
          },
          '304': { description: 'The ETag in If-None-Match is current; no body' },
          '405': errorResponse('Another method than GET or HEAD', ['method_not_allowed'], {
            headers: { Allow: { required: true, schema: { type: 'string' } } },
          }),
        },
      },
    },
  },
  components: {
    securitySchemes: {
      bearerAuth: {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'An access token from the Tessera auth server (RFC 9068: `typ: at+jwt`, RS256, `iss` as ' +
          'configured, `aud` including this service’s resource identifier: a token requested for ' +
          'another service is refused). Challenges carry `resource_metadata` (RFC 9728 §5.1). Scopes listed on an operation must all be in the token’s `scope` ' +
          'claim: `notes:read` to list notes, `notes:write` to add one.',
      },
    },
    schemas: {
      AccessTokenClaims: {
        type: 'object',
        description: 'RFC 9068 §2.2; other claims the token carries are passed through.',
        required: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'],
        properties: {
          iss: { type: 'string' },
          sub: { type: 'string', description: 'A user id, or the client id for client_credentials' },
          aud: { type: ['string', 'array'], items: { type: 'string' } },
          exp: { type: 'integer' },
          iat: { type: 'integer' },
          jti: { type: 'string' },
          client_id: { type: 'string' },
          scope: { type: 'string', description: 'Space-separated (RFC 6749 §3.3)' },
          sid: { type: 'string', description: 'The refresh-token family, for tokens minted from one' },
        },
      },
      ProtectedResourceMetadata: {
        type: 'object',
        description: 'RFC 9728 §2',
        required: ['resource', 'authorization_servers', 'scopes_supported', 'bearer_methods_supported'],
        properties: {
          resource: { type: 'string', description: 'This service’s resource identifier (RFC 8707)' },
          authorization_servers: { type: 'array', items: { type: 'string', format: 'uri' } },
          scopes_supported: { type: 'array', items: { type: 'string' } },
          bearer_methods_supported: { type: 'array', items: { type: 'string', const: 'header' } },
        },
        additionalProperties: false,
      },
      NewNote: {
        type: 'object',
        required: ['text'],
        properties: { text: { type: 'string', minLength: 1, maxLength: 1000 } },
      },
      Note: {
        type: 'object',
        required: ['id', 'text', 'created_at'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          text: { type: 'string' },
          created_at: { type: 'string', format: 'date-time' },
        },
        additionalProperties: false,
      },
      NoteList: {
        type: 'object',
        required: ['notes'],
        properties: { notes: { type: 'array', items: schemaRef('Note') } },
        additionalProperties: false,
      },
      Liveness: livenessSchema,
      Readiness: {
        type: 'object',
        required: ['status', 'jwks'],
        properties: {
          status: { type: 'string', enum: ['ok', 'not ready'] },
          reason: { type: 'string', description: 'Only when not ready' },
          jwks: {
            type: 'object',
            required: ['key_count', 'age_seconds'],
            properties: {
              key_count: { type: 'integer' },
              age_seconds: { type: ['number', 'null'], description: 'Since the set was last confirmed' },
            },
            additionalProperties: false,
          },
          revocations: {
            type: 'object',
            description: 'Only when the revocation feed is configured',
            required: ['loaded', 'entries', 'age_seconds', 'stale_after_seconds', 'last_fetch_failed'],
            properties: {
              loaded: { type: 'boolean' },
              entries: { type: 'integer' },
              age_seconds: { type: ['number', 'null'] },
              stale_after_seconds: {
                type: 'integer',
                description:
                  'Past this age the held list no longer counts: not ready, and 503 on protected routes',
              },
              last_fetch_failed: {
                type: 'boolean',
                description: 'The last fetch failed (the reason is in the service log, not here)',
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
      BadRequest: errorResponse(
        'The Authorization header is malformed, the token was sent in more than one way (RFC 6750 §2), ' +
          'or the body is not a valid request',
        ['invalid_request'],
        {
          headers: {
            'WWW-Authenticate': {
              required: false,
              description:
                'RFC 6750 §3 Bearer challenge when the bearer request itself is malformed, e.g. ' +
                '`Bearer realm="tessera", error="invalid_request", error_description="malformed Authorization header"`; ' +
                'absent when only the body is wrong',
              schema: { type: 'string' },
            },
          },
        },
      ),
      Unauthorized: errorResponse(
        'No bearer token (`unauthorized`, a bare challenge: RFC 6750 §3.1), or the token is not ' +
          'valid (`invalid_token`: signature, issuer, audience, type, expiry, or revoked)',
        ['unauthorized', 'invalid_token'],
        {
          headers: bearerChallenge(
            'Bearer realm="tessera", error="invalid_token", error_description="token expired"',
          ),
        },
      ),
      InsufficientScope: errorResponse(
        'The token lacks a scope the operation needs (RFC 6750 §3.1)',
        ['insufficient_scope'],
        {
          headers: bearerChallenge(
            'Bearer realm="tessera", error="insufficient_scope", error_description="…", scope="notes:read"',
          ),
        },
      ),
      KeysUnavailable: errorResponse(
        'No usable key set (never loaded, or past its stale window) or no usable revocation list ' +
          '(never loaded, or older than its bound): the token cannot be checked yet',
        ['temporarily_unavailable'],
        { headers: retryAfterHeader },
      ),
    },
  },
};

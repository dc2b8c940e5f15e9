import { z } from 'zod';
import {
  commonPaths,
  createOpenApiDocument,
  errorResponse,
  jsonContent,
  methodNotAllowedResponse,
  noStore,
  protectedResourceMetadataBody,
  retryAfterHeaders,
  type OpenApiDocument,
  type ZodOpenApiResponseObject,
} from '@tessera/shared';
import { accessTokenClaimsBody, newNote, noteBody, noteListBody, readinessBody } from './contract.js';

/** The version of the HTTP API described below; bump it when the contract changes. */
export const resourceServerApiVersion = '0.1.0';

const noStoreHeaders = z.object({ 'Cache-Control': noStore });

/** RFC 6750 §3: every 401 and 403 carries a Bearer challenge. */
const bearerChallenge = (example: string) =>
  z.object({
    'WWW-Authenticate': z.string().meta({ description: `RFC 6750 §3 Bearer challenge, e.g. \`${example}\`` }),
  });

/** What every bearer-protected operation may answer besides its own outcomes. */
const bearerResponses: Record<'400' | '401' | '503', ZodOpenApiResponseObject> = {
  '400': {
    id: 'BadRequest',
    ...errorResponse(
      'The Authorization header is malformed, the token was sent in more than one way (RFC 6750 §2), ' +
        'or the body is not a valid request',
      ['invalid_request'],
      z.object({
        'WWW-Authenticate': z
          .string()
          .optional()
          .meta({
            description:
              'RFC 6750 §3 Bearer challenge when the bearer request itself is malformed, e.g. ' +
              '`Bearer realm="tessera", error="invalid_request", error_description="malformed Authorization header"`; ' +
              'absent when only the body is wrong',
          }),
      }),
    ),
  },
  '401': {
    id: 'Unauthorized',
    ...errorResponse(
      'No bearer token (`unauthorized`, a bare challenge: RFC 6750 §3.1), or the token is not ' +
        'valid (`invalid_token`: signature, issuer, audience, type, expiry, or revoked)',
      ['unauthorized', 'invalid_token'],
      bearerChallenge('Bearer realm="tessera", error="invalid_token", error_description="token expired"'),
    ),
  },
  '503': {
    id: 'KeysUnavailable',
    ...errorResponse(
      'No usable key set (never loaded, or past its stale window) or no usable revocation list ' +
        '(never loaded, or older than its bound): the token cannot be checked yet',
      ['temporarily_unavailable'],
      retryAfterHeaders,
    ),
  },
};
const insufficientScope: ZodOpenApiResponseObject = {
  id: 'InsufficientScope',
  ...errorResponse(
    'The token lacks a scope the operation needs (RFC 6750 §3.1)',
    ['insufficient_scope'],
    bearerChallenge(
      'Bearer realm="tessera", error="insufficient_scope", error_description="…", scope="notes:read"',
    ),
  ),
};

/**
 * The resource server's HTTP API as OpenAPI 3.1, generated from the schemas in `contract.ts`,
 * served at `GET /openapi.json` and checked against the routes the app really serves by
 * `test/openapi.test.ts`. Contract: docs/http-contract.md.
 */
export const openApiDocument: OpenApiDocument = createOpenApiDocument({
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
  },
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
            headers: noStoreHeaders,
            content: jsonContent(accessTokenClaimsBody),
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
            headers: noStoreHeaders,
            content: jsonContent(noteListBody),
          },
          ...bearerResponses,
          '403': insufficientScope,
        },
      },
      post: {
        operationId: 'createNote',
        tags: ['api'],
        summary: 'Add a note for the caller (scope `notes:write`)',
        description: 'The token is checked before the body is read.',
        security: [{ bearerAuth: ['notes:write'] }],
        requestBody: { required: true, content: jsonContent(newNote) },
        responses: {
          '201': { description: 'The stored note', headers: noStoreHeaders, content: jsonContent(noteBody) },
          ...bearerResponses,
          '403': insufficientScope,
          '409': errorResponse('The caller already has the most notes one user may keep (100)', ['conflict']),
          '413': errorResponse('The body is larger than 16 KB', ['payload_too_large']),
          '415': errorResponse('The body is not application/json (UTF-8)', ['unsupported_media_type']),
          '507': errorResponse('The notes store is full (10,000 notes in all)', ['insufficient_storage']),
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
          '200': { description: 'Ready', headers: noStoreHeaders, content: jsonContent(readinessBody) },
          '503': {
            description: 'Not ready; `reason` says why',
            headers: noStoreHeaders,
            content: jsonContent(readinessBody),
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
            headers: z.object({ 'Cache-Control': z.literal('public, max-age=3600') }),
            content: jsonContent(protectedResourceMetadataBody),
          },
          '405': methodNotAllowedResponse,
        },
      },
    },
    ...commonPaths('operations'),
  },
});

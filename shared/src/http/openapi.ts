import { createHash } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import {
  createDocument,
  type oas31,
  type ZodOpenApiObject,
  type ZodOpenApiPathItemObject,
  type ZodOpenApiResponseObject,
} from 'zod-openapi';
import { methodNotAllowed, type ErrorCode } from '../errors.js';
import { sendCacheable } from './send.js';

export type {
  ZodOpenApiObject,
  ZodOpenApiOperationObject,
  ZodOpenApiPathItemObject,
  ZodOpenApiPathsObject,
  ZodOpenApiResponseObject,
} from 'zod-openapi';

/** An OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0), as generated from zod schemas. */
export type OpenApiDocument = oas31.OpenAPIObject;

/**
 * A service's OpenAPI 3.1 document, generated from the zod schemas its routes parse and answer
 * with (zod-openapi): request and response schemas are written once, in the service's
 * `contract.ts`, and this turns them into JSON Schema 2020-12 under `components.schemas` (every
 * schema with a `.meta({ id })`). Descriptions, security schemes and examples are given there too.
 */
export function createOpenApiDocument(description: Omit<ZodOpenApiObject, 'openapi'>): OpenApiDocument {
  return createDocument({ openapi: '3.1.0', ...description });
}

/**
 * Serves an OpenAPI document at `GET /openapi.json` (HEAD too; other methods 405). The JSON
 * and its strong ETag are computed once, here, not per request; caches may keep it an hour
 * and revalidate with `If-None-Match` (answered 304).
 *
 * @param document the service's API description; serialised as it is when the router is created
 */
export function createOpenApiRouter(document: OpenApiDocument): Router {
  const body = JSON.stringify(document);
  const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
  const router = Router();
  router.get('/openapi.json', (req, res) => {
    sendCacheable(req, res, {
      body,
      etag,
      contentType: 'application/json; charset=utf-8',
      cacheControl: 'public, max-age=3600',
    });
  });
  router.all('/openapi.json', methodNotAllowed(['GET', 'HEAD']));
  return router;
}

/**
 * An error body as `toErrorBody` writes it (RFC 6749 §5.2, RFC 6750 §3), limited to the codes a
 * response can carry.
 */
export const errorBody = (codes: readonly [ErrorCode, ...ErrorCode[]]) =>
  z.object({
    error: z.enum(codes),
    error_description: z
      .string()
      .optional()
      .meta({ description: 'For people, not programs; only %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2).' }),
  });

/** A response or request body content map with the one media type `application/json`. */
export const jsonContent = (schema: z.ZodType) => ({ 'application/json': { schema } });

/** A response whose body is an error (see {@link errorBody}) with one of `codes`. */
export const errorResponse = (
  description: string,
  codes: readonly [ErrorCode, ...ErrorCode[]],
  headers?: z.ZodObject,
): ZodOpenApiResponseObject => ({
  description,
  content: jsonContent(errorBody(codes)),
  ...(headers === undefined ? {} : { headers }),
});

/** `Cache-Control: no-store` (RFC 6749 §5.1; every answer that must not be kept). */
export const noStore = z.literal('no-store').meta({ description: '`no-store` (RFC 6749 §5.1)' });

/** `Retry-After` in seconds, required (503 answers). */
export const retryAfterHeaders = z.object({ 'Retry-After': z.string().meta({ description: 'Seconds' }) });

/** 405 with `Allow` naming the path's methods (RFC 9110 §15.5.6). */
export const methodNotAllowedResponse: ZodOpenApiResponseObject = {
  ...errorResponse(
    'Another method than the documented ones (RFC 9110 §15.5.6)',
    ['method_not_allowed'],
    z.object({ Allow: z.string().meta({ description: 'The methods this path serves' }) }),
  ),
  id: 'MethodNotAllowed',
};

/** `If-None-Match` on a cacheable document: 304 if the held ETag is still current. */
export const ifNoneMatch = z.object({
  'If-None-Match': z.string().optional().meta({
    description: 'An ETag held from an earlier answer: 304 if it is still current (RFC 9110 §13.1.2).',
  }),
});

/** The headers of a cacheable document's 200 and 304. */
export const cacheableHeaders = z.object({
  'Cache-Control': z.string(),
  ETag: z.string().meta({ description: 'Strong ETag of the document' }),
});

/** 304 to a current `If-None-Match`. */
export const notModifiedResponse: ZodOpenApiResponseObject = {
  id: 'NotModified',
  description: 'The ETag in If-None-Match is current; no body',
  headers: cacheableHeaders,
};

/** `GET /healthz`'s body: the process answers. */
export const livenessBody = z.object({ status: z.literal('ok') }).meta({ id: 'Liveness' });

/** `GET /openapi.json`'s body, described only as far as its required top-level members. */
export const openApiDocumentBody = z
  .looseObject({ openapi: z.literal('3.1.0'), info: z.looseObject({}), paths: z.looseObject({}) })
  .meta({ id: 'OpenApiDocument' });

/** `/healthz` and `/openapi.json`, which every service serves alike (tagged `tag`). */
export const commonPaths = (tag: string): Record<string, ZodOpenApiPathItemObject> => ({
  '/healthz': {
    get: {
      operationId: 'getLiveness',
      tags: ['operations'],
      summary: 'Liveness: the process answers',
      security: [],
      responses: {
        '200': {
          description: 'Alive',
          headers: z.object({ 'Cache-Control': noStore }),
          content: jsonContent(livenessBody),
        },
      },
    },
  },
  '/openapi.json': {
    get: {
      operationId: 'getOpenApiDocument',
      tags: [tag],
      summary: 'This document',
      security: [],
      requestParams: { header: ifNoneMatch },
      responses: {
        '200': {
          description: 'The OpenAPI 3.1 description of this server; cacheable for an hour',
          headers: z.object({ 'Cache-Control': z.literal('public, max-age=3600'), ETag: z.string() }),
          content: jsonContent(openApiDocumentBody),
        },
        '304': notModifiedResponse,
        '405': methodNotAllowedResponse,
      },
    },
  },
});

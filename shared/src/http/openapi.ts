import { createHash } from 'node:crypto';
import { Router } from 'express';
import { methodNotAllowed, type ErrorCode } from '../errors.js';
import { sendCacheable } from './send.js';

/**
 * The subset of OpenAPI 3.1 (https://spec.openapis.org/oas/v3.1.0) that Tessera's API
 * descriptions use, typed so a document that strays from it does not compile. Schemas are
 * JSON Schema 2020-12, limited to the keywords the contract tests know how to check.
 */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: {
    title: string;
    version: string;
    description?: string;
    license?: { name: string; identifier?: string };
  };
  servers?: readonly { url: string; description?: string }[];
  paths: Readonly<Record<string, OpenApiPathItem>>;
  components?: {
    schemas?: Readonly<Record<string, JsonSchema>>;
    responses?: Readonly<Record<string, OpenApiResponse>>;
    headers?: Readonly<Record<string, OpenApiHeader>>;
    securitySchemes?: Readonly<Record<string, OpenApiSecurityScheme>>;
  };
  security?: readonly OpenApiSecurityRequirement[];
  tags?: readonly { name: string; description?: string }[];
}

export type OpenApiMethod = 'get' | 'put' | 'post' | 'delete' | 'options' | 'head' | 'patch' | 'trace';

export type OpenApiPathItem = Partial<Record<OpenApiMethod, OpenApiOperation>> & {
  summary?: string;
  description?: string;
};

export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags?: readonly string[];
  parameters?: readonly OpenApiParameter[];
  requestBody?: {
    description?: string;
    required?: boolean;
    content: Readonly<Record<string, OpenApiMediaType>>;
  };
  /** Status code (or `default`) → response; a `$ref` to `#/components/responses/…` is allowed. */
  responses: Readonly<Record<string, OpenApiResponse | OpenApiReference>>;
  /** An empty list (`[]` inside) means the operation needs no authentication. */
  security?: readonly OpenApiSecurityRequirement[];
}

export interface OpenApiParameter {
  name: string;
  in: 'query' | 'header' | 'path' | 'cookie';
  description?: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface OpenApiMediaType {
  schema: JsonSchema;
  examples?: Readonly<Record<string, { summary?: string; value: unknown }>>;
}

export interface OpenApiResponse {
  description: string;
  headers?: Readonly<Record<string, OpenApiHeader | OpenApiReference>>;
  content?: Readonly<Record<string, OpenApiMediaType>>;
}

export interface OpenApiHeader {
  description?: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface OpenApiReference {
  $ref: string;
  description?: string;
}

export type OpenApiSecurityScheme =
  | { type: 'http'; scheme: 'basic' | 'bearer'; bearerFormat?: string; description?: string }
  | { type: 'apiKey'; name: string; in: 'query' | 'header' | 'cookie'; description?: string };

export type OpenApiSecurityRequirement = Readonly<Record<string, readonly string[]>>;

export type JsonType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';

/** A JSON Schema 2020-12 object, restricted to the keywords Tessera's documents use. */
export interface JsonSchema {
  $ref?: string;
  type?: JsonType | readonly JsonType[];
  title?: string;
  description?: string;
  format?: string;
  examples?: readonly unknown[];
  const?: string | number | boolean | null;
  enum?: readonly (string | number | boolean | null)[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  properties?: Readonly<Record<string, JsonSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  oneOf?: readonly JsonSchema[];
  discriminator?: { propertyName: string; mapping?: Readonly<Record<string, string>> };
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
 * The schema of an error body as `toErrorBody` writes it (RFC 6749 §5.2, RFC 6750 §3), limited
 * to the codes a response can carry.
 */
export function toErrorSchema(codes: readonly ErrorCode[], description?: string): JsonSchema {
  return {
    type: 'object',
    ...(description === undefined ? {} : { description }),
    required: ['error'],
    properties: {
      error: { type: 'string', enum: codes },
      error_description: {
        type: 'string',
        description: 'For people, not programs; only %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2).',
      },
    },
    additionalProperties: false,
  };
}

/** A `$ref` to `#/components/schemas/{name}`. */
export const schemaRef = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** A `$ref` to `#/components/responses/{name}`. */
export const responseRef = (name: string): OpenApiReference => ({ $ref: `#/components/responses/${name}` });

/** A response or request body content map with the one media type `application/json`. */
export const jsonContent = (body: JsonSchema): Record<string, OpenApiMediaType> => ({
  'application/json': { schema: body },
});

/**
 * A response whose body is an error (see {@link toErrorSchema}) with one of `codes`; `extra`
 * adds to it (headers, typically).
 */
export const errorResponse = (
  description: string,
  codes: readonly ErrorCode[],
  extra: Omit<OpenApiResponse, 'description' | 'content'> = {},
): OpenApiResponse => ({ description, content: jsonContent(toErrorSchema(codes)), ...extra });

/** `Retry-After` in seconds, required (503 answers). */
export const retryAfterHeader = {
  'Retry-After': { required: true, description: 'Seconds', schema: { type: 'string' } },
} as const satisfies Record<string, OpenApiHeader>;

/** `GET /healthz`'s body: the process answers. */
export const livenessSchema: JsonSchema = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string', const: 'ok' } },
  additionalProperties: false,
};

/** `GET /openapi.json`'s body, described only as far as its required top-level members. */
export const openApiDocumentSchema: JsonSchema = {
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  properties: {
    openapi: { type: 'string', const: '3.1.0' },
    info: { type: 'object' },
    paths: { type: 'object' },
  },
};

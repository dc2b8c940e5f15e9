import { describe, expect, it } from '@jest/globals';
import express, { Router } from 'express';
import request from 'supertest';
import { z } from 'zod';
import {
  createErrorHandler,
  createLogger,
  createOpenApiDocument,
  createOpenApiRouter,
  errorResponse,
  jsonContent,
  noStore,
} from '../src/index.js';
import {
  createResponseChecker,
  findOpenApiProblems,
  listDocumentedOperations,
  listServedOperations,
} from './openapi-contract.js';

const thing = z
  .object({
    id: z.int(),
    kind: z.enum(['a', 'b']).nullable(),
    seen: z.iso.datetime().optional(),
    tags: z.array(z.string().min(1)).optional(),
  })
  .meta({ id: 'Thing' });

const document = createOpenApiDocument({
  info: { title: 'test', version: '1' },
  paths: {
    '/things/{id}': {
      get: {
        operationId: 'getThing',
        summary: 'a thing',
        requestParams: { path: z.object({ id: z.string() }) },
        responses: {
          '200': {
            description: 'the thing',
            headers: z.object({ 'Cache-Control': noStore }),
            content: jsonContent(thing),
          },
          '204': { description: 'nothing' },
          '404': errorResponse('no such thing', ['not_found']),
        },
      },
    },
  },
});

describe('a document generated from zod schemas', () => {
  it('is valid OpenAPI 3.1, with the schemas under components', async () => {
    expect(await findOpenApiProblems(document)).toEqual([]);
    expect(document.components?.schemas?.Thing).toMatchObject({
      type: 'object',
      required: ['id', 'kind'],
      additionalProperties: false,
    });
  });

  it('is refused when it is not OpenAPI 3.1: a path parameter that is not declared, a duplicate operationId', async () => {
    const broken = structuredClone(document) as typeof document & { paths: Record<string, unknown> };
    broken.paths['/others/{name}'] = {
      get: { operationId: 'getThing', responses: { '200': { description: 'x' } } },
    };
    const problems = await findOpenApiProblems(broken);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/operationId|name/);
  });
});

describe('listServedOperations', () => {
  it('lists routes of nested routers with their mount path, leaving out router.all() and HEAD', () => {
    const inner = Router();
    inner.get('/things/:id', (_req, res) => void res.end());
    inner.all('/things/:id', (_req, res) => void res.end());
    const app = express();
    app.use('/v1', inner);
    app.post('/v1/things', (_req, res) => void res.end());
    app.head('/ping', (_req, res) => void res.end());
    expect(listServedOperations(app)).toEqual(['GET /v1/things/{id}', 'POST /v1/things']);
    expect(listDocumentedOperations(document)).toEqual(['GET /things/{id}']);
  });
});

describe('the response checker (ajv, JSON Schema 2020-12)', () => {
  const check = createResponseChecker(document);
  const ok = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
  const get = (status: number, headers: Record<string, string>, text: string) =>
    check('GET /things/{id}', { status, headers, text });

  it('accepts a documented status, headers and body', () => {
    expect(get(200, ok, '{"id":1,"kind":"a","seen":"2026-01-01T00:00:00Z"}')).toEqual([]);
    expect(get(200, ok, '{"id":1,"kind":null}')).toEqual([]);
    expect(get(204, {}, '')).toEqual([]);
    expect(get(404, ok, '{"error":"not_found","error_description":"no"}')).toEqual([]);
  });

  it('reports an undocumented status, a missing or wrong header, a wrong body, an undocumented media type', () => {
    expect(get(500, ok, '{}')).toEqual([
      'GET /things/{id} → 500: status not documented (documented: 200, 204, 404)',
    ]);
    expect(get(200, { 'content-type': 'application/json' }, '{"id":"1","kind":"a"}')).toEqual([
      'GET /things/{id} → 200: missing header Cache-Control',
      'GET /things/{id} → 200 body/id: must be integer',
    ]);
    expect(get(200, { ...ok, 'cache-control': 'max-age=60' }, '{"id":1,"kind":"a"}')).toEqual([
      'GET /things/{id} → 200 header Cache-Control: must be equal to constant',
    ]);
    expect(get(200, ok, '{"id":1,"kind":"c","seen":"yesterday","extra":true}')).toEqual(
      expect.arrayContaining([
        'GET /things/{id} → 200 body: must NOT have additional properties',
        'GET /things/{id} → 200 body/kind: must be equal to one of the allowed values',
        'GET /things/{id} → 200 body/kind: must match a schema in anyOf',
        'GET /things/{id} → 200 body/seen: must match format "date-time"',
      ]),
    );
    expect(get(404, ok, '{"error":"invalid_token"}')).toHaveLength(1);
    expect(get(200, { ...ok, 'content-type': 'text/html' }, '<p>')).toEqual([
      'GET /things/{id} → 200: media type text/html not documented (application/json)',
    ]);
    expect(get(204, {}, 'surprise')).toEqual(['GET /things/{id} → 204: a body where none is documented']);
    expect(check('GET /nothing', { status: 200, headers: {}, text: '' })).toEqual([
      'GET /nothing is not documented',
    ]);
  });
});

describe('createOpenApiRouter', () => {
  const logger = createLogger({ name: 'test', level: 'silent', destination: { write: () => undefined } });
  const serve = (doc: typeof document) =>
    express()
      .use(createOpenApiRouter(doc))
      .use(createErrorHandler({ logger, realm: 'test' }));

  it('serves the document as it was when created, cacheable, with an ETag that answers 304', async () => {
    const copy = structuredClone(document);
    const app = serve(copy);
    copy.info.title = 'changed after start-up';
    const res = await request(app).get('/openapi.json').expect(200);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(document)));
    expect(res.headers['cache-control']).toBe('public, max-age=3600');
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    await request(app).get('/openapi.json').set('If-None-Match', res.headers.etag!).expect(304);
  });

  it('answers 405 with Allow: GET, HEAD to other methods', async () => {
    const res = await request(serve(document)).post('/openapi.json').expect(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(res.body).toMatchObject({ error: 'method_not_allowed' });
  });
});

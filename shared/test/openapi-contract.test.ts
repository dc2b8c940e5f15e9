import { describe, expect, it } from '@jest/globals';
import express, { Router } from 'express';
import request from 'supertest';
import { createErrorHandler, createLogger, createOpenApiRouter, type OpenApiDocument } from '../src/index.js';
import {
  checkResponse,
  findStructuralProblems,
  listDocumentedOperations,
  listServedOperations,
  validate,
} from './openapi-contract.js';

const document: OpenApiDocument = {
  openapi: '3.1.0',
  info: { title: 'test', version: '1' },
  paths: {
    '/things/{id}': {
      get: {
        operationId: 'getThing',
        summary: 'a thing',
        responses: {
          '200': {
            description: 'the thing',
            headers: { 'Cache-Control': { required: true, schema: { type: 'string', const: 'no-store' } } },
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } },
          },
          '204': { description: 'nothing' },
        },
      },
    },
  },
  components: {
    schemas: {
      Thing: {
        type: 'object',
        required: ['id', 'kind'],
        properties: {
          id: { type: 'integer' },
          kind: { oneOf: [{ type: 'string', enum: ['a', 'b'] }, { type: 'null' }] },
          tags: { type: 'array', items: { type: 'string', minLength: 1 } },
        },
        additionalProperties: false,
      },
    },
  },
};
const thing = { $ref: '#/components/schemas/Thing' };

describe('validate (the JSON Schema subset the documents use)', () => {
  it('accepts a valid value, and an integer where a number is allowed', () => {
    expect(validate(document, thing, { id: 1, kind: null, tags: ['x'] })).toEqual([]);
    expect(validate(document, { type: 'number' }, 3)).toEqual([]);
  });

  it('reports wrong types, missing and unexpected members, enum, const, oneOf and items failures', () => {
    expect(validate(document, thing, { id: 1.5, kind: 'c', tags: [''], extra: true })).toEqual([
      '$.id: expected integer, got number',
      '$.kind: matches 0 of the oneOf schemas, not 1',
      '$.tags[0]: too short',
      '$: unexpected member extra',
    ]);
    expect(validate(document, thing, {})).toEqual(['$: missing id', '$: missing kind']);
    expect(validate(document, { const: 'x' }, 'y')).toEqual(['$: expected "x", got "y"']);
    expect(validate(document, { oneOf: [{ type: 'string' }, { type: 'string' }] }, 's')).toEqual([
      '$: matches 2 of the oneOf schemas, not 1',
    ]);
  });

  it('refuses keywords it does not implement, and unresolved references', () => {
    expect(validate(document, { pattern: '^a' } as never, 'b')).toEqual(['$: unsupported keyword pattern']);
    expect(validate(document, { $ref: '#/components/schemas/Nope' }, 1)).toEqual([
      '$: unresolved #/components/schemas/Nope',
    ]);
  });
});

describe('findStructuralProblems', () => {
  it('finds nothing wrong with a sound document', () => {
    expect(findStructuralProblems(document)).toEqual([]);
  });

  it('reports an operation without responses, a dangling $ref, an unknown security scheme', () => {
    const broken: OpenApiDocument = {
      ...document,
      paths: {
        '/a': { get: { operationId: 'a', summary: 'a', responses: {}, security: [{ nope: [] }] } },
        '/b': {
          get: { operationId: 'b', summary: 'b', responses: { '200': { $ref: '#/components/responses/X' } } },
        },
      },
    };
    expect(findStructuralProblems(broken)).toEqual([
      'GET /a: no responses',
      'GET /a: unknown security scheme nope',
      'GET /b 200: no description',
      '#.paths./b.get.responses.200: unresolved $ref #/components/responses/X',
    ]);
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

describe('checkResponse', () => {
  const ok = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

  it('accepts a documented status, headers and body', () => {
    expect(
      checkResponse(document, 'GET /things/{id}', { status: 200, headers: ok, text: '{"id":1,"kind":"a"}' }),
    ).toEqual([]);
    expect(checkResponse(document, 'GET /things/{id}', { status: 204, headers: {}, text: '' })).toEqual([]);
  });

  it('reports an undocumented status, a missing header, a wrong body, an undocumented media type', () => {
    const check = (status: number, headers: Record<string, string>, text: string) =>
      checkResponse(document, 'GET /things/{id}', { status, headers, text });
    expect(check(404, ok, '{}')).toEqual([
      'GET /things/{id} → 404: status not documented (documented: 200, 204)',
    ]);
    expect(check(200, { 'content-type': 'application/json' }, '{"id":"1","kind":"a"}')).toEqual([
      'GET /things/{id} → 200: missing header Cache-Control',
      'GET /things/{id} → 200 body.id: expected integer, got string',
    ]);
    expect(check(200, { ...ok, 'content-type': 'text/html' }, '<p>')).toEqual([
      'GET /things/{id} → 200: media type text/html not documented (application/json)',
    ]);
    expect(check(204, {}, 'surprise')).toEqual(['GET /things/{id} → 204: a body where none is documented']);
  });
});

describe('createOpenApiRouter', () => {
  const logger = createLogger({ name: 'test', level: 'silent', destination: { write: () => undefined } });
  const serve = (doc: OpenApiDocument) =>
    express()
      .use(createOpenApiRouter(doc))
      .use(createErrorHandler({ logger, realm: 'test' }));

  it('serves the document as it was when created, cacheable, with an ETag that answers 304', async () => {
    const copy = structuredClone(document) as { info: { title: string } } & OpenApiDocument;
    const app = serve(copy);
    copy.info.title = 'changed after start-up';
    const res = await request(app).get('/openapi.json').expect(200);
    expect(res.body).toEqual(document);
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

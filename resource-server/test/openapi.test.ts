import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect } from '@jest/globals';
import {
  createJwksKeyProvider,
  createRevocationFeed,
  toRevocationFeedDocument,
  type JwksKeyProvider,
  type RevocationFeed,
} from '@tessera/shared';
import type { Express } from 'express';
import request, { type Response, type Test } from 'supertest';
import { itDescribesTheServedApp, type ContractCase } from '../../shared/test/openapi-contract.js';
import { createApp } from '../src/app.js';
import { openApiDocument } from '../src/openapi.js';
import {
  audience,
  clock,
  issuer,
  logger,
  nowSeconds,
  signAccessToken,
  signingJwk,
  signingThumbprint,
} from './helpers.js';

let kid: string;

/** A fetch that serves our JWKS and an empty revocation feed, or fails when `down`. */
function fakeAuthServer(down: boolean): typeof fetch {
  return (input: string | URL | Request) => {
    if (down) return Promise.resolve(new Response('down', { status: 500 }));
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.endsWith('/oauth/revocations'))
      return Promise.resolve(Response.json(toRevocationFeedDocument([], nowSeconds())));
    return Promise.resolve(
      Response.json({ keys: [signingJwk(kid)] }, { headers: { 'cache-control': 'public, max-age=300' } }),
    );
  };
}

function token(scope: string): Promise<string> {
  return signAccessToken(kid, 'alice', { client_id: 'web-app', scope, jti: randomUUID() });
}

/** An app with a loaded key set and revocation feed (`up`) and one whose auth server never answered (`down`). */
const services: { keys: JwksKeyProvider; revocations: RevocationFeed; app: Express }[] = [];
let up: Express;
let down: Express;
/** Like `up`, with a notes store that holds one note in all: the 409 and the 507. */
let full: Express;

beforeAll(async () => {
  kid = await signingThumbprint();
  for (const isDown of [false, true]) {
    const fetch = fakeAuthServer(isDown);
    const keys = createJwksKeyProvider({ jwksUri: `${issuer}/.well-known/jwks.json`, logger, clock, fetch });
    const revocations = createRevocationFeed({ uri: `${issuer}/oauth/revocations`, logger, clock, fetch });
    await Promise.all([keys.start(), revocations.start()]);
    services.push({
      keys,
      revocations,
      app: createApp({ config: { issuer, audience }, logger, keys, revocations, clock }),
    });
  }
  [up, down] = services.map(({ app }) => app) as [Express, Express];
  const { keys, revocations } = services[0]!;
  full = createApp({
    config: { issuer, audience },
    logger,
    keys,
    revocations,
    clock,
    notesLimits: { perUser: 1, total: 1 },
  });
  const first = await bearer(request(full).post('/api/notes').send({ text: 'the one note' }));
  expect(first.status).toBe(201);
});

afterAll(() => {
  for (const { keys, revocations } of services) {
    keys.stop();
    revocations.stop();
  }
});

const bearer = (test: Test, scope = 'notes:read notes:write', sub = 'alice') =>
  signAccessToken(kid, sub, { client_id: 'web-app', scope, jti: randomUUID() }).then((value) =>
    test.set('Authorization', `Bearer ${value}`),
  );
const postNote = (body: string, contentType = 'application/json', scope?: string) =>
  bearer(request(up).post('/api/notes').set('Content-Type', contentType).send(body), scope);

/** At least one real request per documented operation: valid input, and the refusals we can provoke. */
const cases: ContractCase[] = [
  {
    operation: 'GET /api/me',
    behaviour: 'a valid token',
    status: 200,
    send: () => bearer(request(up).get('/api/me')),
  },
  { operation: 'GET /api/me', behaviour: 'no token', status: 401, send: () => request(up).get('/api/me') },
  {
    operation: 'GET /api/me',
    behaviour: 'an invalid token',
    status: 401,
    send: () => request(up).get('/api/me').set('Authorization', 'Bearer not.a.token'),
  },
  {
    operation: 'GET /api/me',
    behaviour: 'a token sent in the header and the query',
    status: 400,
    send: async () =>
      bearer(
        request(up)
          .get('/api/me')
          .query({ access_token: await token('') }),
      ),
  },
  {
    operation: 'GET /api/me',
    behaviour: 'no key set yet',
    status: 503,
    send: () => bearer(request(down).get('/api/me')),
  },
  {
    operation: 'GET /api/notes',
    behaviour: 'scope notes:read',
    status: 200,
    send: () => bearer(request(up).get('/api/notes'), 'notes:read'),
  },
  {
    operation: 'GET /api/notes',
    behaviour: 'without notes:read',
    status: 403,
    send: () => bearer(request(up).get('/api/notes'), 'notes:write'),
  },
  {
    operation: 'GET /api/notes',
    behaviour: 'no token',
    status: 401,
    send: () => request(up).get('/api/notes'),
  },
  {
    operation: 'POST /api/notes',
    behaviour: 'a new note',
    status: 201,
    send: () => postNote('{"text":"hello"}'),
  },
  {
    operation: 'POST /api/notes',
    behaviour: 'an empty text',
    status: 400,
    send: () => postNote('{"text":""}'),
  },
  {
    operation: 'POST /api/notes',
    behaviour: 'a body over 16 KB',
    status: 413,
    send: () => postNote(JSON.stringify({ text: 'x'.repeat(17_000) })),
  },
  {
    operation: 'POST /api/notes',
    behaviour: 'a text/plain body',
    status: 415,
    send: () => postNote('hello', 'text/plain'),
  },
  {
    operation: 'POST /api/notes',
    behaviour: 'without notes:write',
    status: 403,
    send: () => postNote('{"text":"hello"}', 'application/json', 'notes:read'),
  },
  {
    operation: 'POST /api/notes',
    behaviour: 'no token',
    status: 401,
    send: () => request(up).post('/api/notes').send({ text: 'hello' }),
  },
  {
    operation: 'GET /.well-known/oauth-protected-resource',
    behaviour: 'the metadata',
    status: 200,
    send: () => request(up).get('/.well-known/oauth-protected-resource'),
  },
  { operation: 'GET /healthz', behaviour: 'alive', status: 200, send: () => request(up).get('/healthz') },
  { operation: 'GET /readyz', behaviour: 'keys loaded', status: 200, send: () => request(up).get('/readyz') },
  {
    operation: 'GET /readyz',
    behaviour: 'no key set yet',
    status: 503,
    send: () => request(down).get('/readyz'),
  },
  {
    operation: 'GET /openapi.json',
    behaviour: 'this document',
    status: 200,
    send: () => request(up).get('/openapi.json'),
  },
  {
    operation: 'GET /openapi.json',
    behaviour: 'a current ETag',
    status: 304,
    send: async () => {
      const first = await request(up).get('/openapi.json');
      return request(up).get('/openapi.json').set('If-None-Match', first.headers.etag!);
    },
  },
  {
    operation: 'GET /api/notes',
    behaviour: 'a malformed Authorization header',
    status: 400,
    send: () => request(up).get('/api/notes').set('Authorization', 'Bearer a b'),
  },
  {
    operation: 'GET /api/notes',
    behaviour: 'no key set yet',
    status: 503,
    send: () => bearer(request(down).get('/api/notes')),
  },
  {
    operation: 'POST /api/notes',
    behaviour: 'no key set yet',
    status: 503,
    send: () => bearer(request(down).post('/api/notes').send({ text: 'hello' })),
  },
  {
    operation: 'POST /api/notes',
    behaviour: 'the caller already keeps the most notes',
    status: 409,
    send: () => bearer(request(full).post('/api/notes').send({ text: 'one more' })),
  },
  {
    operation: 'POST /api/notes',
    behaviour: 'the store is full',
    status: 507,
    send: () => bearer(request(full).post('/api/notes').send({ text: 'hello' }), undefined, 'bob'),
  },
];

describe('the OpenAPI description of the resource server', () => {
  itDescribesTheServedApp(openApiDocument, () => up, cases);
});

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import request from 'supertest';
import { openRedis } from '../src/limits/redis.js';
import { basic, createTestAuth, expectError, form, type TestAuth, testResource } from './helpers.js';

const redisUrl = process.env.TEST_REDIS_URL;

async function withClient(auth: TestAuth, clientId: string): Promise<string> {
  const { secret } = await auth.services.clients.create({
    resources: testResource,
    clientId,
    grants: 'client_credentials',
    scopes: 'a',
    isPublic: false,
  });
  return secret ?? '';
}

const clientCredentials = (auth: TestAuth, clientId: string, secret: string, forwardedFor?: string) => {
  const req = request(auth.app)
    .post('/oauth/token')
    .type('form')
    .set('Authorization', basic(clientId, secret));
  if (forwardedFor !== undefined) req.set('X-Forwarded-For', forwardedFor);
  return req.send(form(['grant_type', 'client_credentials']));
};

function expectThrottled(res: request.Response, windowSeconds: number): void {
  expectError(res, 429, 'too_many_requests');
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
}

describe('per client IP (RATE_LIMIT_IP)', () => {
  let auth: TestAuth;
  let secret: string;
  beforeAll(async () => {
    auth = await createTestAuth({ RATE_LIMIT_IP: '3/1m' });
    secret = await withClient(auth, 'svc');
  });
  afterAll(() => auth.close());

  test('over budget, every request is 429 with Retry-After, before its body is even read', async () => {
    for (let i = 0; i < 3; i++) expect((await clientCredentials(auth, 'svc', secret)).status).toBe(200);
    expectThrottled(await clientCredentials(auth, 'svc', secret), 60);
    // Not a form, not authenticated: still the budget answers first.
    expectThrottled(await request(auth.app).post('/oauth/token').type('json').send('{"a":1}'), 60);
  });

  test('without TRUST_PROXY, X-Forwarded-For cannot buy a fresh budget', async () => {
    expectThrottled(await clientCredentials(auth, 'svc', secret, '203.0.113.9'), 60);
  });
});

describe('behind a reverse proxy (TRUST_PROXY=1)', () => {
  test('each forwarded client address has its own budget', async () => {
    const auth = await createTestAuth({ RATE_LIMIT_IP: '1/1m', TRUST_PROXY: '1' });
    const secret = await withClient(auth, 'svc');
    expect((await clientCredentials(auth, 'svc', secret, '203.0.113.1')).status).toBe(200);
    expectThrottled(await clientCredentials(auth, 'svc', secret, '203.0.113.1'), 60);
    expect((await clientCredentials(auth, 'svc', secret, '203.0.113.2')).status).toBe(200);
    await auth.close();
  });
});

describe('behind a CDN and a proxy (TRUST_PROXY lists the proxies)', () => {
  // supertest connects from 127.0.0.1: that is "our proxy"; 198.51.100.0/24 plays the CDN.
  test('the client IP is the nearest address that is not a listed proxy: its own budget, and no forged one', async () => {
    const auth = await createTestAuth({ RATE_LIMIT_IP: '1/1m', TRUST_PROXY: '127.0.0.1,198.51.100.0/24' });
    const secret = await withClient(auth, 'svc');
    // client → CDN edge → our proxy: X-Forwarded-For: <client>, <CDN edge>
    expect((await clientCredentials(auth, 'svc', secret, '203.0.113.1, 198.51.100.7')).status).toBe(200);
    expectThrottled(await clientCredentials(auth, 'svc', secret, '203.0.113.1, 198.51.100.8'), 60);
    // Another client through the same CDN and proxy has a budget of its own (with a hop count
    // of 1, both would be the CDN edge's address and share one)...
    expect((await clientCredentials(auth, 'svc', secret, '203.0.113.2, 198.51.100.7')).status).toBe(200);
    // ...and a client cannot buy a fresh budget by prepending addresses of its choice (with a
    // hop count of 3, the forged 192.0.2.99 would be taken as the client).
    expectThrottled(
      await clientCredentials(auth, 'svc', secret, '192.0.2.99, 203.0.113.1, 198.51.100.7'),
      60,
    );
    await auth.close();
  });
});

describe('revocation and introspection reach the store: each has budgets of its own', () => {
  const post = (auth: TestAuth, path: string, clientId: string, secret: string) =>
    request(auth.app)
      .post(path)
      .type('form')
      .set('Authorization', basic(clientId, secret))
      .send(form(['token', 'not-a-token']));

  test.each(['/oauth/revoke', '/oauth/introspect'])(
    '%s: per IP (before the body is read or the client looked up), apart from the token endpoint',
    async (path) => {
      const auth = await createTestAuth({ RATE_LIMIT_IP: '2/1m' });
      const secret = await withClient(auth, 'svc');
      for (let i = 0; i < 2; i++) expect((await post(auth, path, 'svc', secret)).status).toBe(200);
      expectThrottled(await post(auth, path, 'svc', secret), 60);
      // Unknown clients, not a form: still the budget answers first, so a flood never reaches the store.
      expectThrottled(await post(auth, path, 'unknown-client', 'x'), 60);
      expectThrottled(await request(auth.app).post(path).type('json').send('{}'), 60);
      // The token endpoint's budget is untouched.
      expect((await clientCredentials(auth, 'svc', secret)).status).toBe(200);
      await auth.close();
    },
    20_000,
  );

  test.each(['/oauth/revoke', '/oauth/introspect'])(
    '%s: per authenticated client; another client is unaffected',
    async (path) => {
      const auth = await createTestAuth({ RATE_LIMIT_CLIENT: '2/1h' });
      const [first, second] = [await withClient(auth, 'first'), await withClient(auth, 'second')];
      for (let i = 0; i < 2; i++) expect((await post(auth, path, 'first', first)).status).toBe(200);
      expectThrottled(await post(auth, path, 'first', first), 3600);
      expect((await post(auth, path, 'second', second)).status).toBe(200);
      expect((await clientCredentials(auth, 'first', first)).status).toBe(200);
      await auth.close();
    },
    20_000,
  );
});

describe('per client (RATE_LIMIT_CLIENT)', () => {
  test('an authenticated client over its budget gets 429; another client is unaffected', async () => {
    const auth = await createTestAuth({ RATE_LIMIT_CLIENT: '2/1h' });
    const [first, second] = [await withClient(auth, 'first'), await withClient(auth, 'second')];
    for (let i = 0; i < 2; i++) expect((await clientCredentials(auth, 'first', first)).status).toBe(200);
    expectThrottled(await clientCredentials(auth, 'first', first), 3600);
    expect((await clientCredentials(auth, 'second', second)).status).toBe(200);
    // Unauthenticated requests claiming that client id do not spend its budget (nor get a token).
    const res = await clientCredentials(auth, 'second', 'not-the-secret');
    expectError(res, 401, 'invalid_client');
    expect((await clientCredentials(auth, 'second', second)).status).toBe(200);
    await auth.close();
  });
});

describe('Redis unreachable after start-up', () => {
  test('limits stay on, in process (no fail-open, no 500)', async () => {
    // A client that never connected: every Redis command is refused at once.
    const redis = new Redis('redis://127.0.0.1:9', { lazyConnect: true, enableOfflineQueue: false });
    const auth = await createTestAuth({ RATE_LIMIT_IP: '2/1m', REDIS_URL: 'redis://127.0.0.1:9' }, { redis });
    const secret = await withClient(auth, 'svc');
    for (let i = 0; i < 2; i++) expect((await clientCredentials(auth, 'svc', secret)).status).toBe(200);
    expectThrottled(await clientCredentials(auth, 'svc', secret), 60);
    // Readiness says so: a replica without the shared budgets should take no new traffic.
    const ready = await request(auth.app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toEqual({ storage: true, keys: true, redis: false });
    redis.disconnect();
    await auth.close();
  });
});

(redisUrl === undefined ? describe.skip : describe)(
  'shared across replicas in Redis (TEST_REDIS_URL)',
  () => {
    const prefix = `tessera-test:${randomUUID()}:`;
    let redis: Awaited<ReturnType<typeof openRedis>>;
    let replicas: TestAuth[];

    beforeAll(async () => {
      redis = await openRedis(redisUrl ?? '');
      const env = { REDIS_URL: redisUrl ?? '', REDIS_KEY_PREFIX: prefix, RATE_LIMIT_IP: '4/1m' };
      replicas = [await createTestAuth(env, { redis }), await createTestAuth(env, { redis })];
    });
    afterAll(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await Promise.all(replicas.map((replica) => replica.close()));
      await redis.quit();
    });

    test('two replicas draw on one budget per IP, kept under REDIS_KEY_PREFIX', async () => {
      const [a, b] = replicas as [TestAuth, TestAuth];
      const secrets = [await withClient(a, 'svc'), await withClient(b, 'svc')];
      for (let i = 0; i < 4; i++) {
        const replica = i % 2 === 0 ? a : b;
        expect((await clientCredentials(replica, 'svc', secrets[i % 2] ?? '')).status).toBe(200);
      }
      expectThrottled(await clientCredentials(a, 'svc', secrets[0] ?? ''), 60);
      expectThrottled(await clientCredentials(b, 'svc', secrets[1] ?? ''), 60);
      expect((await redis.keys(`${prefix}*`)).some((key) => key.startsWith(`${prefix}token-ip`))).toBe(true);
      // Both report Redis in their readiness checks.
      for (const replica of [a, b])
        expect((await request(replica.app).get('/readyz')).body.checks).toEqual({
          storage: true,
          keys: true,
          redis: true,
        });
    });
  },
);

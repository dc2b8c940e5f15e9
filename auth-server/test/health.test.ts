import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import request from 'supertest';
import { createTestAuth, type TestAuth } from './helpers.js';

describe('health', () => {
  let auth: TestAuth;
  beforeAll(async () => {
    auth = await createTestAuth();
  });
  afterAll(async () => {
    await auth.close();
  });

  test('/healthz is 200 and not cached', async () => {
    const res = await request(auth.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  test('/readyz is 200 with each check passing when the store answers and a key is loaded', async () => {
    const res = await request(auth.app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { storage: true, keys: true } });
    expect(res.headers['cache-control']).toBe('no-store');
  });
});

describe('readiness when the store is gone', () => {
  let auth: TestAuth;
  beforeAll(async () => {
    auth = await createTestAuth();
  });
  afterAll(async () => {
    await auth.close().catch(() => undefined);
  });

  test('/readyz is 503 naming the failed check, while /healthz stays 200', async () => {
    await auth.services.storage.close();

    const ready = await request(auth.app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toEqual({ status: 'not ready', checks: { storage: false, keys: true } });
    expect(ready.headers['cache-control']).toBe('no-store');

    expect((await request(auth.app).get('/healthz')).status).toBe(200);
  });
});

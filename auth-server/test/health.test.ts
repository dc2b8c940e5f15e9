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

describe('readiness checks reach the store at most once a second', () => {
  let auth: TestAuth;
  let pings: number;
  beforeAll(async () => {
    auth = await createTestAuth();
    // The real store's ping, counted.
    const ping = auth.services.storage.ping.bind(auth.services.storage);
    auth.services.storage.ping = () => {
      pings += 1;
      return ping();
    };
  });
  afterAll(() => auth.close().catch(() => undefined));

  test('a flood of /readyz shares one check, and the next second brings a fresh one', async () => {
    pings = 0;
    const answers = await Promise.all(Array.from({ length: 50 }, () => request(auth.app).get('/readyz')));
    for (const res of answers) expect(res.status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await request(auth.app).get('/readyz')).status).toBe(200);
    expect(pings).toBe(1);

    auth.clock.advance(999);
    await request(auth.app).get('/readyz');
    expect(pings).toBe(1);
    auth.clock.advance(1);
    await request(auth.app).get('/readyz');
    expect(pings).toBe(2);
  });

  test('a store that stops answering shows within a second', async () => {
    auth.clock.advance(1000);
    expect((await request(auth.app).get('/readyz')).status).toBe(200);
    await auth.services.storage.close();
    auth.clock.advance(1000);
    const ready = await request(auth.app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toEqual({ storage: false, keys: true });
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

import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { testDialects, type TestDatabase } from './dialects.js';
import { basic, createTestAuth, expectError, type TestAuth, testResource } from './helpers.js';

/**
 * A loopback TCP proxy in front of the real PostgreSQL, which the test can cut and restore:
 * an outage without stopping the database other tests use.
 */
function createProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const open = () =>
    new Promise<number>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => socket.destroy());
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as AddressInfo).port;
        resolve(port);
      });
    });
  const cut = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server?.close(() => resolve());
    });
  return { open, cut };
}

const postgres = testDialects().find(({ dialect }) => dialect.name === 'postgres')!;

(postgres.enabled ? describe : describe.skip)('when PostgreSQL becomes unreachable', () => {
  let database: TestDatabase;
  let proxy: ReturnType<typeof createProxy>;
  let auth: TestAuth;
  let secret: string;

  beforeAll(async () => {
    database = await postgres.dialect.create();
    if (database.location.dialect !== 'postgres') throw new Error('expected PostgreSQL');
    const url = new URL(database.location.connectionString);
    proxy = createProxy({ host: url.hostname, port: Number(url.port || 5432) });
    url.port = String(await proxy.open());
    auth = await createTestAuth({ DATABASE_URL: url.toString() });
    secret = (
      await auth.services.clients.create({
        resources: testResource,
        clientId: 'svc',
        grants: 'client_credentials,password',
        scopes: 'a',
        isPublic: false,
      })
    ).secret!;
    await auth.services.users.create({ username: 'gil', password: 'gil-password', scopes: 'a' });
  }, 30_000);
  afterAll(async () => {
    await proxy?.cut();
    await auth?.close();
    await database?.drop();
  });

  const token = (form: Record<string, string>) =>
    request(auth.app).post('/oauth/token').set('Authorization', basic('svc', secret)).type('form').send(form);
  const clientCredentials = () => token({ grant_type: 'client_credentials' });
  const login = () => token({ grant_type: 'password', username: 'gil', password: 'gil-password' });

  it('readiness goes false, requests get 503 temporarily_unavailable with Retry-After, and it recovers by itself', async () => {
    expect((await clientCredentials()).status).toBe(200);
    expect((await login()).status).toBe(200);
    expect((await request(auth.app).get('/readyz')).status).toBe(200);

    await proxy.cut();
    // Readiness is checked at most once a second (see routes/health.ts).
    auth.clock.advance(1000);
    const ready = await request(auth.app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toEqual({ storage: false, keys: true });
    // A login needs the database (the user, the throttle, the refresh token): 503, nothing half-written.
    const failed = await login();
    expectError(failed, 503, 'temporarily_unavailable');
    expect(failed.headers['retry-after']).toBe('5');
    // client_credentials for a client cached in the last 10 s needs no database at all.
    expect((await clientCredentials()).status).toBe(200);
    // Liveness is not readiness: the process itself is fine.
    expect((await request(auth.app).get('/healthz')).status).toBe(200);

    await proxy.open();
    expect((await login()).status).toBe(200);
    auth.clock.advance(1000);
    expect((await request(auth.app).get('/readyz')).status).toBe(200);
  }, 30_000);
});

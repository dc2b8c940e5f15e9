import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createJwksKeyProvider, createLogger, createMetricsApp, newKeyPairSync } from '@tessera/shared';
import { SignJWT, calculateJwkThumbprint, exportJWK } from 'jose';
import request from 'supertest';
import { createApp } from '../src/app.js';
import { createResourceMetrics } from '@tessera/shared';

/** A real JWKS over loopback, a real key provider counting into the metrics, the real app. */
describe('metrics at the resource server', () => {
  const { publicKey, privateKey } = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
  let server: Server;
  let kid: string;
  const metrics = createResourceMetrics('resource-server');
  let app: ReturnType<typeof createApp>;
  let metricsApp: ReturnType<typeof createMetricsApp>;

  beforeAll(async () => {
    const jwk = await exportJWK(publicKey);
    kid = await calculateJwkThumbprint(jwk);
    const body = JSON.stringify({ keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] });
    server = createServer((_req, res) => res.setHeader('Content-Type', 'application/json').end(body));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const logger = createLogger({ name: 'test', level: 'silent' });
    const keys = createJwksKeyProvider({
      jwksUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`,
      logger,
      onFetch: (result) => metrics.jwksFetches.inc({ result }),
    });
    await keys.start();
    keys.stop();
    app = createApp({ config: { issuer: 'http://issuer.test', audience: 'api' }, logger, keys, metrics });
    metricsApp = createMetricsApp(metrics.registry, logger);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('counts JWKS fetches, token checks by result, and reports the key set age', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ client_id: 'c', scope: 'a' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
      .setIssuer('http://issuer.test')
      .setAudience('api')
      .setSubject('u')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti('j1')
      .sign(privateKey);
    expect((await request(app).get('/api/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    expect((await request(app).get('/api/me').set('Authorization', `Bearer ${token}x`)).status).toBe(401);
    expect((await request(app).get('/api/me')).status).toBe(401);

    const text = (await request(metricsApp).get('/metrics')).text;
    expect(text).toMatch(/^tessera_jwks_fetches_total\{result="updated",service="resource-server"\} 1$/m);
    expect(text).toMatch(
      /^tessera_token_verifications_total\{result="valid",service="resource-server"\} 1$/m,
    );
    expect(text).toMatch(
      /^tessera_token_verifications_total\{result="invalid_token",service="resource-server"\} 1$/m,
    );
    expect(text).toMatch(
      /^tessera_token_verifications_total\{result="unauthorized",service="resource-server"\} 1$/m,
    );
    expect(text).toMatch(/^tessera_jwks_usable\{service="resource-server"\} 1$/m);
    expect(text).toMatch(/^tessera_jwks_age_seconds\{service="resource-server"\} \d+$/m);
  });

  it('serves metrics only on their own listener (METRICS_PORT): the API answers 404 for /metrics', async () => {
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
    expect((await request(metricsApp).get('/api/me')).status).toBe(404);
  });
});

import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { calculateJwkThumbprint } from 'jose';
import request from 'supertest';
import { createTestAuth, expectError, type TestAuth } from './helpers.js';

let auth: TestAuth;

beforeAll(async () => {
  auth = await createTestAuth();
});

afterAll(async () => {
  await auth.close();
});

describe('GET /.well-known/jwks.json', () => {
  test('serves the active and the pending public key as application/jwk-set+json, cacheable, with a strong ETag', async () => {
    const res = await request(auth.app).get('/.well-known/jwks.json');

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/jwk-set\+json/);
    // max-age = JWKS_MAX_AGE; stale-if-error = the retiring duration (keys/lifecycle.ts).
    expect(res.headers['cache-control']).toBe('public, max-age=300, stale-if-error=1260');
    expect(res.headers['etag']).toMatch(/^"[^"]+"$/);

    const { keys } = JSON.parse(res.text) as { keys: Record<string, string>[] };
    const stored = await auth.services.storage.keys.list();
    expect(keys).toHaveLength(2);
    for (const state of ['active', 'pending'] as const) {
      const record = stored.find((key) => key.state === state);
      expect(keys).toContainEqual({
        kty: 'RSA',
        n: record?.publicJwk.n,
        e: record?.publicJwk.e,
        kid: record?.kid,
        alg: 'RS256',
        use: 'sig',
      });
    }
    expect(keys[0]?.kid).toBe(
      await calculateJwkThumbprint({ kty: 'RSA', n: keys[0]?.n, e: keys[0]?.e }, 'sha256'),
    );
  });

  test('never publishes a private member', async () => {
    const res = await request(auth.app).get('/.well-known/jwks.json');
    const { keys } = JSON.parse(res.text) as { keys: Record<string, string>[] };
    for (const key of keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.toHaveProperty(member);
    }
  });

  test.each([
    ['the exact ETag', (etag: string) => etag],
    ['a weak form of it', (etag: string) => `W/${etag}`],
    ['a list containing it', (etag: string) => `"other", ${etag}, W/"another"`],
    ['*', () => '*'],
  ])('If-None-Match with %s gives 304 with no body and the same caching headers', async (_what, header) => {
    const first = await request(auth.app).get('/.well-known/jwks.json').expect(200);
    const etag = first.headers['etag'] as string;

    const res = await request(auth.app).get('/.well-known/jwks.json').set('If-None-Match', header(etag));

    expect(res.status).toBe(304);
    expect(res.text).toBe('');
    expect(res.headers['etag']).toBe(etag);
    expect(res.headers['cache-control']).toBe('public, max-age=300, stale-if-error=1260');
  });

  test('If-None-Match with another ETag gives 200 and the body', async () => {
    const res = await request(auth.app).get('/.well-known/jwks.json').set('If-None-Match', '"stale"');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toHaveProperty('keys');
  });

  test('HEAD gives the headers without a body', async () => {
    const res = await request(auth.app).head('/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.headers['etag']).toMatch(/^"/);
    expect(res.text ?? '').toBe('');
  });

  test('POST is 405 with Allow: GET, HEAD', async () => {
    const res = await request(auth.app).post('/.well-known/jwks.json');
    expectError(res, 405, 'method_not_allowed');
    expect(res.headers['allow']).toBe('GET, HEAD');
  });
});

describe('server metadata (RFC 8414)', () => {
  test('openid-configuration is the RFC 8414 metadata plus what OpenID Connect adds', async () => {
    const a = await request(auth.app).get('/.well-known/oauth-authorization-server');
    const b = await request(auth.app).get('/.well-known/openid-configuration');

    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.headers['content-type']).toMatch(/^application\/json/);
    expect(a.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
    expect(b.body).toMatchObject(a.body as Record<string, unknown>);
    expect(b.body).toMatchObject({
      userinfo_endpoint: 'http://auth.test/oauth/userinfo',
      end_session_endpoint: 'http://auth.test/oauth/logout',
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
    expect(a.body).not.toHaveProperty('userinfo_endpoint');
  });

  test('names the issuer, endpoints, grants and client authentication methods', async () => {
    const res = await request(auth.app).get('/.well-known/oauth-authorization-server');
    expect(res.body).toMatchObject({
      issuer: 'http://auth.test',
      token_endpoint: 'http://auth.test/oauth/token',
      jwks_uri: 'http://auth.test/.well-known/jwks.json',
      grant_types_supported: expect.arrayContaining(['password', 'client_credentials']),
      token_endpoint_auth_methods_supported: expect.arrayContaining([
        'client_secret_basic',
        'client_secret_post',
      ]),
    });
  });

  test('advertises only grants the token endpoint accepts', async () => {
    const res = await request(auth.app).get('/.well-known/oauth-authorization-server');
    for (const grantType of res.body.grant_types_supported as string[]) {
      const token = await request(auth.app).post('/oauth/token').type('form').send({ grant_type: grantType });
      // No client authentication: the grant is recognised far enough to ask for a client.
      expect(token.body.error).not.toBe('unsupported_grant_type');
    }
  });

  test.each(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'])(
    'POST %s is 405 with Allow: GET, HEAD',
    async (path) => {
      const res = await request(auth.app).post(path);
      expectError(res, 405, 'method_not_allowed');
      expect(res.headers['allow']).toBe('GET, HEAD');
    },
  );
});

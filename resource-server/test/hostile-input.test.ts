import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createJwksKeyProvider, maxAccessTokenLength, type JwksKeyProvider } from '@tessera/shared';
import fc from 'fast-check';
import request, { type Response } from 'supertest';
import { createApp } from '../src/app.js';
import { audience, clock, issuer, logger, signAccessToken, signingJwk } from './helpers.js';

const kid = 'k1';

let keys: JwksKeyProvider;
let app: ReturnType<typeof createApp>;
let valid: string;

function jwks(): typeof fetch {
  return () => Promise.resolve(Response.json({ keys: [signingJwk(kid)] }));
}

const sign = (claims: Record<string, unknown> = {}) =>
  signAccessToken(kid, 'alice', {
    client_id: 'web',
    scope: 'notes:read notes:write',
    jti: randomUUID(),
    ...claims,
  });

beforeAll(async () => {
  keys = createJwksKeyProvider({ jwksUri: 'http://auth.invalid/jwks', logger, clock, fetch: jwks() });
  await keys.start();
  app = createApp({ config: { issuer, audience }, logger, keys, clock });
  valid = await sign();
});
afterAll(() => keys.stop());

function expectHelmet(res: Response): void {
  expect(res.headers).toMatchObject({
    'content-security-policy': "default-src 'none';frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'strict-transport-security': expect.stringContaining('max-age='),
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
  });
  expect(res.headers['x-powered-by']).toBeUndefined();
}

describe('oversized tokens and headers', () => {
  it(`a token longer than ${maxAccessTokenLength} characters is 401 invalid_token before any decoding`, async () => {
    const [header, payload, signature] = valid.split('.') as [string, string, string];
    const padded = `${header}.${payload}${'A'.repeat(maxAccessTokenLength)}.${signature}`;
    const res = await request(app).get('/api/me').set('Authorization', `Bearer ${padded}`);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'token too large' });
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="tessera", error="invalid_token", error_description="token too large"',
    );
    expectHelmet(res);
  });

  it('a 100 KB Authorization header is 431 from the HTTP server', async () => {
    const res = await request(app)
      .get('/api/me')
      .set('Authorization', `Bearer ${'a'.repeat(100 * 1024)}`);
    expect(res.status).toBe(431);
  });
});

describe('bodies at POST /api/notes', () => {
  const post = () => request(app).post('/api/notes').set('Authorization', `Bearer ${valid}`);

  it('a body over 16 KB is 413', async () => {
    const res = await post()
      .type('json')
      .send(JSON.stringify({ text: 'x'.repeat(17 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('payload_too_large');
    expectHelmet(res);
  });

  it.each([
    ['text/plain', '{"text":"hi"}'],
    ['application/x-www-form-urlencoded', 'text=hi'],
  ])('Content-Type %s is 415', async (type, body) => {
    const res = await post().set('Content-Type', type).send(body);
    expect(res.status).toBe(415);
    expect(res.body.error).toBe('unsupported_media_type');
  });

  it.each([
    ['malformed JSON', '{"text":'],
    ['a JSON array', '["hi"]'],
    ['a prototype-pollution attempt', '{"__proto__":{"admin":true},"text":1}'],
    ['a repeated member of the wrong type', '{"text":"a","text":{"$gt":""}}'],
  ])('%s is a clean 400 invalid_request', async (_what, body) => {
    const res = await post().type('json').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(res.text).not.toMatch(/\bat .+:\d+:\d+|stack/i);
  });
});

describe('helmet headers on every answer', () => {
  it.each([
    ['401 without a token', () => request(app).get('/api/me'), 401],
    ['400 for a malformed bearer', () => request(app).get('/api/me').set('Authorization', 'Bearer a b'), 400],
    ['404', () => request(app).get('/nope'), 404],
    ['200 /healthz', () => request(app).get('/healthz'), 200],
  ])('%s', async (_what, send, status) => {
    const res = await send();
    expect(res.status).toBe(status);
    expectHelmet(res);
  });
});

describe('CORS', () => {
  it('is off unless CORS_ORIGINS lists the origin', async () => {
    const off = await request(app)
      .get('/api/me')
      .set('Origin', 'https://app.example')
      .set('Authorization', `Bearer ${valid}`);
    expect(off.headers['access-control-allow-origin']).toBeUndefined();

    const on = createApp({
      config: { issuer, audience, corsOrigins: ['https://app.example'] },
      logger,
      keys,
      clock,
    });
    const allowed = await request(on)
      .get('/api/me')
      .set('Origin', 'https://app.example')
      .set('Authorization', `Bearer ${valid}`);
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(allowed.headers['access-control-allow-credentials']).toBeUndefined();
    const refused = await request(on).get('/api/me').set('Origin', 'https://evil.example');
    expect(refused.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await request(on)
      .options('/api/notes')
      .set('Origin', 'https://app.example')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization, content-type');
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toBe('Authorization, Content-Type');
  });
});

describe('property: arbitrary tokens at the verifier are never accepted and never a 5xx', () => {
  const b64token = fc.string({
    unit: fc.constantFrom(
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/'.split(''),
    ),
    minLength: 1,
    maxLength: 600,
  });
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const header = fc.record(
    {
      alg: fc.oneof(fc.constantFrom('RS256', 'none', 'HS256', 'RS512', 'ES256', 'nOnE'), fc.string()),
      typ: fc.oneof(fc.constantFrom('at+jwt', 'JWT', 'application/at+jwt'), fc.string()),
      kid: fc.oneof(fc.constant(kid), fc.string(), fc.integer()),
      crit: fc.array(fc.string()),
      jku: fc.webUrl(),
    },
    { requiredKeys: [] },
  );
  const structured = fc
    .tuple(header, fc.jsonValue(), fc.uint8Array({ maxLength: 300 }))
    .map(([h, p, sig]) => `${segment(h)}.${segment(p)}.${Buffer.from(sig).toString('base64url')}`);
  /** A valid token with one character changed: tampering anywhere must break it. */
  const mutated = fc
    .tuple(fc.nat(), fc.constantFrom(...'ABCabc012-_'.split('')))
    .map(([at, char]) => {
      const index = at % valid.length;
      const replaced = valid[index] === char ? (char === 'A' ? 'B' : 'A') : char;
      return `${valid.slice(0, index)}${replaced}${valid.slice(index + 1)}`;
    })
    // A last base64url character carries unused bits: changing only those is no tampering at all.
    .filter((token) => {
      const decoded = (jwt: string) =>
        jwt.split('.').map((part) => Buffer.from(part, 'base64url').toString('hex'));
      return decoded(token).join('.') !== decoded(valid).join('.');
    });

  function expectRefused(res: Response): void {
    expect([400, 401]).toContain(res.status);
    expect(res.text).not.toMatch(/\bat .+:\d+:\d+|stack/i);
  }

  it('random b64tokens, structured JWS-looking tokens and one-character mutations of a valid token', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(b64token, structured, mutated), async (token) => {
        expectRefused(await request(app).get('/api/me').set('Authorization', `Bearer ${token}`));
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary printable Authorization headers', async () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          printable,
          printable.map((text) => `Bearer ${text}`),
        ),
        async (authorization) => {
          const res = await request(app).get('/api/me').set('Authorization', authorization);
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
        },
      ),
      { numRuns: 200 },
    );
  });
});

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ConfigError, listen } from '@tessera/shared';
import fc from 'fast-check';
import request, { type Response } from 'supertest';
import { loadConfig } from '../src/config.js';
import {
  basic,
  createCheapHasher,
  createTestAuth,
  expectError,
  form,
  type TestAuth,
  testResource,
} from './helpers.js';

let auth: TestAuth;
let secret: string;
/** A password-only client, whose real secret the property tests may use: no token without alice's password. */
let passwordClientSecret: string;

beforeAll(async () => {
  auth = await createTestAuth(
    { RATE_LIMIT_IP: '1000000/1m', LOGIN_LOCK_THRESHOLD: '1000' },
    { hasher: await createCheapHasher() },
  );
  secret =
    (
      await auth.services.clients.create({
        resources: testResource,
        clientId: 'web',
        grants: 'password,client_credentials',
        scopes: 'a',
        isPublic: false,
      })
    ).secret ?? '';
  passwordClientSecret =
    (
      await auth.services.clients.create({
        resources: testResource,
        clientId: 'pw',
        grants: 'password',
        scopes: 'a',
        isPublic: false,
      })
    ).secret ?? '';
  await auth.services.users.create({ username: 'alice', password: 'alice-password', scopes: 'a' });
});

afterAll(() => auth.close());

const token = () => request(auth.app).post('/oauth/token');

/** The API security headers (`apiSecurityHeaders`), which every answer must carry, errors included. */
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

describe('bodies at the token endpoint', () => {
  test('a body over 8 KB is 413 payload_too_large', async () => {
    const res = await token()
      .type('form')
      .send(form(['grant_type', 'password'], ['username', 'x'.repeat(9 * 1024)]));
    expectError(res, 413, 'payload_too_large');
    expectHelmet(res);
  });

  /**
   * Sends a token request announcing `declared` body bytes over a raw socket, writes `sent` of
   * them (then ends its side, unless `keepOpen`), and collects the answer until the server
   * closes the connection (or resets it).
   */
  async function rawUpload(declared: number, sent: number, keepOpen = false) {
    const server = await listen(auth.app, { port: 0, host: '127.0.0.1' });
    try {
      return await new Promise<{ answer: string; reset: boolean }>((resolve) => {
        const socket = connect(server.port, '127.0.0.1');
        let answer = '';
        let reset = false;
        socket.setEncoding('latin1');
        socket.on('data', (chunk: string) => (answer += chunk));
        socket.on('error', () => (reset = true));
        socket.on('close', () => resolve({ answer, reset }));
        socket.write(
          'POST /oauth/token HTTP/1.1\r\nHost: localhost\r\n' +
            `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${declared}\r\n\r\n`,
        );
        socket.write(Buffer.alloc(sent, 'a'), () => {
          if (!keepOpen) socket.end();
        });
      });
    } finally {
      await server.close(0);
    }
  }

  test('a 2 MiB body is answered 413 with Connection: close, and the connection ends without a reset', async () => {
    const size = 2 * 1024 * 1024;
    const { answer, reset } = await rawUpload(size, size);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toContain('"error":"payload_too_large"');
    expect(reset).toBe(false);
  });

  test('a client that stops sending after the 413 does not hold the connection: it is closed after a short linger', async () => {
    // 64 KiB of a declared 2 MiB, then silence with the connection left open: the server must
    // not wait for the rest (the test's own timeout is the deadline).
    const { answer } = await rawUpload(2 * 1024 * 1024, 64 * 1024, true);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
  }, 15_000);

  test.each([
    ['application/json', '{"grant_type":"client_credentials"}'],
    ['text/plain', 'grant_type=client_credentials'],
    [
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\npassword\r\n--x--',
    ],
    ['application/x-www-form-urlencoded-evil', 'grant_type=client_credentials'],
  ])('Content-Type %s is 400 invalid_request (RFC 6749 §3.2: urlencoded only)', async (type, body) => {
    const res = await token().set('Authorization', basic('web', secret)).set('Content-Type', type).send(body);
    expectError(res, 400, 'invalid_request');
  });

  test('a urlencoded body in a charset other than UTF-8 is 415', async () => {
    const res = await token()
      .set('Content-Type', 'application/x-www-form-urlencoded; charset=utf-16')
      .send('grant_type=client_credentials');
    expectError(res, 415, 'unsupported_media_type');
  });

  test.each([
    ['grant_type', 'password'],
    ['client_id', 'web'],
    ['password', 'alice-password'],
    ['scope', 'a'],
  ])(
    'a repeated %s, even with the same value, is 400 invalid_request (parameter pollution, RFC 6749 §3.1)',
    async (name, value) => {
      const good: [string, string][] = [
        ['grant_type', 'password'],
        ['username', 'alice'],
        ['password', 'alice-password'],
        ['scope', 'a'],
        ['client_id', 'web'],
      ];
      const res = await token()
        .type('form')
        .set('Authorization', basic('web', secret))
        .send(form(...good.filter(([other]) => other !== name), [name, value], [name, value]));
      expectError(res, 400, 'invalid_request');
    },
  );

  test.each(['client_secret', 'password', 'refresh_token', 'access_token', 'token', 'assertion'])(
    '%s in the query string is 400 invalid_request, even with a good body (RFC 6749 §2.3.1, §3.2)',
    async (name) => {
      const res = await token()
        .query({ [name]: 'x' })
        .type('form')
        .set('Authorization', basic('web', secret))
        .send(form(['grant_type', 'client_credentials']));
      expectError(res, 400, 'invalid_request');
    },
  );

  test('two client authentication methods at once (Basic and client_secret) are 400 invalid_request (RFC 6749 §2.3)', async () => {
    const res = await token()
      .type('form')
      .set('Authorization', basic('web', secret))
      .send(form(['grant_type', 'client_credentials'], ['client_id', 'web'], ['client_secret', secret]));
    expectError(res, 400, 'invalid_request');
  });

  test.each([
    ['a NUL', 'ali\u0000ce'],
    ['a newline and a forged log line', 'alice\n{"level":30,"msg":"forged"}'],
    ['ANSI escapes', '\u001b[2J\u001b[31malice'],
    ['a lone surrogate', 'alice\ud800'],
    ['right-to-left override', '\u202ealice'],
    ['emoji', '💥'.repeat(200)],
    ['4000 characters', 'a'.repeat(4000)],
  ])('a username with %s is the plain 400 invalid_grant', async (_what, username) => {
    const res = await token()
      .type('form')
      .set('Authorization', basic('web', secret))
      .send(form(['grant_type', 'password'], ['username', username], ['password', 'alice-password']));
    expectError(res, 400, 'invalid_grant');
  });

  test('malformed percent-encoding in the body is a clean 4xx', async () => {
    const res = await token()
      .type('form')
      .set('Authorization', basic('web', secret))
      .send('grant_type=password&username=%E0%A4%A&password=%&%%%');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
  });
});

describe('headers', () => {
  test('a 100 KB Authorization header is refused with 431 by the HTTP server, not parsed', async () => {
    const res = await token()
      .set('Authorization', `Basic ${'A'.repeat(100 * 1024)}`)
      .type('form')
      .send('grant_type=client_credentials');
    expect(res.status).toBe(431);
  });

  test.each([
    ['a Basic credential that is not base64', 'Basic ***'],
    ['Basic without a colon', `Basic ${Buffer.from('web').toString('base64')}`],
    ['Basic with bad percent-encoding', `Basic ${Buffer.from('%E0%A4%A:x').toString('base64')}`],
    ['another scheme', 'Bearer abc'],
  ])('%s is 401 invalid_client', async (_what, authorization) => {
    const res = await token()
      .set('Authorization', authorization)
      .type('form')
      .send('grant_type=client_credentials');
    expectError(res, 401, 'invalid_client');
  });

  test.each([
    ['GET /healthz', () => request(auth.app).get('/healthz'), 200],
    ['an unknown path', () => request(auth.app).get('/nope'), 404],
    ['a wrong method', () => request(auth.app).get('/oauth/token'), 405],
    ['a bad request', () => token().type('form').send('grant_type=password'), 401],
    ['a malformed URI', () => request(auth.app).get('/%E0%A4%A'), 404],
  ])('helmet headers are on every answer: %s', async (_what, send, status) => {
    const res = await send();
    expect(res.status).toBe(status);
    expectHelmet(res);
  });
});

describe('CORS', () => {
  test('off by default: no Access-Control-Allow-Origin for any origin, preflights are not answered', async () => {
    const res = await request(auth.app).get('/.well-known/jwks.json').set('Origin', 'https://evil.example');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await request(auth.app)
      .options('/oauth/token')
      .set('Origin', 'https://evil.example')
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect(preflight.status).toBeGreaterThanOrEqual(400);
  });

  test('with CORS_ORIGINS, only listed origins are allowed, never with credentials', async () => {
    const cors = await createTestAuth({ CORS_ORIGINS: 'https://app.example, http://localhost:5173' });
    const allowed = await request(cors.app)
      .get('/.well-known/jwks.json')
      .set('Origin', 'https://app.example');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(allowed.headers['access-control-allow-credentials']).toBeUndefined();
    expect(allowed.headers.vary).toMatch(/Origin/);

    const preflight = await request(cors.app)
      .options('/oauth/token')
      .set('Origin', 'http://localhost:5173')
      .set('Access-Control-Request-Method', 'POST');
    expect(preflight.status).toBe(204);
    expect(preflight.headers).toMatchObject({
      'access-control-allow-origin': 'http://localhost:5173',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'Authorization, Content-Type',
    });
    expectHelmet(preflight);

    const other = await request(cors.app)
      .get('/.well-known/jwks.json')
      .set('Origin', 'https://app.example.evil');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    expect(other.headers.vary).toMatch(/Origin/);
    await cors.close();
  });

  test.each(['*', 'https://app.example/', 'app.example', 'https://app.example/path'])(
    'CORS_ORIGINS=%s is refused at start-up, naming the variable',
    (value) => {
      expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(ConfigError);
      expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(/^CORS_ORIGINS: /);
    },
  );
});

describe('property: arbitrary input at the token endpoint is never a 5xx and never a token', () => {
  const printable = fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  });
  const anyText = fc.string({ unit: 'binary', maxLength: 64 });
  const name = fc.oneof(
    fc.constantFrom(
      'grant_type',
      'username',
      'password',
      'client_id',
      'client_secret',
      'scope',
      'refresh_token',
    ),
    anyText,
  );
  const value = fc.oneof(
    fc.constantFrom('password', 'client_credentials', 'refresh_token', 'web', 'alice', ''),
    anyText,
  );
  const authorization = fc.option(
    fc.oneof(
      fc.tuple(anyText, anyText).map(([id, pass]) => basic(id, pass)),
      fc.constant(basic('web', 'wrong-secret')),
      // Evaluated per run (the secret exists only after beforeAll): reaches the password check itself.
      fc.constant('pw').map((clientId) => basic(clientId, passwordClientSecret)),
      printable,
    ),
    { nil: undefined },
  );
  const contentType = fc.constantFrom(
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=utf-8',
    'application/json',
    'text/plain',
    'application/octet-stream',
  );

  function expectRefused(res: Response): void {
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.text).not.toContain('access_token');
    expect(res.text).not.toMatch(/\bat .+:\d+:\d+|stack/i);
  }

  test('arbitrary form fields, Authorization headers and content types', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(name, value), { maxLength: 8 }),
        authorization,
        contentType,
        async (pairs, auth_, type) => {
          const req = token().set('Content-Type', type);
          if (auth_ !== undefined) req.set('Authorization', auth_);
          expectRefused(await req.send(form(...pairs)));
        },
      ),
      { numRuns: 150 },
    );
  });

  test('arbitrary raw bytes as the body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), contentType, async (bytes, type) => {
        expectRefused(await token().set('Content-Type', type).send(Buffer.from(bytes)));
      }),
      { numRuns: 100 },
    );
  });
});

describe('property: arbitrary input at the authorization endpoint and the sign-in forms', () => {
  const registered = 'https://app.example/cb';
  beforeAll(async () => {
    await auth.services.clients.create({
      clientId: 'spa',
      grants: 'authorization_code',
      scopes: 'a',
      isPublic: true,
      redirectUris: registered,
      resources: testResource,
    });
  });
  const anyText = fc.string({ unit: 'binary', maxLength: 64 });
  const name = fc.oneof(
    fc.constantFrom(
      'response_type',
      'client_id',
      'redirect_uri',
      'scope',
      'state',
      'code_challenge',
      'code_challenge_method',
      'nonce',
      'prompt',
      'max_age',
      'request',
    ),
    anyText,
  );
  const value = fc.oneof(
    fc.constantFrom(
      'code',
      'spa',
      registered,
      `${registered}/`,
      'https://evil.example/cb',
      'S256',
      'plain',
      'none',
    ),
    anyText,
  );

  /** Never a 5xx; a redirect only ever to the registered URI; never a code without a signed-in user. */
  function expectSafe(res: Response): void {
    expect(res.status).toBeLessThan(500);
    if (res.status >= 300 && res.status < 400) {
      const location = new URL(res.headers.location!);
      expect(location.origin + location.pathname).toBe(registered);
      expect(location.searchParams.get('code')).toBeNull();
      expect(location.searchParams.get('iss')).toBe('http://auth.test');
    } else expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(res.text).not.toMatch(/\bat .+:\d+:\d+|stack/i);
  }

  test('arbitrary query parameters at GET /oauth/authorize', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(name, value), { maxLength: 10 }),
        fc.boolean(),
        async (pairs, withClient) => {
          const all: [string, string][] = withClient
            ? [['client_id', 'spa'], ['redirect_uri', registered], ...pairs]
            : pairs;
          expectSafe(await request(auth.app).get(`/oauth/authorize?${form(...all)}`));
        },
      ),
      { numRuns: 150 },
    );
  });

  test('arbitrary forms at the sign-in and consent endpoints never sign anyone in', async () => {
    const field = fc.oneof(
      fc.constantFrom('csrf_token', 'request', 'username', 'password', 'decision'),
      anyText,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/oauth/authorize/sign-in', '/oauth/authorize/consent'),
        fc.array(fc.tuple(field, fc.oneof(value, fc.constant('alice'), fc.constant('alice-password'))), {
          maxLength: 8,
        }),
        fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
        async (path, pairs, cookie) => {
          const req = request(auth.app).post(path).type('form');
          if (cookie !== undefined) req.set('Cookie', `tessera-csrf=${cookie}`);
          const res = await req.send(form(...pairs));
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(String(res.headers['set-cookie'] ?? '')).not.toMatch(/tessera-session=[A-Za-z0-9]/);
        },
      ),
      { numRuns: 150 },
    );
  });
});

import { createSign, randomUUID, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createFixedClock,
  createJwksKeyProvider,
  createLogger,
  type JwksKeyProvider,
  newKeyPairSync,
} from '@tessera/shared';
import { calculateJwkThumbprint, SignJWT } from 'jose';
import request, { type Response } from 'supertest';
import { createApp } from '../src/app.js';

const issuer = 'http://localhost:4000';
const audience = 'tessera-api';
const jwksUri = 'http://auth.invalid/.well-known/jwks.json'; // never dialled: fetch is injected
const clock = createFixedClock(Date.UTC(2026, 0, 1, 12));
const nowSeconds = () => Math.floor(clock.now() / 1000);

const signing = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
const foreign = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
let kid: string;
let foreignKid: string;

async function thumbprint(publicKey: KeyObject): Promise<string> {
  const { n, e } = publicKey.export({ format: 'jwk' });
  return calculateJwkThumbprint({ kty: 'RSA', n, e });
}

/** A fetch that serves our JWKS (status 200) or fails (500), and counts calls. */
function jwksFetch(answers: () => 'keys' | 'down') {
  const counter = { calls: 0 };
  const fetch = (() => {
    counter.calls += 1;
    if (answers() === 'down') return Promise.resolve(new Response('down', { status: 500 }));
    const jwk = { ...signing.publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
    return Promise.resolve(
      Response.json({ keys: [jwk] }, { headers: { 'cache-control': 'public, max-age=300' } }),
    );
  }) as typeof globalThis.fetch;
  return { fetch, counter };
}

function logSink() {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'test',
    level: 'debug',
    destination: { write: (line: string) => lines.push(line) },
  });
  return { logger, lines };
}

function buildApp(keys: JwksKeyProvider, logger = logSink().logger) {
  return createApp({ config: { issuer, audience }, logger, keys, clock });
}

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: issuer,
    aud: audience,
    sub: 'user-1',
    client_id: 'web-app',
    jti: randomUUID(),
    scope: 'notes:read notes:write',
    iat: nowSeconds(),
    exp: nowSeconds() + 900,
  };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete base[name];
    else base[name] = value;
  }
  return base;
}

/** A token as the auth server issues it, signed by jose with the published key. */
async function token(
  overrides: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  key: KeyObject | Uint8Array = signing.privateKey,
): Promise<string> {
  const protectedHeader: Record<string, unknown> = { alg: 'RS256', typ: 'at+jwt', kid, ...header };
  for (const [name, value] of Object.entries(protectedHeader))
    if (value === undefined) delete protectedHeader[name];
  return new SignJWT(claims(overrides)).setProtectedHeader(protectedHeader as { alg: string }).sign(key);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Hand-built JWS for headers jose refuses to produce (crit, alg none); RS256-signed with node:crypto. */
function rawToken(
  header: Record<string, unknown>,
  payload: Record<string, unknown> | string,
  sign = true,
): string {
  const encodedPayload =
    typeof payload === 'string' ? Buffer.from(payload).toString('base64url') : b64url(payload);
  const input = `${b64url(header)}.${encodedPayload}`;
  if (!sign) return `${input}.`;
  const signature = createSign('RSA-SHA256').update(input).sign(signing.privateKey).toString('base64url');
  return `${input}.${signature}`;
}

function expectInvalidToken(res: Response, description?: string) {
  expect(res.status).toBe(401);
  expect(res.body.error).toBe('invalid_token');
  expect(res.headers['www-authenticate']).toMatch(
    /^Bearer realm="tessera", error="invalid_token", error_description="/,
  );
  if (description !== undefined) {
    expect(res.body.error_description).toBe(description);
    expect(res.headers['www-authenticate']).toContain(`error_description="${description}"`);
  }
}

beforeAll(async () => {
  [kid, foreignKid] = await Promise.all([thumbprint(signing.publicKey), thumbprint(foreign.publicKey)]);
});

describe('resource server with a loaded JWKS', () => {
  let keys: JwksKeyProvider;
  let app: ReturnType<typeof buildApp>;
  let jwksCalls: { calls: number };
  const logs = logSink();
  let jkuServer: { url: string; hits: number; close: () => Promise<void> };

  beforeAll(async () => {
    const { fetch, counter } = jwksFetch(() => 'keys');
    jwksCalls = counter;
    keys = createJwksKeyProvider({ jwksUri, logger: logs.logger, clock, fetch });
    await keys.start();
    app = buildApp(keys, logs.logger);

    // A loopback server a malicious jku/x5u would point at: it must never be contacted.
    const state = { hits: 0 };
    const server = createServer((_req, res) => {
      state.hits += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jkuServer = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
      get hits() {
        return state.hits;
      },
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  });
  afterAll(async () => {
    keys.stop();
    await jkuServer.close();
  });

  describe('GET /api/me', () => {
    it('answers 200 with the verified claims for a valid token', async () => {
      const accessToken = await token({ sub: 'alice' });
      const res = await request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`);

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ sub: 'alice', client_id: 'web-app', iss: issuer, aud: audience });
      expect(res.headers['x-powered-by']).toBeUndefined();
    });

    it('accepts the scheme in any case, typ application/at+jwt in any case, and skew within the tolerance', async () => {
      const accessToken = await token(
        { exp: nowSeconds() - 20, iat: nowSeconds() + 20 },
        { typ: 'Application/AT+JWT' },
      );
      const res = await request(app).get('/api/me').set('Authorization', `bEaReR ${accessToken}`);
      expect(res.status).toBe(200);
    });

    it('answers 401 with a bare Bearer challenge and no error code when no token is sent', async () => {
      const res = await request(app).get('/api/me');
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthorized');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="tessera"');
    });

    it('does not accept a token sent only in the query string (401, no error code)', async () => {
      const res = await request(app)
        .get('/api/me')
        .query({ access_token: await token() });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthorized');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="tessera"');
    });

    it('treats another auth scheme as no bearer token', async () => {
      const res = await request(app).get('/api/me').set('Authorization', 'Basic dXNlcjpwYXNz');
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthorized');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="tessera"');
    });

    it('answers 400 invalid_request with a Bearer challenge (RFC 6750 §3) when the token is sent both in the header and the query', async () => {
      const accessToken = await token();
      const res = await request(app)
        .get('/api/me')
        .query({ access_token: accessToken })
        .set('Authorization', `Bearer ${accessToken}`);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="tessera", error="invalid_request", error_description="the access token must be sent in exactly one way"',
      );
    });

    it.each([['Bearer'], ['Bearer a b'], ['Bearer tok%en'], ['Bearer ey"x']])(
      'answers 400 invalid_request with a Bearer challenge (RFC 6750 §3) for the malformed credentials %j',
      async (authorization) => {
        const res = await request(app).get('/api/me').set('Authorization', authorization);
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_request');
        expect(res.headers['www-authenticate']).toBe(
          'Bearer realm="tessera", error="invalid_request", error_description="malformed Authorization header"',
        );
      },
    );

    // undefined: rejected, but the reason depends on which jsonwebtoken check runs first
    const rejected: Array<[string, () => Promise<string>, string | undefined]> = [
      [
        'a tampered payload',
        async () => {
          const [header, , signature] = (await token({ sub: 'alice' })).split('.');
          return `${header}.${b64url(claims({ sub: 'admin' }))}.${signature}`;
        },
        'signature invalid',
      ],
      [
        'an expired token',
        () => token({ iat: nowSeconds() - 1000, exp: nowSeconds() - 31 }),
        'token expired',
      ],
      ['a token without exp', () => token({ exp: undefined }), 'token has no expiry'],
      ['a token without iat', () => token({ iat: undefined }), 'token has no issue time'],
      [
        'a token issued in the future',
        () => token({ iat: nowSeconds() + 120 }),
        'token issued in the future',
      ],
      ['a token not yet valid (nbf)', () => token({ nbf: nowSeconds() + 120 }), 'token not yet valid'],
      ['a wrong issuer', () => token({ iss: 'http://evil.example' }), 'issuer not accepted'],
      ['a wrong audience', () => token({ aud: 'other-api' }), 'audience not accepted'],
      ['typ JWT (an ID token or other JWT)', () => token({}, { typ: 'JWT' }), 'token type not accepted'],
      ['no typ', () => token({}, { typ: undefined }), 'token type not accepted'],
      [
        'alg none',
        async () => rawToken({ alg: 'none', typ: 'at+jwt', kid }, claims(), false),
        'algorithm not accepted',
      ],
      [
        'alg None',
        async () => rawToken({ alg: 'None', typ: 'at+jwt', kid }, claims(), false),
        'algorithm not accepted',
      ],
      [
        'alg NONE',
        async () => rawToken({ alg: 'NONE', typ: 'at+jwt', kid }, claims(), false),
        'algorithm not accepted',
      ],
      [
        'HS256 keyed with the public key PEM (algorithm confusion)',
        () =>
          token(
            {},
            { alg: 'HS256' },
            new TextEncoder().encode(signing.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
          ),
        'algorithm not accepted',
      ],
      ['an RS256 token with an alg of RS512', () => token({}, { alg: 'RS512' }), 'algorithm not accepted'],
      ['an unknown kid', () => token({}, { kid: foreignKid }, foreign.privateKey), 'unknown key'],
      ['a foreign key under a known kid', () => token({}, {}, foreign.privateKey), 'signature invalid'],
      ['no kid', () => token({}, { kid: undefined }), 'key id missing'],
      [
        'a crit header',
        async () =>
          rawToken(
            { alg: 'RS256', typ: 'at+jwt', kid, crit: ['urn:example:ext'], 'urn:example:ext': 1 },
            claims(),
          ),
        'critical header parameter not understood',
      ],
      [
        'an embedded jwk header',
        () => token({}, { jwk: foreign.publicKey.export({ format: 'jwk' }) }, foreign.privateKey),
        'embedded key references are not accepted',
      ],
      ['an x5c header', () => token({}, { x5c: ['MIIB'] }), 'embedded key references are not accepted'],
      ['an x5t header', () => token({}, { x5t: 'abc' }), 'embedded key references are not accepted'],
      ['a missing sub', () => token({ sub: undefined }), 'token has no subject'],
      ['a missing client_id', () => token({ client_id: undefined }), 'token has no client_id'],
      ['a missing jti', () => token({ jti: undefined }), 'token has no jti'],
      ['a non-string scope', () => token({ scope: ['notes:read'] }), 'token scope malformed'],
      ['a garbage token', async () => 'not-a-jwt', 'token malformed'],
      ['malformed base64 segments', async () => 'eyJ+/+/.e30.c2ln', 'token malformed'],
      [
        'a payload that is not JSON',
        async () => rawToken({ alg: 'RS256', typ: 'at+jwt', kid }, 'not json'),
        undefined,
      ],
    ];

    it.each(rejected)('answers 401 invalid_token for %s', async (_name, makeToken, description) => {
      const res = await request(app)
        .get('/api/me')
        .set('Authorization', `Bearer ${await makeToken()}`);
      expectInvalidToken(res, description);
    });

    it.each(['jku', 'x5u'])('rejects a %s header without fetching it', async (name) => {
      const before = jwksCalls.calls;
      const res = await request(app)
        .get('/api/me')
        .set(
          'Authorization',
          `Bearer ${await token({}, { [name]: jkuServer.url, kid: 'attacker' }, foreign.privateKey)}`,
        );

      expectInvalidToken(res, 'embedded key references are not accepted');
      expect(jkuServer.hits).toBe(0);
      expect(jwksCalls.calls).toBe(before); // not even the configured JWKS was refetched
    });

    it('never writes a token to the logs', async () => {
      const accessToken = await token();
      await request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`);
      await request(app).get('/api/me').query({ access_token: accessToken });
      const signature = accessToken.split('.')[2] as string;
      expect(logs.lines.length).toBeGreaterThan(0);
      expect(logs.lines.some((line) => line.includes(signature))).toBe(false);
    });
  });

  describe('/api/notes', () => {
    it('keeps each subject’s notes apart', async () => {
      const alice = await token({ sub: 'alice' });
      const bob = await token({ sub: 'bob' });

      const created = await request(app)
        .post('/api/notes')
        .set('Authorization', `Bearer ${alice}`)
        .send({ text: 'alice’s note' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({
        id: expect.any(String),
        text: 'alice’s note',
        created_at: new Date(clock.now()).toISOString(),
      });
      await request(app)
        .post('/api/notes')
        .set('Authorization', `Bearer ${bob}`)
        .send({ text: 'bob’s note' })
        .expect(201);

      const aliceNotes = await request(app).get('/api/notes').set('Authorization', `Bearer ${alice}`);
      const bobNotes = await request(app).get('/api/notes').set('Authorization', `Bearer ${bob}`);
      expect(aliceNotes.status).toBe(200);
      expect(aliceNotes.body.notes).toEqual([created.body]);
      expect(bobNotes.body.notes).toEqual([expect.objectContaining({ text: 'bob’s note' })]);
    });

    it('answers 403 insufficient_scope naming the needed scope when notes:write is missing', async () => {
      const readOnly = await token({ sub: 'carol', scope: 'notes:read' });
      const res = await request(app)
        .post('/api/notes')
        .set('Authorization', `Bearer ${readOnly}`)
        .send({ text: 'x' });

      expect(res.status).toBe(403);
      expect(res.body.error).toBe('insufficient_scope');
      expect(res.headers['www-authenticate']).toMatch(
        /^Bearer realm="tessera", error="insufficient_scope", /,
      );
      expect(res.headers['www-authenticate']).toContain('scope="notes:write"');
      const notes = await request(app).get('/api/notes').set('Authorization', `Bearer ${readOnly}`);
      expect(notes.body.notes).toEqual([]);
    });

    it('answers 403 insufficient_scope for a token without any scope claim', async () => {
      const res = await request(app)
        .get('/api/notes')
        .set('Authorization', `Bearer ${await token({ scope: undefined })}`);
      expect(res.status).toBe(403);
      expect(res.body.error).toBe('insufficient_scope');
      expect(res.headers['www-authenticate']).toContain('scope="notes:read"');
    });

    it('answers 413 for a body over 16kb', async () => {
      const res = await request(app)
        .post('/api/notes')
        .set('Authorization', `Bearer ${await token({ sub: 'dave' })}`)
        .send({ text: 'x'.repeat(17 * 1024) });
      expect(res.status).toBe(413);
      expect(res.body.error).toBe('payload_too_large');
      expect(res.headers['www-authenticate']).toBeUndefined();
    });

    it('answers 415 for a body that is not application/json', async () => {
      const res = await request(app)
        .post('/api/notes')
        .set('Authorization', `Bearer ${await token({ sub: 'dave' })}`)
        .set('Content-Type', 'text/plain')
        .send('{"text":"hi"}');
      expect(res.status).toBe(415);
      expect(res.body.error).toBe('unsupported_media_type');
      expect(res.headers['www-authenticate']).toBeUndefined();
    });

    it.each<[string, string]>([
      ['an empty text', '{"text":""}'],
      ['a text over 1000 characters', JSON.stringify({ text: 'x'.repeat(1001) })],
      ['a non-string text', '{"text":42}'],
      ['no text', '{}'],
      ['an array body', '["text"]'],
      ['malformed JSON', '{"text":'],
    ])('answers 400 invalid_request for %s and stores nothing', async (_name, body) => {
      const erin = await token({ sub: 'erin' });
      const res = await request(app)
        .post('/api/notes')
        .set('Authorization', `Bearer ${erin}`)
        .set('Content-Type', 'application/json')
        .send(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
      expect(res.headers['www-authenticate']).toBeUndefined();
      const notes = await request(app).get('/api/notes').set('Authorization', `Bearer ${erin}`);
      expect(notes.body.notes).toEqual([]);
    });

    it('bounds the store per user (409 conflict) and in total (507 insufficient_storage), storing nothing more', async () => {
      const small = createApp({
        config: { issuer, audience },
        logger: logSink().logger,
        keys,
        clock,
        notesLimits: { perUser: 2, total: 3 },
      });
      const post = async (subject: string) =>
        request(small)
          .post('/api/notes')
          .set('Authorization', `Bearer ${await token({ sub: subject })}`)
          .send({ text: `a note of ${subject}` });
      const list = async (subject: string) =>
        (
          await request(small)
            .get('/api/notes')
            .set('Authorization', `Bearer ${await token({ sub: subject })}`)
        ).body.notes as unknown[];

      for (let i = 0; i < 2; i++) expect((await post('alice')).status).toBe(201);
      const full = await post('alice');
      expect(full.status).toBe(409);
      expect(full.body).toEqual({
        error: 'conflict',
        error_description: 'note limit reached: at most 2 notes per user',
      });
      expect(await list('alice')).toHaveLength(2);

      expect((await post('bob')).status).toBe(201);
      for (const subject of ['bob', 'carol']) {
        const res = await post(subject);
        expect(res.status).toBe(507);
        expect(res.body).toEqual({
          error: 'insufficient_storage',
          error_description: 'the notes store is full (3 notes)',
        });
      }
      expect(await list('bob')).toHaveLength(1);
      expect(await list('carol')).toEqual([]);
    });

    it('by default keeps at most 100 notes per user', async () => {
      const frank = await token({ sub: 'frank' });
      const post = () =>
        request(app).post('/api/notes').set('Authorization', `Bearer ${frank}`).send({ text: 'n' });
      for (let i = 0; i < 100; i++) expect((await post()).status).toBe(201);
      expect((await post()).status).toBe(409);
    });

    it('checks the token before reading the body', async () => {
      const res = await request(app).post('/api/notes').set('Content-Type', 'text/plain').send('x');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="tessera"');
    });
  });

  it('answers /healthz and /readyz with 200 once keys are loaded', async () => {
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', jwks: { key_count: 1 } });
  });

  it('answers 404 not_found for an unknown route', async () => {
    const res = await request(app).get('/api/nothing');
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
  });
});

describe('resource server before the JWKS has loaded', () => {
  it('reports /readyz 503 until the first key set arrives, then 200', async () => {
    let answer: 'keys' | 'down' = 'down';
    const { fetch } = jwksFetch(() => answer);
    const keys = createJwksKeyProvider({ jwksUri, logger: logSink().logger, clock, fetch });
    await keys.start();
    const app = buildApp(keys);

    const notReady = await request(app).get('/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body.status).toBe('not ready');

    answer = 'keys';
    await keys.getKey(kid); // what the background retry would do; no timers in tests
    await request(app).get('/readyz').expect(200);
    keys.stop();
  });

  it('answers 503 temporarily_unavailable with Retry-After (not 401) to a valid token while no key was ever loaded', async () => {
    const { fetch } = jwksFetch(() => 'down');
    const keys = createJwksKeyProvider({ jwksUri, logger: logSink().logger, clock, fetch });
    await keys.start();
    const app = buildApp(keys);

    const res = await request(app)
      .get('/api/me')
      .set('Authorization', `Bearer ${await token()}`);

    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(res.headers['retry-after']).toBe('5');
    expect(res.headers['www-authenticate']).toBeUndefined();
    keys.stop();
  });

  it('keeps verifying from the cached set while the auth server is down', async () => {
    let answer: 'keys' | 'down' = 'keys';
    const { fetch, counter } = jwksFetch(() => answer);
    const keys = createJwksKeyProvider({ jwksUri, logger: logSink().logger, clock, fetch });
    await keys.start();
    const app = buildApp(keys);

    answer = 'down';
    await keys.getKey('some-new-kid'); // a refresh that fails
    expect(counter.calls).toBe(2);

    await request(app)
      .get('/api/me')
      .set('Authorization', `Bearer ${await token()}`)
      .expect(200);
    keys.stop();
  });
});

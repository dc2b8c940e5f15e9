import { newKeyPairSync } from '../src/crypto/key-pair.js';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { calculateJwkThumbprint, SignJWT } from 'jose';
import request from 'supertest';
import {
  createFixedClock,
  createJwksKeyProvider,
  createLogger,
  createRevocationFeed,
  type Clock,
  type JwksKeyProvider,
  type Logger,
  toRevocationFeedDocument,
  type RevocationClaim,
  type RevocationFeed,
  type RevocationFeedDocument,
} from '../src/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function logSink(): Logger {
  return createLogger({ name: 'test', level: 'debug', destination: { write: () => undefined } });
}

/** A loopback auth server stand-in (port 0): a JWKS and a revocation feed, each replaceable. */
async function startAuthServer() {
  const feedRequests: IncomingHttpHeaders[] = [];
  const handlers: Record<string, Handler> = {};
  const server = createServer((req, res) => {
    if (req.url === '/oauth/revocations') feedRequests.push(req.headers);
    const handler = handlers[req.url ?? ''];
    if (handler === undefined) res.writeHead(404).end();
    else handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    jwksUri: `${base}/.well-known/jwks.json`,
    feedUri: `${base}/oauth/revocations`,
    feedRequests,
    serveJwks(handler: Handler) {
      handlers['/.well-known/jwks.json'] = handler;
    },
    serveFeed(handler: Handler) {
      handlers['/oauth/revocations'] = handler;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A feed document as the auth server publishes it, from plain claim values → revocation times. */
function feedDocument(
  revoked: Partial<Record<RevocationClaim, Record<string, number>>> = {},
  generatedAt = 1_767_225_600,
  keySet?: string,
): RevocationFeedDocument {
  const entries = Object.entries(revoked).flatMap(([kind, values]) =>
    Object.entries(values).map(([value, revokedAt]) => ({ kind: kind as RevocationClaim, value, revokedAt })),
  );
  return toRevocationFeedDocument(entries, generatedAt, keySet);
}

/** Serves a feed document the way the auth server does: JSON, max-age 5, its ETag, 304 when matched. */
function feed(document: unknown, etag = `"${randomUUID()}"`): Handler {
  return (req, res) => {
    const headers = { 'cache-control': 'public, max-age=5', etag };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers).end();
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(document));
  };
}

describe('createRevocationFeed against a loopback feed', () => {
  let server: Awaited<ReturnType<typeof startAuthServer>>;
  const feeds: RevocationFeed[] = [];
  const revokedAt = 1_767_225_600;

  function revocations(clock: Clock = createFixedClock()) {
    const created = createRevocationFeed({ uri: server.feedUri, logger: logSink(), clock });
    feeds.push(created);
    return created;
  }

  beforeAll(async () => {
    server = await startAuthServer();
  });
  afterEach(() => {
    for (const created of feeds.splice(0)) created.stop();
    server.feedRequests.length = 0;
  });
  afterAll(() => server.close());

  it('refuses a non-positive refresh interval and a relative URL', () => {
    expect(() => createRevocationFeed({ uri: server.feedUri, logger: logSink(), refreshSeconds: 0 })).toThrow(
      TypeError,
    );
    expect(() => createRevocationFeed({ uri: '/oauth/revocations', logger: logSink() })).toThrow(TypeError);
  });

  it('fails closed before the first load: isRevoked answers 503 temporarily_unavailable, and the list is not usable', () => {
    server.serveFeed(feed(feedDocument({ jti: { 'jti-1': revokedAt } })));
    const list = revocations();

    expect(() => list.isRevoked({ jti: 'jti-2', iat: revokedAt })).toThrow(
      expect.objectContaining({ code: 'temporarily_unavailable', message: 'revocation list not loaded yet' }),
    );
    expect(list.status()).toEqual({
      loaded: false,
      usable: false,
      ageSeconds: undefined,
      lastError: undefined,
      entries: 0,
      bytes: 0,
      staleAfterSeconds: 60,
    });
  });

  it('fails closed again once the held list is older than four refresh intervals (at least 30 s), until a poll succeeds', async () => {
    const clock = createFixedClock();
    server.serveFeed(feed(feedDocument({ jti: { 'jti-1': revokedAt } })));
    const list = createRevocationFeed({ uri: server.feedUri, logger: logSink(), clock, refreshSeconds: 10 });
    feeds.push(list);
    await list.start();
    server.serveFeed((_req, res) => void res.writeHead(503).end());

    clock.advance(40_000);
    await list.start();
    expect(list.status()).toMatchObject({ usable: true, ageSeconds: 40, staleAfterSeconds: 40 });
    expect(list.isRevoked({ jti: 'jti-1' })).toBe(true);

    clock.advance(1_000);
    expect(list.status()).toMatchObject({ usable: false, ageSeconds: 41 });
    expect(() => list.isRevoked({ jti: 'jti-2' })).toThrow(
      expect.objectContaining({ code: 'temporarily_unavailable', message: 'revocation list is out of date' }),
    );

    server.serveFeed(feed(feedDocument({ jti: { 'jti-1': revokedAt } })));
    await list.start();
    expect(list.status()).toMatchObject({ usable: true, ageSeconds: 0 });
    expect(list.isRevoked({ jti: 'jti-2' })).toBe(false);
  });

  it('tells onKeySet the key-set version the feed names, once per new version', async () => {
    const versions: string[] = [];
    const list = createRevocationFeed({
      uri: server.feedUri,
      logger: logSink(),
      clock: createFixedClock(),
      onKeySet: (version) => versions.push(version),
    });
    feeds.push(list);
    server.serveFeed(feed(feedDocument({}, revokedAt, '"keys-1"')));
    await list.start();
    server.serveFeed(feed(feedDocument({ jti: { 'jti-1': revokedAt } }, revokedAt, '"keys-1"')));
    await list.start();
    server.serveFeed(feed(feedDocument({ jti: { 'jti-1': revokedAt } }, revokedAt, '"keys-2"')));
    await list.start();

    expect(versions).toEqual(['"keys-1"', '"keys-2"']);
  });

  it('loads a feed of 100,000 revoked tokens (above the old 1 MiB limit)', async () => {
    const jti = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`jti-${i}`, revokedAt]));
    const big = JSON.stringify(feedDocument({ jti }));
    expect(big.length).toBeGreaterThan(1024 * 1024);
    server.serveFeed((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(big));
    const list = revocations();
    await list.start();

    expect(list.status()).toMatchObject({ loaded: true, usable: true, entries: 100_000, bytes: big.length });
    expect(list.isRevoked({ jti: 'jti-4242' })).toBe(true);
    expect(list.isRevoked({ jti: 'jti-100000' })).toBe(false);
  });

  describe('matching, once loaded', () => {
    let list: RevocationFeed;
    beforeAll(async () => {
      server.serveFeed(
        feed(
          feedDocument({
            jti: { 'jti-1': revokedAt },
            sid: { 'family-1': revokedAt },
            sub: { 'user-1': revokedAt },
            client_id: { 'client-1': revokedAt, ['__proto__']: revokedAt },
          }),
        ),
      );
      list = createRevocationFeed({ uri: server.feedUri, logger: logSink(), clock: createFixedClock() });
      await list.start();
    });
    afterAll(() => list.stop());

    it('counts every entry and reports loaded', () => {
      expect(list.status()).toMatchObject({
        loaded: true,
        usable: true,
        ageSeconds: 0,
        lastError: undefined,
        entries: 5,
      });
    });

    it.each<[boolean, string, Record<string, unknown>]>([
      [true, 'its jti is listed', { jti: 'jti-1', sub: 'user-9', iat: revokedAt - 60 }],
      [true, 'its sid (refresh-token family) is listed', { jti: 'x', sid: 'family-1', iat: revokedAt - 60 }],
      [true, 'its sub was revoked after it was issued', { jti: 'x', sub: 'user-1', iat: revokedAt - 60 }],
      [true, 'its sub was revoked the second it was issued', { jti: 'x', sub: 'user-1', iat: revokedAt }],
      [false, 'its sub was revoked before it was issued', { jti: 'x', sub: 'user-1', iat: revokedAt + 1 }],
      [
        true,
        'its client was deleted after it was issued',
        { jti: 'x', client_id: 'client-1', iat: revokedAt - 1 },
      ],
      [
        false,
        'its client was deleted before it was issued',
        { jti: 'x', client_id: 'client-1', iat: revokedAt + 1 },
      ],
      [true, 'it has no iat, and its sub is listed', { jti: 'x', sub: 'user-1' }],
      [
        false,
        'nothing about it is listed',
        { jti: 'jti-2', sid: 'family-2', sub: 'user-2', client_id: 'c', iat: 0 },
      ],
      [false, 'a listed value sits in a claim of another kind', { jti: 'user-1', sub: 'jti-1', iat: 0 }],
      [false, 'a claim is not a string', { jti: ['jti-1'], sub: { id: 'user-1' }, iat: 0 }],
      [true, 'its client id is "__proto__", listed', { jti: 'x', client_id: '__proto__', iat: revokedAt }],
      [
        false,
        'its sub is "constructor" (an Object.prototype name)',
        { jti: 'x', sub: 'constructor', iat: 0 },
      ],
    ])('isRevoked is %p when %s', (expected, _name, claims) => {
      expect(list.isRevoked(claims)).toBe(expected);
    });
  });

  it.each<[string, Handler, string]>([
    [
      'a 500',
      (_req, res) => void res.writeHead(500).end('down'),
      'revocation feed request answered HTTP 500',
    ],
    [
      'a body that is not JSON',
      (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"rev'),
      'revocation feed response is not JSON',
    ],
    [
      'a document without the sub list',
      feed({ generated_at: 1, revoked: { jti: '', sid: '', client_id: {} } }),
      'revocation feed is malformed',
    ],
    [
      'a document with a non-numeric time',
      feed(feedDocument({ sub: { 'user-9': 'yesterday' as unknown as number } })),
      'revocation feed is malformed',
    ],
    [
      'a document whose list is an array',
      feed({ ...feedDocument(), revoked: { ...feedDocument().revoked, sid: ['family-9'] } }),
      'revocation feed is malformed',
    ],
  ])('keeps the last list when a refresh gets %s, and reports it', async (_name, handler, lastError) => {
    const clock = createFixedClock();
    server.serveFeed(feed(feedDocument({ jti: { 'jti-1': revokedAt } })));
    const list = revocations(clock);
    await list.start();

    server.serveFeed(handler);
    clock.advance(20_000);
    await list.start(); // start() fetches now (the feed exposes no refresh())

    expect(list.status()).toMatchObject({
      loaded: true,
      usable: true,
      ageSeconds: 20,
      lastError,
      entries: 1,
    });
    expect(list.isRevoked({ jti: 'jti-1', iat: revokedAt })).toBe(true);
    expect(list.isRevoked({ jti: 'jti-9', iat: 0 })).toBe(false);
  });

  it('revalidates with the ETag: a 304 keeps the list and resets its age; a new document replaces it', async () => {
    const clock = createFixedClock();
    server.serveFeed(feed(feedDocument({ jti: { 'jti-1': revokedAt } }), '"v1"'));
    const list = revocations(clock);
    await list.start();
    clock.advance(20_000);
    expect(list.status().ageSeconds).toBe(20);

    await list.start();

    expect(server.feedRequests.map((headers) => headers['if-none-match'])).toEqual([undefined, '"v1"']);
    expect(list.status()).toMatchObject({ loaded: true, ageSeconds: 0, lastError: undefined, entries: 1 });
    expect(list.isRevoked({ jti: 'jti-1', iat: revokedAt })).toBe(true);

    server.serveFeed(feed(feedDocument({ jti: { 'jti-2': revokedAt } }), '"v2"'));
    await list.start();

    expect(list.isRevoked({ jti: 'jti-1', iat: revokedAt })).toBe(false); // expired from the feed
    expect(list.isRevoked({ jti: 'jti-2', iat: revokedAt })).toBe(true);
  });
});

describe('createRevocationFeed scheduling (fake timers, injected fetch)', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  function countingFetch(status: () => number) {
    const calls = { count: 0 };
    const fetch = (() => {
      calls.count += 1;
      const code = status();
      return Promise.resolve(
        code === 200
          ? Response.json(feedDocument(), { headers: { 'cache-control': 'public, max-age=5' } })
          : new Response('down', { status: code }),
      );
    }) as typeof globalThis.fetch;
    return { fetch, calls };
  }

  it("polls on its own interval, not the feed's max-age", async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { fetch, calls } = countingFetch(() => 200);
    const list = createRevocationFeed({
      uri: 'http://auth.invalid/oauth/revocations',
      logger: logSink(),
      refreshSeconds: 20,
      fetch,
    });
    await list.start();
    expect(calls.count).toBe(1);

    await jest.advanceTimersByTimeAsync(19_999);
    expect(calls.count).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls.count).toBe(2);

    list.stop();
    await jest.advanceTimersByTimeAsync(3_600_000);
    expect(calls.count).toBe(2);
  });

  it('retries after 1 s, 2 s, 4 s ..., capped at the refresh interval', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { fetch, calls } = countingFetch(() => 503);
    const list = createRevocationFeed({
      uri: 'http://auth.invalid/oauth/revocations',
      logger: logSink(),
      refreshSeconds: 5,
      fetch,
    });
    await list.start();

    for (const [delayMs, expected] of [
      [1000, 2],
      [2000, 3],
      [4000, 4],
      [5000, 5], // 8 s capped to 5 s
      [5000, 6],
    ] as const) {
      await jest.advanceTimersByTimeAsync(delayMs - 1);
      expect(calls.count).toBe(expected - 1);
      await jest.advanceTimersByTimeAsync(1);
      expect(calls.count).toBe(expected);
    }
    expect(list.status()).toMatchObject({ loaded: false, entries: 0 });
    list.stop();
  });
});

/** The resource server's app factory, by the slice of its dependencies this test passes. */
type CreateResourceApp = (deps: {
  config: { issuer: string; audience: string };
  logger: Logger;
  keys: JwksKeyProvider;
  revocations?: RevocationFeed;
  clock?: Clock;
}) => Express;

describe('end to end: a resource server refuses a token once the feed lists it', () => {
  const issuer = 'http://auth.test';
  const audience = 'tessera-api';
  const clock = createFixedClock(Date.UTC(2026, 0, 1, 12));
  const nowSeconds = () => Math.floor(clock.now() / 1000);
  const signing = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
  let kid: string;
  let server: Awaited<ReturnType<typeof startAuthServer>>;
  let keys: JwksKeyProvider;
  let list: RevocationFeed;
  let app: Express;
  const logLines: string[] = [];

  async function token(claims: Record<string, unknown> = {}) {
    return new SignJWT({
      iss: issuer,
      aud: audience,
      sub: 'user-1',
      client_id: 'web-app',
      scope: 'notes:read',
      jti: randomUUID(),
      iat: nowSeconds(),
      exp: nowSeconds() + 900,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
      .sign(signing.privateKey);
  }

  const me = (accessToken: string) =>
    request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`);

  beforeAll(async () => {
    const { n, e } = signing.publicKey.export({ format: 'jwk' });
    kid = await calculateJwkThumbprint({ kty: 'RSA', n, e });
    server = await startAuthServer();
    server.serveJwks((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [{ kty: 'RSA', n, e, kid, use: 'sig', alg: 'RS256' }] }));
    });
    server.serveFeed(feed(feedDocument()));
    const logger = createLogger({
      name: 'test',
      level: 'debug',
      destination: { write: (line: string) => void logLines.push(line) },
    });
    keys = createJwksKeyProvider({ jwksUri: server.jwksUri, logger, clock });
    list = createRevocationFeed({ uri: server.feedUri, logger, clock });
    await Promise.all([keys.start(), list.start()]);
    // shared's tsconfig (rootDir ".") cannot include resource-server files, so the app is
    // loaded by a specifier the compiler does not follow, and typed by the slice used here.
    const appModule = '../../resource-server/src/app.js';
    const { createApp } = (await import(appModule)) as { createApp: CreateResourceApp };
    app = createApp({ config: { issuer, audience }, logger, keys, revocations: list, clock });
  });
  afterAll(async () => {
    keys.stop();
    list.stop();
    await server.close();
  });

  it('a valid token is accepted until the feed lists its jti, then refused with 401 invalid_token "token revoked"', async () => {
    const revoked = await token();
    const other = await token();
    expect((await me(revoked)).status).toBe(200);

    const jti = (JSON.parse(Buffer.from(revoked.split('.')[1]!, 'base64url').toString()) as { jti: string })
      .jti;
    server.serveFeed(feed(feedDocument({ jti: { [jti]: nowSeconds() } })));
    expect((await me(revoked)).status).toBe(200); // not yet polled
    await list.start();

    const res = await me(revoked);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token', error_description: 'token revoked' });
    expect(res.headers['www-authenticate']).toBe(
      'Bearer realm="tessera", error="invalid_token", error_description="token revoked"',
    );
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await me(other)).status).toBe(200);
  });

  it('a user revoked by sub: tokens issued until then are refused, later ones accepted', async () => {
    const before = await token({ sub: 'user-2' });
    server.serveFeed(feed(feedDocument({ sub: { 'user-2': nowSeconds() } })));
    await list.start();
    clock.advance(1000);
    const after = await token({ sub: 'user-2' });

    expect((await me(before)).status).toBe(401);
    expect((await me(after)).status).toBe(200);
  });

  it('/readyz reports the feed (loaded, entries, age) and that its last fetch failed, the reason only in the log; the last list keeps applying', async () => {
    const revoked = await token({ sid: 'family-1' });
    server.serveFeed(feed(feedDocument({ sid: { 'family-1': nowSeconds() } })));
    await list.start();

    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.headers['cache-control']).toBe('no-store');
    expect(ready.body).toEqual({
      status: 'ok',
      jwks: { key_count: 1, age_seconds: expect.any(Number) },
      revocations: {
        loaded: true,
        entries: 1,
        age_seconds: 0,
        stale_after_seconds: 60,
        last_fetch_failed: false,
      },
    });

    server.serveFeed((_req, res) => void res.writeHead(502).end());
    clock.advance(40_000);
    const logged = logLines.length;
    await list.start();

    const degraded = await request(app).get('/readyz');
    expect(degraded.status).toBe(200);
    expect(degraded.body.revocations).toEqual({
      loaded: true,
      entries: 1,
      age_seconds: 40,
      stale_after_seconds: 60,
      last_fetch_failed: true,
    });
    const reason = 'revocation feed request answered HTTP 502';
    expect(degraded.text).not.toContain(reason);
    expect(degraded.text).not.toContain(new URL(server.feedUri).host);
    const warnings = logLines.slice(logged).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(warnings).toContainEqual(
      expect.objectContaining({
        uri: server.feedUri,
        err: reason,
        msg: expect.stringContaining('refresh failed'),
      }),
    );
    expect((await me(revoked)).status).toBe(401);
  });
});

describe('a resource server fails closed without a usable revocation list, and learns a new key set from the feed', () => {
  const issuer = 'http://auth.test';
  const audience = 'tessera-api';
  const clock = createFixedClock(Date.UTC(2026, 0, 1, 12));
  const nowSeconds = () => Math.floor(clock.now() / 1000);
  const keyA = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
  const keyB = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
  let server: Awaited<ReturnType<typeof startAuthServer>>;
  let createApp: CreateResourceApp;
  const stops: (() => void)[] = [];

  async function publicJwk(pair: typeof keyA) {
    const { n, e } = pair.publicKey.export({ format: 'jwk' });
    const kid = await calculateJwkThumbprint({ kty: 'RSA', n, e });
    return { kty: 'RSA', n, e, kid, use: 'sig', alg: 'RS256' };
  }
  async function token(pair: typeof keyA, kid?: string) {
    return new SignJWT({
      iss: issuer,
      aud: audience,
      sub: 'user-1',
      client_id: 'web-app',
      jti: randomUUID(),
      iat: nowSeconds(),
      exp: nowSeconds() + 900,
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: kid ?? (await publicJwk(pair)).kid })
      .sign(pair.privateKey);
  }
  function serveKeys(...jwks: object[]) {
    server.serveJwks((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwks }));
    });
  }
  /** A resource app with its own key provider and feed, as main.ts wires them. */
  async function resourceApp(feedUri = server.feedUri) {
    const keys = createJwksKeyProvider({ jwksUri: server.jwksUri, logger: logSink(), clock });
    const list = createRevocationFeed({
      uri: feedUri,
      logger: logSink(),
      clock,
      onKeySet: (version) => keys.keySetChanged(version),
    });
    stops.push(
      () => keys.stop(),
      () => list.stop(),
    );
    await Promise.all([keys.start(), list.start()]);
    return {
      keys,
      list,
      app: createApp({ config: { issuer, audience }, logger: logSink(), keys, revocations: list, clock }),
    };
  }

  beforeAll(async () => {
    server = await startAuthServer();
    serveKeys(await publicJwk(keyA));
    server.serveFeed(feed(feedDocument()));
    const appModule = '../../resource-server/src/app.js';
    ({ createApp } = (await import(appModule)) as { createApp: CreateResourceApp });
  });
  afterAll(async () => {
    for (const stop of stops) stop();
    await server.close();
  });

  it('with the feed unreachable at start: /readyz 503 and a valid token 503 with Retry-After, until the feed loads', async () => {
    const { app, list } = await resourceApp(server.feedUri.replace('/oauth/revocations', '/wrong-path'));
    const valid = await token(keyA);

    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'not ready', reason: 'revocation list not loaded yet' });
    const refused = await request(app).get('/api/me').set('Authorization', `Bearer ${valid}`);
    expect(refused.status).toBe(503);
    expect(refused.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'revocation list not loaded yet',
    });
    expect(refused.headers['retry-after']).toBe('5');
    // An invalid token is still told so.
    expect((await request(app).get('/api/me').set('Authorization', `Bearer ${valid}x`)).status).toBe(401);
    expect(list.status().usable).toBe(false);
  });

  it('once the held list is older than its bound: /readyz 503 and 503 on protected routes; a successful poll restores both', async () => {
    const { app, list } = await resourceApp();
    const valid = await token(keyA);
    expect((await request(app).get('/api/me').set('Authorization', `Bearer ${valid}`)).status).toBe(200);

    server.serveFeed((_req, res) => void res.writeHead(502).end());
    clock.advance(61_000);
    await list.start();
    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ reason: 'revocation list is older than its bound' });
    const refused = await request(app).get('/api/me').set('Authorization', `Bearer ${valid}`);
    expect(refused.status).toBe(503);
    expect(refused.body.error_description).toBe('revocation list is out of date');

    server.serveFeed(feed(feedDocument()));
    await list.start();
    expect((await request(app).get('/readyz')).status).toBe(200);
    expect((await request(app).get('/api/me').set('Authorization', `Bearer ${valid}`)).status).toBe(200);
  });

  it('a key-set version in the feed refetches the JWKS at once, although junk kids spent the unknown-kid budget', async () => {
    serveKeys(await publicJwk(keyA));
    server.serveFeed(feed(feedDocument({}, nowSeconds(), '"keys-A"')));
    const { app, list } = await resourceApp();
    // Junk kids spend the cooldown (and budget) of unknown-kid refetches.
    for (let i = 0; i < 6; i += 1) {
      const junk = await token(keyA, `junk-${i}`);
      expect((await request(app).get('/api/me').set('Authorization', `Bearer ${junk}`)).status).toBe(401);
    }
    // The auth server replaces its key (a compromise): the new key is published...
    serveKeys(await publicJwk(keyB));
    const signedByB = await token(keyB);
    const before = await request(app).get('/api/me').set('Authorization', `Bearer ${signedByB}`);
    expect(before.body).toEqual({ error: 'invalid_token', error_description: 'unknown key' });

    // ...and the next feed announces the new key-set version.
    server.serveFeed(feed(feedDocument({}, nowSeconds(), '"keys-B"')));
    await list.start();
    const after = await request(app).get('/api/me').set('Authorization', `Bearer ${signedByB}`);
    expect(after.status).toBe(200);
    // The old key is gone from the set: its tokens are refused.
    expect(
      (
        await request(app)
          .get('/api/me')
          .set('Authorization', `Bearer ${await token(keyA)}`)
      ).status,
    ).toBe(401);
  });
});

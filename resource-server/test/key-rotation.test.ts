import { randomUUID, type KeyObject } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  createFixedClock,
  createJwksKeyProvider,
  createLogger,
  type JwksKeyProvider,
  newKeyPairSync,
} from '@tessera/shared';
import { SignJWT } from 'jose';
import request from 'supertest';
import { createApp } from '../src/app.js';

/**
 * The verifier's side of key rotation, through the resource server's HTTP routes:
 * a flood of made-up kids, an auth server that goes away, keys that leave the JWKS.
 */

const issuer = 'http://localhost:4000';
const audience = 'tessera-api';
const jwksUri = 'http://auth.invalid/.well-known/jwks.json'; // never dialled: fetch is injected
const logger = createLogger({ name: 'test', level: 'silent' });

function signingKey(kid: string) {
  return { kid, ...newKeyPairSync({ type: 'rsa', modulusLength: 2048 }) };
}
type SigningKey = ReturnType<typeof signingKey>;
const keyA = signingKey('key-a');
const keyB = signingKey('key-b');
const stranger = signingKey('unused');

const toJwk = (key: { kid: string; publicKey: KeyObject }) => ({
  ...key.publicKey.export({ format: 'jwk' }),
  kid: key.kid,
  use: 'sig',
  alg: 'RS256',
});

/** A JWKS endpoint under test control: which keys it publishes, whether it is up, how often it was asked. */
function authServer(published: SigningKey[], cacheControl = 'public, max-age=60') {
  const state = { published, up: true, fetches: 0 };
  const fetch = (() => {
    state.fetches += 1;
    if (!state.up) return Promise.reject(new TypeError('fetch failed'));
    return Promise.resolve(
      Response.json({ keys: state.published.map(toJwk) }, { headers: { 'cache-control': cacheControl } }),
    );
  }) as typeof globalThis.fetch;
  return { state, fetch };
}

const providers: JwksKeyProvider[] = [];
afterEach(() => {
  for (const keys of providers.splice(0)) keys.stop();
});

async function setUp(server: ReturnType<typeof authServer>, options: { staleWindowSeconds?: number } = {}) {
  const clock = createFixedClock(Date.UTC(2026, 0, 1));
  const keys = createJwksKeyProvider({ jwksUri, logger, clock, fetch: server.fetch, ...options });
  providers.push(keys);
  await keys.start();
  const app = createApp({ config: { issuer, audience }, logger, keys, clock });
  const token = (key: SigningKey, kid = key.kid) => {
    const now = Math.floor(clock.now() / 1000);
    return new SignJWT({ client_id: 'web', scope: 'notes:read' })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('alice')
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 86400)
      .sign(key.privateKey);
  };
  const me = async (accessToken: string) =>
    request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`);
  return { clock, keys, app, token, me };
}

describe('a flood of tokens with made-up kids', () => {
  it('costs the auth server a handful of JWKS fetches, however many requests and however long', async () => {
    const server = authServer([keyA]);
    const { clock, token, me } = await setUp(server);
    const fetchesAtStart = server.state.fetches;

    // 300 at the same instant: one shared refetch.
    const burst = await Promise.all(
      Array.from({ length: 300 }, async () => me(await token(stranger, randomUUID()))),
    );
    expect(burst.every((res) => res.status === 401 && res.body.error === 'invalid_token')).toBe(true);
    expect(server.state.fetches - fetchesAtStart).toBe(1);

    // 1200 more, one every 5 s for 100 minutes: the cooldown (30 s) alone would allow 200 fetches,
    // the budget (5 per hour) allows 10 at most.
    const sustained = 1200;
    for (let i = 0; i < sustained; i++) {
      clock.advance(5000);
      const res = await me(await token(stranger, randomUUID()));
      expect(res.status).toBe(401);
    }
    const flood = server.state.fetches - fetchesAtStart;
    expect(flood).toBeLessThanOrEqual(10);
    // Valid tokens were never affected.
    expect((await me(await token(keyA))).status).toBe(200);
    // Measured figure, for the record: N requests → M fetches.
    process.stdout.write(`random-kid flood: ${300 + sustained} requests → ${flood} JWKS fetches\n`);
  }, 120_000);
});

describe('when the auth server goes away', () => {
  it('keeps verifying for max-age + the stale window, then answers 503 with Retry-After and is not ready', async () => {
    const server = authServer([keyA]);
    const { clock, keys, app, token, me } = await setUp(server, { staleWindowSeconds: 120 });
    const valid = await token(keyA);
    server.state.up = false;

    // A refresh fails (an unknown kid forces one): the held set is kept.
    clock.advance(179_000);
    expect((await me(await token(stranger, 'new-kid'))).status).toBe(401);
    expect(keys.status()).toMatchObject({ loaded: true, usable: true, ageSeconds: 179 });
    expect((await me(valid)).status).toBe(200);
    const ready = await request(app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', jwks: { key_count: 1, age_seconds: 179 } });

    // 60 s max-age + 120 s stale window: from here on the held keys are not trusted.
    clock.advance(1000);
    const res = await me(valid);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      error: 'temporarily_unavailable',
      error_description: 'signing keys are out of date',
    });
    expect(res.headers['retry-after']).toBe('5');
    expect(res.headers['www-authenticate']).toBeUndefined();
    const notReady = await request(app).get('/readyz');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ status: 'not ready', jwks: { age_seconds: 180 } });

    // Back again: the next fetch makes the set usable.
    server.state.up = true;
    clock.advance(30_000);
    await keys.getKey('any-kid');
    expect((await me(valid)).status).toBe(200);
  });

  it("the auth server's stale-if-error shortens the configured stale window", async () => {
    const server = authServer([keyA], 'public, max-age=60, stale-if-error=30');
    const { clock, token, me } = await setUp(server, { staleWindowSeconds: 3600 });
    const valid = await token(keyA);
    server.state.up = false;

    clock.advance(89_000);
    expect((await me(valid)).status).toBe(200);
    clock.advance(1000);
    expect((await me(valid)).status).toBe(503);
  });
});

describe('keys that leave the JWKS', () => {
  it('a rotated-in key is learnt, and a key no longer published stops verifying once the set is refetched', async () => {
    const server = authServer([keyA]);
    const { clock, token, me } = await setUp(server);
    const byA = await token(keyA);
    expect((await me(byA)).status).toBe(200);

    // Rotation: B is published (normally ahead of time; here learnt through the unknown-kid refetch).
    server.state.published = [keyA, keyB];
    expect((await me(await token(keyB))).status).toBe(200);
    expect((await me(byA)).status).toBe(200);

    // A is retired or compromised: gone from the JWKS. Until the next refetch it still verifies...
    server.state.published = [keyB];
    expect((await me(byA)).status).toBe(200);
    // ...and from the refetch on it does not.
    clock.advance(30_000);
    expect((await me(await token(stranger, 'force-a-refetch'))).status).toBe(401);
    const res = await me(byA);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('unknown key');
    expect((await me(await token(keyB))).status).toBe(200);
  });
});

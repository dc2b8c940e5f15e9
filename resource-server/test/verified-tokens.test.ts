import { randomUUID, type KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import {
  createErrorHandler,
  createJwksKeyProvider,
  createJwtStrategy,
  createRequireToken,
  createVerifiedTokenCache,
  type AccessTokenClaims,
  type JwksKeyProvider,
  newKeyPairSync,
} from '@tessera/shared';
import express from 'express';
import passport from 'passport';
import request from 'supertest';
import {
  audience,
  clock,
  issuer,
  logger,
  signAccessToken,
  signing,
  signingJwk,
  signingThumbprint,
} from './helpers.js';

let kid: string;

beforeAll(async () => {
  kid = await signingThumbprint();
});

function token(key: KeyObject = signing.privateKey): Promise<string> {
  return signAccessToken(
    kid,
    'user-1',
    { client_id: 'web-app', scope: 'notes:read', jti: randomUUID() },
    key,
  );
}

/** A JWKS that serves the signing key until `published.key` is set to false. */
function jwksFetch() {
  const published = { key: true };
  const fetch = (() => {
    const keys = published.key
      ? [signingJwk(kid)]
      : [
          {
            ...newKeyPairSync({ type: 'rsa', modulusLength: 2048 }).publicKey.export({ format: 'jwk' }),
            kid: 'other',
          },
        ];
    return Promise.resolve(Response.json({ keys }, { headers: { 'cache-control': 'max-age=300' } }));
  }) as typeof globalThis.fetch;
  return { fetch, published };
}

/**
 * A guarded route wired as the resource server wires it, plus counters: `verifications` counts
 * the strategy's key look-ups (each one is a full signature check by passport-jwt).
 */
async function guardedApp(isRevoked?: (claims: AccessTokenClaims) => boolean) {
  const { fetch, published } = jwksFetch();
  const keys = createJwksKeyProvider({ jwksUri: 'http://auth.invalid/jwks', logger, clock, fetch });
  await keys.start();
  const counted = { verifications: 0 };
  const countingKeys: JwksKeyProvider = {
    ...keys,
    status: () => {
      counted.verifications += 1; // the strategy asks once per verification, the cache never
      return keys.status();
    },
  };
  const authenticator = new passport.Passport();
  authenticator.use('jwt', createJwtStrategy({ keys: countingKeys, issuer, audience, clock }));
  const cache = createVerifiedTokenCache({ keys, clock });
  const app = express();
  app.get(
    '/me',
    createRequireToken(authenticator, 'jwt', { cache, ...(isRevoked === undefined ? {} : { isRevoked }) }),
    (req, res) => {
      res.json({ sub: req.user?.id });
    },
  );
  app.use(createErrorHandler({ logger, realm: 'tessera' }));
  return { app, keys, cache, counted, published };
}

/** Waits for the fire-and-forget `remember` after a full verification. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Presents a token twice (verified in full both times; the cache admits it on the second). */
async function warm(app: express.Express, bearer: string): Promise<void> {
  for (let i = 0; i < 2; i++) {
    expect((await request(app).get('/me').set('Authorization', bearer)).status).toBe(200);
    await settle();
  }
}

describe('the verified-token cache behind createRequireToken', () => {
  it('verifies a token on its first two sightings, then answers it from the cache', async () => {
    const { app, counted, cache } = await guardedApp();
    const bearer = `Bearer ${await token()}`;
    expect((await request(app).get('/me').set('Authorization', bearer)).status).toBe(200);
    await settle();
    expect(cache.size).toBe(0);
    expect((await request(app).get('/me').set('Authorization', bearer)).status).toBe(200);
    await settle();
    expect(cache.size).toBe(1);
    const again = await request(app).get('/me').set('Authorization', bearer);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ sub: 'user-1' });
    expect(counted.verifications).toBe(2);
  });

  it('never caches a token the strategy refused', async () => {
    const { app, cache } = await guardedApp();
    const forged = await token(newKeyPairSync({ type: 'rsa', modulusLength: 2048 }).privateKey);
    for (let i = 0; i < 2; i++) {
      const res = await request(app).get('/me').set('Authorization', `Bearer ${forged}`);
      expect(res.status).toBe(401);
      expect(res.body.error_description).toBe('signature invalid');
    }
    expect(cache.size).toBe(0);
  });

  it('refuses a cached token once its key has left the JWKS', async () => {
    const { app, keys, published, cache } = await guardedApp();
    const bearer = `Bearer ${await token()}`;
    await warm(app, bearer);
    expect(cache.size).toBe(1);
    published.key = false;
    await keys.start(); // the next scheduled refresh, now
    const res = await request(app).get('/me').set('Authorization', bearer);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('unknown key');
    expect(cache.size).toBe(0);
  });

  it('runs the revocation check on cache hits too', async () => {
    const revoked = new Set<string>();
    const { app, counted } = await guardedApp((claims) => revoked.has(claims.jti));
    const accessToken = await token();
    const bearer = `Bearer ${accessToken}`;
    await warm(app, bearer);
    expect((await request(app).get('/me').set('Authorization', bearer)).status).toBe(200);
    const payload = JSON.parse(Buffer.from(accessToken.split('.')[1] as string, 'base64url').toString()) as {
      jti: string;
    };
    revoked.add(payload.jti);
    const res = await request(app).get('/me').set('Authorization', bearer);
    expect(res.status).toBe(401);
    expect(res.body.error_description).toBe('token revoked');
    expect(counted.verifications).toBe(2);
  });

  it('verifies in full again once the token expires', async () => {
    const { app, counted, cache } = await guardedApp();
    const bearer = `Bearer ${await token()}`;
    await warm(app, bearer);
    expect(cache.size).toBe(1);
    clock.advance(901 * 1000);
    try {
      const res = await request(app).get('/me').set('Authorization', bearer);
      // Within the strategy's 30 s leeway: accepted, but by a full verification.
      expect(res.status).toBe(200);
      expect(counted.verifications).toBe(3);
    } finally {
      clock.advance(-901 * 1000);
    }
  });
});

import { describe, expect, test } from '@jest/globals';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { createFixedClock, newKeyPairSync } from '@tessera/shared';
import type { KeyManager } from '../src/keys/key-manager.js';
import { createAccessTokenIssuer } from '../src/tokens/access-token.js';

// The issuer builds the JWS itself with crypto.sign; jose must accept what it makes.
const first = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
const second = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
let active = { kid: 'kid-1', privateKey: first.privateKey };
const published = new Map([
  ['kid-1', first.publicKey],
  ['kid-2', second.publicKey],
]);
const keys = {
  signingKey: () => active,
  verificationKey: (kid: string) => published.get(kid),
} as unknown as KeyManager;
const clock = createFixedClock(Date.UTC(2026, 0, 1));
const issuer = createAccessTokenIssuer({
  keys,
  clock,
  issuer: 'https://auth.test',
  ttlSeconds: 900,
});
const verifyOptions = {
  issuer: 'https://auth.test',
  audience: 'tessera-api',
  algorithms: ['RS256'],
  typ: 'at+jwt',
  requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
  currentDate: new Date(clock.now()),
};

describe('access tokens', () => {
  test("jose's jwtVerify accepts them: RS256, typ at+jwt, the kid, every RFC 9068 claim", async () => {
    const { token, expiresIn } = await issuer.issue({
      sub: 'user-1',
      clientId: 'web',
      scope: ['notes:read', 'notes:write'],
      audience: ['tessera-api'],
      sid: 'family-1',
    });
    expect(expiresIn).toBe(900);
    const { payload, protectedHeader } = await jwtVerify(token, first.publicKey, verifyOptions);
    expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'at+jwt', kid: 'kid-1' });
    const iat = Math.floor(clock.now() / 1000);
    expect(payload).toEqual({
      iss: 'https://auth.test',
      sub: 'user-1',
      aud: 'tessera-api',
      iat,
      exp: iat + 900,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      client_id: 'web',
      scope: 'notes:read notes:write',
      sid: 'family-1',
    });
    expect(await issuer.verify(token)).toEqual(payload);
  });

  test('each token has its own jti; no sid claim without a refresh-token family', async () => {
    const a = await issuer.issue({ sub: 'svc', clientId: 'svc', scope: [], audience: ['tessera-api'] });
    const b = await issuer.issue({ sub: 'svc', clientId: 'svc', scope: [], audience: ['tessera-api'] });
    const pa = (await jwtVerify(a.token, first.publicKey, verifyOptions)).payload;
    const pb = (await jwtVerify(b.token, first.publicKey, verifyOptions)).payload;
    expect(pa.jti).not.toBe(pb.jti);
    expect('sid' in pa).toBe(false);
  });

  test('after a rotation the header names the new kid and the new key verifies it', async () => {
    active = { kid: 'kid-2', privateKey: second.privateKey };
    try {
      const { token } = await issuer.issue({
        sub: 'svc',
        clientId: 'svc',
        scope: ['a'],
        audience: ['tessera-api'],
      });
      expect(decodeProtectedHeader(token).kid).toBe('kid-2');
      await expect(jwtVerify(token, second.publicKey, verifyOptions)).resolves.toBeDefined();
      await expect(jwtVerify(token, first.publicKey, verifyOptions)).rejects.toThrow();
      expect(await issuer.verify(token)).toBeDefined();
    } finally {
      active = { kid: 'kid-1', privateKey: first.privateKey };
    }
  });
});

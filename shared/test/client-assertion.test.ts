import { newKeyPairSync } from '../src/crypto/key-pair.js';
import { describe, expect, test } from '@jest/globals';
import { decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { clientAssertion, createFixedClock, jwtBearerClientAssertionType } from '../src/index.js';

const rsa = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });
const ec = newKeyPairSync({ type: 'ec', namedCurve: 'P-256' });
const issuer = 'https://auth.example';

describe('clientAssertion (private_key_jwt, RFC 7523 §2.2)', () => {
  test('builds the form parameters: a JWT for the issuer alone, iss = sub = client id, 60 s, a fresh jti', async () => {
    const clock = createFixedClock(Date.UTC(2026, 0, 1));
    const params = await clientAssertion({
      clientId: 'billing',
      issuer,
      privateKey: rsa.privateKey,
      kid: 'k1',
      clock,
    });
    expect(Object.keys(params)).toEqual(['client_assertion_type', 'client_assertion']);
    expect(params.client_assertion_type).toBe(jwtBearerClientAssertionType);
    expect(decodeProtectedHeader(params.client_assertion)).toEqual({
      alg: 'RS256',
      typ: 'client-authentication+jwt',
      kid: 'k1',
    });
    const { payload } = await jwtVerify(params.client_assertion, rsa.publicKey, {
      algorithms: ['RS256'],
      currentDate: new Date(clock.now()),
    });
    const iat = clock.now() / 1000;
    expect(payload).toEqual({
      iss: 'billing',
      sub: 'billing',
      aud: issuer,
      iat,
      exp: iat + 60,
      jti: expect.any(String),
    });
    const again = await clientAssertion({ clientId: 'billing', issuer, privateKey: rsa.privateKey, clock });
    expect(
      (await jwtVerify(again.client_assertion, rsa.publicKey, { currentDate: new Date(clock.now()) })).payload
        .jti,
    ).not.toBe(payload.jti);
  });

  test('an EC P-256 key signs ES256; a private JWK works too, its kid taken by default', async () => {
    const jwk = { ...(ec.privateKey.export({ format: 'jwk' }) as JWK), kid: 'ec-1' };
    const params = await clientAssertion({ clientId: 'billing', issuer, privateKey: jwk });
    expect(decodeProtectedHeader(params.client_assertion)).toMatchObject({ alg: 'ES256', kid: 'ec-1' });
    await expect(
      jwtVerify(params.client_assertion, ec.publicKey, { audience: issuer }),
    ).resolves.toBeDefined();
  });

  test.each<[string, Parameters<typeof clientAssertion>[0], RegExp]>([
    ['a public key', { clientId: 'c', issuer, privateKey: rsa.publicKey }, /must be a private key/],
    [
      'an alg that does not fit the key',
      { clientId: 'c', issuer, privateKey: rsa.privateKey, alg: 'ES256' },
      /does not fit/,
    ],
    [
      'a P-384 key',
      { clientId: 'c', issuer, privateKey: newKeyPairSync({ type: 'ec', namedCurve: 'P-384' }).privateKey },
      /RS256.*ES256/,
    ],
    [
      'a lifetime over 300 s',
      { clientId: 'c', issuer, privateKey: rsa.privateKey, lifetimeSeconds: 301 },
      /1 to 300/,
    ],
    ['no client id', { clientId: '', issuer, privateKey: rsa.privateKey }, /clientId is required/],
    ['no issuer', { clientId: 'c', issuer: '', privateKey: rsa.privateKey }, /issuer is required/],
  ])('refuses %s with a TypeError saying what to fix', async (_name, options, message) => {
    await expect(clientAssertion(options)).rejects.toThrow(message);
  });
});

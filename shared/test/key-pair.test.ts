import { sign, verify } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { newKeyPair, newKeyPairSync, type KeyPairSpec } from '../src/crypto/key-pair.js';

const specs: KeyPairSpec[] = [
  { type: 'rsa', modulusLength: 2048 },
  { type: 'ec', namedCurve: 'P-256' },
];

describe('new key pairs (imported again from DER, sharing nothing with the generation job)', () => {
  for (const spec of specs) {
    it(`${spec.type}: sync and async pairs sign, verify and export as JWK`, async () => {
      for (const pair of [newKeyPairSync(spec), await newKeyPair(spec)]) {
        expect(pair.privateKey.type).toBe('private');
        expect(pair.publicKey.type).toBe('public');
        expect(pair.publicKey.asymmetricKeyType).toBe(spec.type);
        const data = Buffer.from('tessera');
        const signature = sign('sha256', data, pair.privateKey);
        expect(verify('sha256', data, pair.publicKey, signature)).toBe(true);
        expect(verify('sha256', Buffer.from('other'), pair.publicKey, signature)).toBe(false);
        const jwk = pair.publicKey.export({ format: 'jwk' });
        expect(jwk.kty).toBe(spec.type === 'rsa' ? 'RSA' : 'EC');
        expect(jwk).not.toHaveProperty('d');
        if (spec.type === 'rsa') expect(pair.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
        else expect(jwk.crv).toBe('P-256');
      }
    });
  }
});

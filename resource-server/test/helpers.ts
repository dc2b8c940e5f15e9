import { type KeyObject } from 'node:crypto';
import { createFixedClock, createLogger, type Logger, newKeyPairSync, type KeyPair } from '@tessera/shared';
import { calculateJwkThumbprint, SignJWT } from 'jose';

/**
 * What the resource-server tests share: the issuer and audience the app is configured with, a
 * fixed clock, a silent logger, and an RSA key pair standing in for the auth server's signing
 * key. Each test file gets its own instance of this module, so of the clock and the key.
 */
export const issuer = 'http://localhost:4000';
export const audience = 'tessera-api';
export const clock: ReturnType<typeof createFixedClock> = createFixedClock(Date.UTC(2026, 0, 1, 12));
export const nowSeconds = (): number => Math.floor(clock.now() / 1000);
export const logger: Logger = createLogger({ name: 'test', level: 'silent' });
export const signing: KeyPair = newKeyPairSync({ type: 'rsa', modulusLength: 2048 });

/** The signing key's public half as a JWKS entry under `kid`. */
export function signingJwk(kid: string): Record<string, unknown> {
  return { ...signing.publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
}

/** The signing key's RFC 7638 thumbprint, the kid the auth server would give it. */
export function signingThumbprint(): Promise<string> {
  const { n, e } = signing.publicKey.export({ format: 'jwk' });
  return calculateJwkThumbprint({ kty: 'RSA', n: n!, e: e! });
}

/**
 * An access token as the auth server signs one (RFC 9068: `typ: at+jwt`, RS256, our issuer and
 * audience), issued now and valid for 15 minutes, carrying `claims` besides.
 */
export function signAccessToken(
  kid: string,
  subject: string,
  claims: Record<string, unknown>,
  key: KeyObject = signing.privateKey,
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(subject)
    .setIssuedAt(nowSeconds())
    .setExpirationTime(nowSeconds() + 900)
    .sign(key);
}

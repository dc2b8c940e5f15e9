import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '@tessera/shared';
import type { KeyManager } from '../keys/key-manager.js';
import { formatScope } from './scope.js';

export interface AccessTokenIssuer {
  issue(grant: { sub: string; clientId: string; scope: readonly string[] }): Promise<{
    token: string;
    expiresIn: number;
  }>;
}

/**
 * RFC 9068 JWT access tokens: header `{alg: RS256, typ: at+jwt, kid}`; claims iss, sub,
 * aud, exp, iat, jti, client_id, scope. Signed with the active key's KeyObject.
 */
export function createAccessTokenIssuer(deps: {
  keys: KeyManager;
  clock: Clock;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}): AccessTokenIssuer {
  const { keys, clock, issuer, audience, ttlSeconds } = deps;
  return {
    async issue({ sub, clientId, scope }) {
      const { kid, privateKey } = keys.signingKey();
      const iat = Math.floor(clock.now() / 1000);
      const token = await new SignJWT({ client_id: clientId, scope: formatScope(scope) })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
        .setIssuer(issuer)
        .setSubject(sub)
        .setAudience(audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlSeconds)
        .setJti(randomUUID())
        .sign(privateKey);
      return { token, expiresIn: ttlSeconds };
    },
  };
}

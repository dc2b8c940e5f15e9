import { randomUUID } from 'node:crypto';
import { SignJWT, errors, jwtVerify, type JWTPayload } from 'jose';
import type { Clock } from '@tessera/shared';
import type { KeyManager } from '../keys/key-manager.js';
import { formatScope } from './scope.js';

export interface AccessTokenIssuer {
  /** `sid` ties the token to a refresh-token family, so revoking the family reaches it. */
  issue(grant: { sub: string; clientId: string; scope: readonly string[]; sid?: string }): Promise<{
    token: string;
    expiresIn: number;
  }>;
  /**
   * The claims of one of our own access tokens if it verifies now (signature by a published
   * key, typ, iss, aud, exp); undefined for anything else, expired ones included.
   */
  verify(token: string): Promise<JWTPayload | undefined>;
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
    async issue({ sub, clientId, scope, sid }) {
      const { kid, privateKey } = keys.signingKey();
      const iat = Math.floor(clock.now() / 1000);
      const claims = {
        client_id: clientId,
        scope: formatScope(scope),
        ...(sid === undefined ? {} : { sid }),
      };
      const token = await new SignJWT(claims)
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

    async verify(token) {
      try {
        const { payload } = await jwtVerify(
          token,
          (header) => {
            const key = header.kid === undefined ? undefined : keys.verificationKey(header.kid);
            if (key === undefined) throw new errors.JWKSNoMatchingKey();
            return key;
          },
          {
            issuer,
            audience,
            algorithms: ['RS256'],
            typ: 'at+jwt',
            requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
            currentDate: new Date(clock.now()),
          },
        );
        return payload;
      } catch (error) {
        if (error instanceof errors.JOSEError) return undefined;
        throw error;
      }
    },
  };
}

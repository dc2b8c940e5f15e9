import { SignJWT, type JWTPayload } from 'jose';
import type { Clock } from '@tessera/shared';
import type { KeyManager } from '../keys/key-manager.js';
import { verifyOwnJwt } from '../keys/own-jwt.js';

/** ID tokens live as long as the access tokens they come with at most; they are checked once, at sign-in. */
const idTokenTtlSeconds = 300;

export interface IdTokenIssuer {
  /** OpenID Connect Core §2: an ID token for `aud` = the client. */
  issue(claims: {
    clientId: string;
    sub: string;
    authTime: number;
    nonce: string | null;
    sid: string;
    extra?: Readonly<Record<string, unknown>>;
  }): Promise<string>;
  /**
   * The claims of an ID token we issued (signature by a published key, iss, typ), expired or not:
   * what RP-initiated logout's `id_token_hint` needs. Undefined for anything else.
   */
  verifyHint(token: string): Promise<JWTPayload | undefined>;
}

/**
 * ID tokens are signed with the access tokens' keys (RS256, published in the JWKS) but typed
 * `JWT`, never `at+jwt`: resource servers, which require `at+jwt` (RFC 9068 §4), refuse them.
 */
export function createIdTokenIssuer(deps: { keys: KeyManager; clock: Clock; issuer: string }): IdTokenIssuer {
  const { keys, clock, issuer } = deps;
  return {
    async issue({ clientId, sub, authTime, nonce, sid, extra }) {
      const { kid, privateKey } = keys.signingKey();
      const iat = Math.floor(clock.now() / 1000);
      return new SignJWT({
        ...extra,
        auth_time: Math.floor(authTime / 1000),
        ...(nonce === null ? {} : { nonce }),
        sid,
      })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
        .setIssuer(issuer)
        .setSubject(sub)
        .setAudience(clientId)
        .setIssuedAt(iat)
        .setExpirationTime(iat + idTokenTtlSeconds)
        .sign(privateKey);
    },

    verifyHint(token) {
      return verifyOwnJwt(keys, token, {
        issuer,
        typ: 'JWT',
        requiredClaims: ['sub', 'aud', 'sid'],
        // OpenID Connect RP-Initiated Logout §2: an expired hint is still a hint (exp is not checked).
        clockTolerance: Number.MAX_SAFE_INTEGER,
      });
    },
  };
}

import { randomUUID, sign, type KeyObject } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { Clock } from '@tessera/shared';
import type { KeyManager } from '../keys/key-manager.js';
import { verifyOwnJwt } from '../keys/own-jwt.js';
import { formatScope } from './scope.js';

/** RFC 8693 §4.1: the acting party, and the one it acted for in turn (nested). */
export interface ActorClaim {
  sub: string;
  act?: ActorClaim;
}

export interface AccessTokenIssuer {
  /**
   * `audience` is the resources the token is for (RFC 8707 §2; `aud` is a string when there is
   * one). `sid` ties the token to a refresh-token family, so revoking the family reaches it.
   */
  issue(grant: {
    sub: string;
    clientId: string;
    scope: readonly string[];
    audience: readonly string[];
    sid?: string;
    /** The delegation chain of an exchanged token (RFC 8693 §4.1 `act`). */
    act?: ActorClaim;
    /** The latest `exp` (epoch seconds) it may have: an exchanged token never outlives its subject. */
    notAfter?: number;
  }): Promise<{
    token: string;
    expiresIn: number;
  }>;
  /**
   * The claims of one of our own access tokens if it verifies now (signature by a published
   * key, typ, iss, exp, an `aud`); undefined for anything else, expired ones included. Which
   * audience is the caller's to check: introspection answers only a token's own resources.
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
  ttlSeconds: number;
}): AccessTokenIssuer {
  const { keys, clock, issuer, ttlSeconds } = deps;
  /** The encoded protected header of the last kid signed with (it changes only on rotation). */
  let encodedHeader = { kid: '', value: '' };
  return {
    async issue({ sub, clientId, scope, audience, sid, act, notAfter }) {
      if (audience.length === 0) throw new Error('an access token needs an audience');
      const { kid, privateKey } = keys.signingKey();
      if (encodedHeader.kid !== kid) encodedHeader = { kid, value: encodeHeader(kid) };
      const iat = Math.floor(clock.now() / 1000);
      const exp = Math.min(iat + ttlSeconds, notAfter ?? Number.POSITIVE_INFINITY);
      if (exp <= iat) throw new Error('an access token must expire after it is issued');
      const claims = {
        client_id: clientId,
        scope: formatScope(scope),
        ...(sid === undefined ? {} : { sid }),
        ...(act === undefined ? {} : { act }),
        iss: issuer,
        sub,
        aud: audience.length === 1 ? audience[0] : [...audience],
        iat,
        exp,
        jti: randomUUID(),
      };
      const token = await signJws(`${encodedHeader.value}.${base64url(JSON.stringify(claims))}`, privateKey);
      return { token, expiresIn: exp - iat };
    },

    verify(token) {
      return verifyOwnJwt(keys, token, {
        issuer,
        typ: 'at+jwt',
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id', 'aud'],
        currentDate: new Date(clock.now()),
      });
    },
  };
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

/** RFC 9068 §2.1 header: RS256, `typ: at+jwt`, the signing key's kid. */
function encodeHeader(kid: string): string {
  return base64url(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid }));
}

/**
 * RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3) over the JWS signing input, RFC 7515 §5.1
 * compact serialisation. Node's own `crypto.sign` with the parsed KeyObject: jose's WebCrypto path
 * costs more per token than the signature itself.
 */
function signJws(signingInput: string, privateKey: KeyObject): Promise<string> {
  return new Promise((resolve, reject) => {
    sign('sha256', Buffer.from(signingInput), privateKey, (error, signature) => {
      if (error !== null) reject(error);
      else resolve(`${signingInput}.${signature.toString('base64url')}`);
    });
  });
}

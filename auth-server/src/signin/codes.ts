import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { AppError, type Clock } from '@tessera/shared';
import type { AuditTrail } from '../audit.js';
import { challengePattern } from '../contract.js';
import type { AuthorizationCodeRecord, ClientRecord, Storage } from '../storage/storage.js';
import type { RevocationService } from '../tokens/revocations.js';

/** RFC 6749 §4.1.2 recommends at most 10 minutes; a browser redirect needs seconds. */
export const authorizationCodeTtlSeconds = 60;

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const verifierPattern = /^[A-Za-z0-9._~-]{43,128}$/;
const codePattern = /^[A-Za-z0-9_-]{43}$/;

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** BASE64URL(SHA256(verifier)) equals the challenge (RFC 7636 §4.6), compared in constant time. */
export function verifierMatches(verifier: string, challenge: string): boolean {
  if (!verifierPattern.test(verifier) || !challengePattern.test(challenge)) return false;
  const computed = Buffer.from(digest(verifier).toString('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

export interface AuthorizationCodeService {
  issue(input: {
    client: ClientRecord;
    userId: string;
    redirectUri: string;
    codeChallenge: string;
    scope: readonly string[];
    resources: readonly string[];
    nonce: string | undefined;
    sessionId: string;
    authTime: number;
  }): Promise<string>;
  /**
   * Redeems a code for the client that presents it (RFC 6749 §4.1.3, RFC 7636 §4.6). Anything
   * wrong is `invalid_grant`. A second redemption also revokes what the first one issued
   * (RFC 6749 §4.1.2): the refresh-token family and every access token with its `sid`.
   */
  redeem(input: {
    code: string;
    client: ClientRecord;
    redirectUri: string;
    codeVerifier: string;
  }): Promise<AuthorizationCodeRecord>;
}

/** Codes are 256 random bits; only their SHA-256 digest is stored. */
export function createAuthorizationCodeService(deps: {
  storage: Storage;
  revocations: RevocationService;
  clock: Clock;
  audit: AuditTrail;
}): AuthorizationCodeService {
  const { storage, revocations, clock, audit } = deps;
  const invalid = () => new AppError('invalid_grant', 'authorization code is invalid, expired or used');
  return {
    async issue(input) {
      const code = randomBytes(32).toString('base64url');
      const now = clock.now();
      await storage.authorizationCodes.insert({
        id: digest(code).toString('hex'),
        grantId: randomUUID(),
        clientId: input.client.clientId,
        userId: input.userId,
        redirectUri: input.redirectUri,
        codeChallenge: input.codeChallenge,
        scope: input.scope,
        resources: input.resources,
        nonce: input.nonce ?? null,
        sessionId: input.sessionId,
        authTime: input.authTime,
        createdAt: now,
        expiresAt: now + authorizationCodeTtlSeconds * 1000,
        consumedAt: null,
      });
      return code;
    },

    async redeem({ code, client, redirectUri, codeVerifier }) {
      if (!codePattern.test(code)) throw invalid();
      const now = clock.now();
      const used = await storage.authorizationCodes.consume(
        digest(code).toString('hex'),
        client.clientId,
        now,
      );
      if (used === undefined) throw invalid();
      const { record, first } = used;
      // A code issued to another client is not this client's to use, to burn (the store left it
      // unused) or to have revoked as a replay: code injection.
      if (record.clientId !== client.clientId) throw invalid();
      if (!first) {
        await revocations.revokeFamily(record.grantId, record.clientId);
        audit.record(
          'authorization_code.replayed',
          { client_id: record.clientId, sub: record.userId, grant_id: record.grantId },
          'warn',
        );
        throw invalid();
      }
      if (now >= record.expiresAt) throw invalid();
      if (record.redirectUri !== redirectUri)
        throw new AppError('invalid_grant', 'redirect_uri does not match the authorization request');
      if (!verifierMatches(codeVerifier, record.codeChallenge))
        throw new AppError('invalid_grant', 'code_verifier does not match the code_challenge');
      return record;
    },
  };
}

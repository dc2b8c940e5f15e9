import { createHash } from 'node:crypto';
import {
  isRevokedBy,
  revocationKinds,
  toRevocationIndex,
  type Clock,
  type RevocationFeedDocument,
} from '@tessera/shared';
import type { Storage } from '../storage/storage.js';

/** How long resource servers may cache the feed; they poll it on their own interval anyway. */
export const revocationFeedMaxAgeSeconds = 5;

/** Clock skew allowed between us and resource servers, added to every entry's lifetime. */
const skewSeconds = 60;

export interface RevocationService {
  /** Denies one access token until it expires (RFC 7009 for a JWT: its jti). */
  denyAccessToken(jti: string, expSeconds: number): Promise<void>;
  /** Revokes a refresh-token family and every access token minted from it (its `sid`), in one transaction. */
  revokeFamily(familyId: string): Promise<void>;
  /** Revokes a user's refresh tokens and every access token issued to them until now. */
  revokeUser(userId: string): Promise<void>;
  /** Deletes a client with its refresh tokens, and refuses every access token issued to it until now. */
  deleteClient(clientId: string): Promise<boolean>;
  /** Whether verified access-token claims are revoked (for introspection). */
  isRevoked(claims: Readonly<Record<string, unknown>>): Promise<boolean>;
  /** The feed resource servers poll: a document and its strong ETag. */
  feed(): Promise<{ body: string; etag: string }>;
}

/**
 * Revocation that reaches stateless resource servers: each revocation is stored as an entry
 * that lives as long as the tokens it can match, and published as a feed (see shared's
 * feed-document.ts for how entries match tokens).
 */
export function createRevocationService(deps: {
  storage: Storage;
  clock: Clock;
  accessTokenTtlSeconds: number;
}): RevocationService {
  const { storage, clock, accessTokenTtlSeconds } = deps;
  const nowSeconds = () => Math.floor(clock.now() / 1000);
  // Tokens issued up to now can live at most one access-token lifetime more.
  const untilAllExpired = () => nowSeconds() + accessTokenTtlSeconds + skewSeconds;

  async function document(): Promise<RevocationFeedDocument> {
    const now = nowSeconds();
    const entries = await storage.revocations.listActive(now);
    // Object.fromEntries defines own properties, so a value like "__proto__" stays an entry.
    const revoked = Object.fromEntries(
      revocationKinds.map((kind) => [
        kind,
        Object.fromEntries(
          entries.filter((entry) => entry.kind === kind).map((entry) => [entry.value, entry.revokedAt]),
        ),
      ]),
    ) as RevocationFeedDocument['revoked'];
    return { generated_at: now, revoked };
  }

  return {
    async denyAccessToken(jti, expSeconds) {
      await storage.revocations.upsert({
        kind: 'jti',
        value: jti,
        revokedAt: nowSeconds(),
        expiresAt: expSeconds + skewSeconds,
      });
    },
    async revokeFamily(familyId) {
      await storage.transaction(async (tx) => {
        await tx.refreshTokens.revokeFamily(familyId, clock.now());
        await tx.revocations.upsert({
          kind: 'sid',
          value: familyId,
          revokedAt: nowSeconds(),
          expiresAt: untilAllExpired(),
        });
      });
    },
    async revokeUser(userId) {
      await storage.transaction(async (tx) => {
        await tx.refreshTokens.revokeForUser(userId, clock.now());
        await tx.revocations.upsert({
          kind: 'sub',
          value: userId,
          revokedAt: nowSeconds(),
          expiresAt: untilAllExpired(),
        });
      });
    },
    deleteClient(clientId) {
      return storage.transaction(async (tx) => {
        const deleted = await tx.clients.delete(clientId);
        if (!deleted) return false;
        await tx.refreshTokens.deleteForClient(clientId);
        await tx.revocations.upsert({
          kind: 'client_id',
          value: clientId,
          revokedAt: nowSeconds(),
          expiresAt: untilAllExpired(),
        });
        return true;
      });
    },
    async isRevoked(claims) {
      return isRevokedBy(toRevocationIndex(await document()), claims);
    },
    async feed() {
      const current = await document();
      // The ETag covers the entries, not generated_at, so an unchanged feed answers 304.
      const etag = `"${createHash('sha256').update(JSON.stringify(current.revoked)).digest('base64url')}"`;
      return { body: JSON.stringify(current), etag };
    },
  };
}
